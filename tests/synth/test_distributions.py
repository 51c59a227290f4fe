"""The synthetic population looks like the real thing: shares within the tolerances stated in docs/synth.md
("Targets and tolerances"), measured on the last quarter's clean returns of a run of ordinary councils."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from synth_checker import Checker, parse_date

from ascld.synth.config import SynthConfig
from ascld.synth.reference import load_councils
from ascld.synth.runner import generate

NHS_MISSING = 0.02


@pytest.fixture(scope="module")
def last_rows(tmp_path_factory):
    councils = tuple(c.la_code for c in load_councils() if c.region != "London")[:4]
    config = SynthConfig(
        seed=21,
        councils=councils,
        people_per_council=2500,
        quarters=2,
        workers=2,
        nhs_missing_rate=NHS_MISSING,
        outputs=frozenset({"clean"}),
    )
    out = tmp_path_factory.mktemp("dist")
    generate(config, out)
    end = config.quarter_list[-1].period_end
    rows = []
    for path in sorted((out / "clean").rglob(f"*_{end:%Y%m%d}.csv")):
        rows += Checker().check_bytes(path.read_bytes()).rows
    assert len(rows) > 10_000
    return rows, end


def _people(rows, client_type=None):
    seen = {}
    for r in rows:
        if client_type is None or r["Client_Type"] == client_type:
            seen[(r["LA_Code"], r["LA_Person_Unique_Identifier"])] = r
    return list(seen.values())


def _share(items, test):
    return sum(1 for x in items if test(x)) / len(items)


def test_people_shares(last_rows):
    rows, end = last_rows
    users = _people(rows, "Service user")
    older = _share(users, lambda r: (end - parse_date(r["Date_of_Birth"])).days / 365.25 >= 65)
    assert 0.55 <= older <= 0.75
    assert 0.52 <= _share(users, lambda r: r["Gender"] == "Female") <= 0.65
    assert 0.65 <= _share(users, lambda r: r["Ethnicity"].startswith("White: English")) <= 0.88
    everyone = _people(rows)
    assert 0.08 <= _share(everyone, lambda r: r["Client_Type"] != "Service user") <= 0.30
    missing = _share(everyone, lambda r: not r["NHS_Number"])
    assert 0.3 * NHS_MISSING <= missing <= 2 * NHS_MISSING


def test_reablement_lasts_about_six_weeks(last_rows):
    rows, _ = last_rows
    stmax = [r for r in rows if r["Service_Type"] == "Short term support: ST-Max" and r["Event_End_Date"]]
    days = [(parse_date(r["Event_End_Date"]) - parse_date(r["Event_Start_Date"])).days for r in stmax]
    assert 33 <= statistics.median(days) <= 49
    assert 0.45 <= _share(stmax, lambda r: r["Event_Outcome"] == "NFA: Support ended as planned") <= 0.70


def test_long_term_support_settings_and_direct_payments(last_rows):
    rows, _ = last_rows
    open_lts = [
        r for r in rows if r["Service_Type"].startswith("Long term support") and not r["Event_End_Date"]
    ]
    people = {(r["LA_Code"], r["LA_Person_Unique_Identifier"]): r["Service_Type"] for r in open_lts}
    community = _share(list(people.values()), lambda t: t == "Long term support: Community")
    assert 0.50 <= community <= 0.80
    comm = [r for r in open_lts if r["Service_Type"] == "Long term support: Community"]
    dp = _share(comm, lambda r: "Direct payment" in (r["Delivery_Mechanism"], r["Service_Component"]))
    assert 0.15 <= dp <= 0.40
    sds = _share(
        comm,
        lambda r: (
            r["Delivery_Mechanism"] in ("Direct payment", "CASSR managed personal budget")
            or r["Service_Component"] == "Direct payment"
        ),
    )
    assert 0.80 <= sds <= 0.97


def test_dates_are_plausible(last_rows):
    rows, end = last_rows
    births = [parse_date(r["Date_of_Birth"]) for r in _people(rows)]
    assert min(births) > dt.date(1915, 1, 1) and max(births) < end
