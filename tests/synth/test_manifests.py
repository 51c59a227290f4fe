"""The submission manifest, the defect manifest and the recorded behaviours describe the files exactly."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict

from synth_checker import Checker, read_csv

from ascld.synth.behaviour import RELEASE2_FROM
from ascld.synth.reference import load_councils, load_reference
from ascld.synth.world import council_behaviour

SUBMISSION_COLUMNS = [
    "file",
    "la_code",
    "la_name",
    "reporting_period_start",
    "reporting_period_end",
    "import_date",
    "import_id",
    "sha256",
]


def test_submissions_list_every_returned_file_once(synth_run):
    rows = read_csv(synth_run / "submissions.csv")
    assert list(rows[0]) == SUBMISSION_COLUMNS
    files = sorted(p.relative_to(synth_run).as_posix() for p in (synth_run / "returns").rglob("*.csv"))
    assert sorted(r["file"] for r in rows) == files
    assert len({r["import_id"] for r in rows}) == len(rows)
    names = {c.la_code: c.la_name for c in load_councils()}
    for r in rows:
        data = (synth_run / r["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        assert r["la_name"] == names[r["la_code"]]
        end = dt.date.fromisoformat(r["reporting_period_end"])
        imported = dt.datetime.fromisoformat(r["import_date"])
        assert imported.date() > end
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", r["import_date"])
        first = data.split(b"\r\n")[1].decode("cp1252").split(",")
        assert first[0] == r["la_code"]
        assert first[1:3] == [
            f"{dt.date.fromisoformat(r[k]):%d/%m/%Y}"
            for k in ("reporting_period_start", "reporting_period_end")
        ]


def test_defect_details_never_carry_identifying_values(synth_run):
    names = set()
    for kind, (values, _, variants) in load_reference().names.items():
        del kind
        names |= {v.casefold() for v in values} | {v.casefold() for v in variants if v}
    postcode = re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}")
    for d in read_csv(synth_run / "defects.csv"):
        detail = d["detail"]
        assert not re.search(r"\d{5,}", detail.replace("row ", "")), detail
        assert not postcode.search(detail), detail
        assert not re.search(r"\d\d/\d\d/\d{4}", detail), detail
        assert not {w.casefold().strip(",.()") for w in detail.split()} & names, detail


def _stated(rows, la):
    return sorted(
        (r["reporting_period_start"], r["reporting_period_end"], r["file"])
        for r in rows
        if r["la_code"] == la
    )


def test_behaviours_show_in_the_files(synth_run, synth_config):
    subs = read_csv(synth_run / "submissions.csv")
    behaviours = defaultdict(set)
    for b in read_csv(synth_run / "behaviours.csv"):
        behaviours[b["la_code"]].add(b["behaviour"].split(":")[0])
    defects = read_csv(synth_run / "defects.csv")
    seen = set()
    for council in load_councils():
        if council.la_code not in synth_config.councils:
            continue
        b = council_behaviour(synth_config, council)
        la = council.la_code
        if b.fy_reset:
            seen.add("fy")
            assert "financial_year_reset" in behaviours[la]
            for start, end, _ in _stated(subs, la):
                s, e = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
                assert (s.month, s.day) == (4, 1) and s <= e and (e - s).days < 366
        if b.long_stated:
            seen.add("long")
            for start, end, _ in _stated(subs, la):
                s, e = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
                assert 450 < (e - s).days < 470  # 15 months stated for 12 months of data
        if b.release1_field:
            seen.add("r1")
            r1 = [
                d
                for d in defects
                if d["file"].startswith(f"returns/{la}/") and d["detail"].startswith("behaviour")
            ]
            assert r1 and {d["field"] for d in r1} == {b.release1_field}
            imported = {s["file"]: dt.datetime.fromisoformat(s["import_date"]).date() for s in subs}
            assert all(imported[d["file"]] >= RELEASE2_FROM for d in r1)
        if b.topup:
            seen.add("topup")
        for s in subs:
            if s["la_code"] == la and "_topup" in s["file"]:
                rows = Checker().check_bytes((synth_run / s["file"]).read_bytes()).rows
                types = {r["Event_Type"] for r in rows} - {""}  # known-by-association rows have no event
                assert types in ({"Service"}, {"Request", "Assessment", "Review"})
                seen.add("topup-file")
    assert {"fy", "long", "r1", "topup"} <= seen
    assert any("resubmission" in v for v in behaviours.values())


def test_stale_open_services_stay_open_after_their_true_end(synth_run, synth_config):
    import pyarrow.parquet as pq

    stale_councils = [
        c
        for c in load_councils()
        if c.la_code in synth_config.councils and council_behaviour(synth_config, c).stale_open
    ]
    assert stale_councils
    la = stale_councils[0].la_code
    events = pq.read_table(synth_run / "truth" / "events" / f"{la}.parquet").to_pylist()
    stale = {
        e["event_reference"]: e
        for e in events
        if e["table"] == "service_line" and e["end_date"] is not None and e["recorded_end_date"] is None
    }
    assert stale
    last = sorted((synth_run / "clean" / la).glob("*.csv"))[-1]
    rows = Checker().check_bytes(last.read_bytes()).rows
    open_refs = {
        r["Event_Reference"] for r in rows if r["Event_Type"] == "Service" and not r["Event_End_Date"]
    }
    assert open_refs & set(stale)
