"""The bundled synthetic councils and postcode lookup: shapes, codes, and reproducibility from the script."""

from __future__ import annotations

import csv
import importlib.util
import io
import random
import re
from collections import Counter
from pathlib import Path

from ascld.identity.postcode import check_postcode, postcode_sector
from ascld.synth.reference import DATA, POSTCODE_LOOKUP, load_councils

ROOT = Path(__file__).resolve().parents[2]
LOOKUP_COLUMNS = [
    "pcd7",
    "pcd8",
    "pcds",
    "dointr",
    "doterm",
    "oslaua",
    "osward",
    "pcon",
    "lsoa11",
    "msoa11",
    "lsoa21",
    "msoa21",
    "sicbl",
    "ctry",
    "rgn",
]


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_postcode_lookup", ROOT / "scripts" / "make_postcode_lookup.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_councils_look_like_the_english_councils():
    rows = _rows(DATA / "councils.csv")
    assert list(rows[0]) == [
        "la_code",
        "la_name",
        "ons_code",
        "region",
        "population_18_64",
        "population_65_plus",
    ]
    assert len(rows) == 153 == len(load_councils())
    assert len({r["la_code"] for r in rows}) == 153 and all(
        re.fullmatch(r"\d{3}", r["la_code"]) for r in rows
    )
    assert Counter(r["ons_code"][:3] for r in rows) == {"E06": 63, "E08": 36, "E09": 33, "E10": 21}
    assert all(re.fullmatch(r"E(06|08|09|10)\d{6}", r["ons_code"]) for r in rows)
    assert {r["region"] for r in rows if r["ons_code"].startswith("E09")} == {"London"}
    adults = sum(int(r["population_18_64"]) for r in rows)
    older = sum(int(r["population_65_plus"]) for r in rows)
    assert 30e6 < adults < 45e6 and 8e6 < older < 14e6  # England: about 35m and 11m
    real = _script().REAL_NAMES
    assert not {r["la_name"].removesuffix(" County Council").lower() for r in rows} & real


def test_postcode_lookup_is_onspd_shaped_and_synthetic():
    rows = _rows(POSTCODE_LOOKUP)
    assert list(rows[0]) == LOOKUP_COLUMNS
    assert 3000 <= len(rows) <= 10_000
    real_areas = _script().REAL_AREAS
    ons_codes = {c.ons_code for c in load_councils()}
    for r in rows:
        assert check_postcode(r["pcds"]).problem is None and postcode_sector(r["pcds"])
        outward, inward = r["pcds"].split(" ")
        assert re.match(r"[A-Z]{2}", outward).group(0) not in real_areas
        assert len(r["pcd7"]) == 7 and r["pcd7"].replace(" ", "") == outward + inward
        assert r["pcd8"] == outward.ljust(4) + " " + inward
        assert r["oslaua"] in ons_codes
        for col, prefix in (
            ("lsoa11", "E01"),
            ("lsoa21", "E01"),
            ("msoa11", "E02"),
            ("msoa21", "E02"),
            ("osward", "E05"),
            ("pcon", "E14"),
            ("sicbl", "E38"),
            ("rgn", "E12"),
        ):
            assert re.fullmatch(prefix + r"\d{6}", r[col]), (col, r[col])
        assert r["ctry"] == "E92000001"
    live = Counter(r["oslaua"] for r in rows if not r["doterm"])
    assert set(live) == ons_codes and min(live.values()) >= 8


def test_the_script_reproduces_the_bundled_files():
    script = _script()
    rng = random.Random(20240401)
    councils = script.make_councils(rng)
    lookup = script.make_lookup(rng, councils)
    for rows, path in ((councils, DATA / "councils.csv"), (lookup, POSTCODE_LOOKUP)):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        assert out.getvalue() == path.read_text(encoding="utf-8")
