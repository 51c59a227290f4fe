"""Part A of the worked scenarios (shared/methodology/scenarios.md, MT-1 ... MT-8) as tests.

Expected values are the scenarios' hand-worked results (and, where a scenario leaves a number implicit, a hand
calculation written out beside the assertion), never output of the code under test.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from ascld.methodology import load_main_tables_method
from ascld.national.main_tables import BuildParams, read_store
from ascld.national.main_tables.derive import add_ages, add_person_ids
from ascld.national.main_tables.filter import drop_reasons, filter_events_in_period
from ascld.national.main_tables.periods import derive_reporting_periods
from ascld.national.main_tables.schema import conform_store
from ascld.national.main_tables.select import choose_submissions, collapse_choices, reference_periods
from conftest import D, T, covering_rows, month_starts, submission, write_store

METHOD = load_main_tables_method()
TYPES4 = ("Request", "Assessment", "Service", "Review")


def store_table(duck, tmp_path, records):
    path = write_store(tmp_path / "store", records)
    return conform_store(read_store(duck, path, "duckdb"))


def rows_ending_in(month: dt.date, n: int, types: tuple[str, ...]) -> list[dict]:
    """n rows ending in `month`, cycling through `types` (so all of them appear when n >= len(types))."""
    return [
        {
            "Event_Type": types[i % len(types)],
            "Event_Start_Date": month,
            "Event_End_Date": month.replace(day=15),
            "LA_Person_Unique_Identifier": f"P{i}",
        }
        for i in range(n)
    ]


def derived_period(duck, tmp_path, rows, imported, stated=(None, None)):
    records = submission(rows, imported=imported, file_id="F", start=stated[0], end=stated[1])
    result = duck.execute(derive_reporting_periods(store_table(duck, tmp_path, records), METHOD)).iloc[0]
    return result


# ---- MT-1 / MT-2: derived reporting periods


def mt1_rows() -> list[dict]:
    rows = rows_ending_in(D(2024, 7, 1), 15, TYPES4)
    for m in month_starts(D(2024, 8, 1), D(2025, 5, 1)):
        rows += rows_ending_in(m, 90, TYPES4)
    rows += rows_ending_in(D(2025, 6, 1), 85, ("Request", "Assessment"))
    rows += rows_ending_in(D(2025, 7, 1), 40, TYPES4)  # the import month: ignored
    rows += [
        {"Event_Type": "Service", "Event_Start_Date": D(2024, 9, 1), "LA_Person_Unique_Identifier": "S"}
    ] * 300
    return rows


def test_derived_period_excludes_small_and_narrow_months_mt1(duck, tmp_path):
    r = derived_period(duck, tmp_path, mt1_rows(), T(2025, 7, 20, 10, 15))
    assert (r.n_Eligible_Events, r.Max_Event_Types) == (1000, 4)
    assert r.Der_Reporting_Period_Start_Date.date() == D(2024, 8, 1)
    assert r.Der_Reporting_Period_End_Date.date() == D(2025, 5, 31)


def test_derived_period_is_not_split_by_excluded_months_mt1b(duck, tmp_path):
    rows = mt1_rows() + rows_ending_in(D(2023, 12, 1), 25, ("Request", "Assessment", "Review"))
    r = derived_period(duck, tmp_path, rows, T(2025, 7, 20, 10, 15))
    assert r.n_Eligible_Events == 1025
    assert r.Der_Reporting_Period_Start_Date.date() == D(2023, 12, 1)
    assert r.Der_Reporting_Period_End_Date.date() == D(2025, 5, 31)


def test_derived_period_of_small_file_uses_every_month_mt2(duck, tmp_path):
    rows = []
    for m in (D(2025, 1, 1), D(2025, 2, 1), D(2025, 3, 1)):
        rows += rows_ending_in(m, 20, ("Request",))
    r = derived_period(duck, tmp_path, rows, T(2025, 4, 28), stated=(D(2024, 4, 1), D(2025, 3, 31)))
    assert r.n_Eligible_Events == 60
    assert (r.Der_Reporting_Period_Start_Date.date(), r.Der_Reporting_Period_End_Date.date()) == (
        D(2025, 1, 1),
        D(2025, 3, 31),
    )
    # The stated period stays available (the DHSC documentation would use it for files under 100 events).
    assert (r.Reporting_Period_Start_Date.date(), r.Reporting_Period_End_Date.date()) == (
        D(2024, 4, 1),
        D(2025, 3, 31),
    )


def test_derived_period_includes_month_with_exactly_two_percent(duck, tmp_path):
    # 20 + 10 x 90 + 80 = 1000 events; 100 * 20 / 1000 = 2.0 >= 2 -> 2024-07 included.
    rows = rows_ending_in(D(2024, 7, 1), 20, TYPES4)
    for m in month_starts(D(2024, 8, 1), D(2025, 5, 1)):
        rows += rows_ending_in(m, 90, TYPES4)
    rows += rows_ending_in(D(2025, 6, 1), 80, ("Request", "Assessment"))
    r = derived_period(duck, tmp_path, rows, T(2025, 7, 20, 10, 15))
    assert r.Der_Reporting_Period_Start_Date.date() == D(2024, 7, 1)


def test_type_rule_uses_max_monthly_types_not_file_types(duck, tmp_path):
    # Months alternate two different pairs of types: 4 types in the file, but T = 2, so every month
    # (2 >= 2 - 1 types, 12 of 120 events = 10 %) is included.
    rows = []
    for i, m in enumerate(month_starts(D(2024, 4, 1), D(2025, 1, 1))):
        rows += rows_ending_in(m, 12, ("Request", "Assessment") if i % 2 else ("Service", "Review"))
    r = derived_period(duck, tmp_path, rows, T(2025, 3, 1))
    assert r.Max_Event_Types == 2
    assert (r.Der_Reporting_Period_Start_Date.date(), r.Der_Reporting_Period_End_Date.date()) == (
        D(2024, 4, 1),
        D(2025, 1, 31),
    )


def test_file_with_no_eligible_rows_has_no_derived_period(duck, tmp_path):
    rows = [{"Event_Type": "Service", "Event_Start_Date": D(2024, 1, 1), "LA_Person_Unique_Identifier": "P"}]
    r = derived_period(duck, tmp_path, rows, T(2025, 3, 1))
    assert r.Der_Reporting_Period_Start_Date is None or str(r.Der_Reporting_Period_Start_Date) == "NaT"


# ---- MT-3: submission selection

MT3_FILES = {
    "F1": (T(2025, 4, 20, 9), D(2024, 4, 1), D(2025, 3, 31)),
    "F2": (T(2025, 7, 18, 10), D(2024, 7, 1), D(2025, 6, 30)),
    "F3": (T(2025, 8, 2, 14), D(2024, 7, 1), D(2025, 6, 30)),
    "F4": (T(2025, 10, 25, 11), D(2024, 10, 1), D(2025, 9, 30)),
}


def mt3_periods():
    names = list(MT3_FILES)
    return ibis.memtable(
        pa.table(
            {
                "LA_Code": pa.array(["318"] * 4),
                "LA_Name": pa.array(["X"] * 4),
                "ImportDate": pa.array([MT3_FILES[f][0] for f in names], pa.timestamp("ms")),
                "ImportFileId": pa.array(names),
                "Der_Reporting_Period_Start_Date": pa.array([MT3_FILES[f][1] for f in names], pa.date32()),
                "Der_Reporting_Period_End_Date": pa.array([MT3_FILES[f][2] for f in names], pa.date32()),
                "Reporting_Period_Start_Date": pa.array([None] * 4, pa.date32()),
                "Reporting_Period_End_Date": pa.array([None] * 4, pa.date32()),
            }
        )
    )


def chosen(duck, mode, start, end, as_of, collapse=True):
    refs = reference_periods(mode, start, end, 3)
    choices = choose_submissions(mt3_periods(), refs, as_of, "derived", METHOD.excluded_imports)
    table = collapse_choices(choices) if collapse else choices
    frame = duck.execute(table)
    file_of = {v[0]: k for k, v in MT3_FILES.items()}
    return sorted(
        (file_of[r.ImportDate.to_pydatetime()], r.Ref_Period_Start_Date.date(), r.Ref_Period_End_Date.date())
        for r in frame.itertuples()
    )


def test_single_selection_takes_latest_qualifying_file_mt3a(duck):
    assert chosen(duck, "single", D(2024, 7, 1), D(2025, 6, 30), D(2025, 8, 12)) == [
        ("F3", D(2024, 7, 1), D(2025, 6, 30))
    ]


def test_joined_selection_per_quarter_mt3b(duck):
    assert chosen(duck, "joined", D(2024, 4, 1), D(2025, 9, 30), D(2025, 11, 5), collapse=False) == sorted(
        [
            ("F1", D(2024, 4, 1), D(2024, 6, 30)),
            ("F3", D(2024, 7, 1), D(2024, 9, 30)),
            ("F4", D(2024, 10, 1), D(2024, 12, 31)),
            ("F4", D(2025, 1, 1), D(2025, 3, 31)),
            ("F4", D(2025, 4, 1), D(2025, 6, 30)),
            ("F4", D(2025, 7, 1), D(2025, 9, 30)),
        ]
    )


def test_joined_selection_collapses_to_file_periods_mt3b(duck):
    assert chosen(duck, "joined", D(2024, 4, 1), D(2025, 9, 30), D(2025, 11, 5)) == [
        ("F1", D(2024, 4, 1), D(2024, 6, 30)),
        ("F3", D(2024, 7, 1), D(2024, 9, 30)),
        ("F4", D(2024, 10, 1), D(2025, 9, 30)),
    ]


def test_joined_selection_before_last_file_loaded_mt3c(duck):
    assert chosen(duck, "joined", D(2024, 4, 1), D(2025, 9, 30), D(2025, 10, 20)) == [
        ("F1", D(2024, 4, 1), D(2024, 6, 30)),
        ("F3", D(2024, 7, 1), D(2025, 6, 30)),
    ]


def mt3_raw_files() -> list[dict]:
    records = []
    for fid, (imported, start, end) in MT3_FILES.items():
        records += submission(covering_rows(start, end, person=fid), imported=imported, file_id=fid)
    return records


def test_quarter_without_file_is_a_warning_mt3c(build):
    _, result = build(mt3_raw_files(), "joined", D(2024, 4, 1), D(2025, 9, 30), D(2025, 10, 20))
    assert result.warnings == ["no qualifying file for 2025-07-01..2025-09-30: X"]
    assert [
        (s["ImportFileId"], s["Ref_Period_Start_Date"], s["Ref_Period_End_Date"]) for s in result.selected
    ] == [("F1", "2024-04-01", "2024-06-30"), ("F3", "2024-07-01", "2025-06-30")]


# ---- MT-4: event filtering and date-of-death correction

MT4 = {
    "E1": ("Request", D(2025, 3, 20), D(2025, 4, 2), None),
    "E2": ("Assessment", D(2024, 3, 25), D(2024, 4, 5), None),
    "E3": ("Service", D(2024, 1, 1), None, D(2024, 9, 10)),
    "E4": ("Service", D(2023, 6, 1), D(2024, 6, 30), D(2024, 2, 1)),
    "E5": ("Review", D(2024, 5, 1), None, None),
    "E6": ("Service", D(2024, 6, 1), None, D(2024, 6, 1)),
    "E7": ("Request", D(2024, 5, 1), D(2024, 5, 10), D(2024, 5, 8)),
}


def mt4_rows(duck, tmp_path):
    rows = [
        {
            "Event_Type": t,
            "Event_Start_Date": s,
            "Event_End_Date": e,
            "Date_of_Death": dod,
            "LA_Person_Unique_Identifier": name,
        }
        for name, (t, s, e, dod) in MT4.items()
    ]
    table = store_table(duck, tmp_path, submission(rows, imported=T(2025, 5, 1), file_id="F"))
    return table.mutate(
        Ref_Period_Start_Date=ibis.date(2024, 4, 1), Ref_Period_End_Date=ibis.date(2025, 3, 31)
    )


def test_period_filter_and_death_correction_mt4(duck, tmp_path):
    kept = duck.execute(filter_events_in_period(mt4_rows(duck, tmp_path), METHOD))
    got = {
        r.LA_Person_Unique_Identifier: (
            None
            if r.Der_Event_End_Date is None or str(r.Der_Event_End_Date) == "NaT"
            else r.Der_Event_End_Date.date(),
            None
            if r.Event_End_Date_Raw is None or str(r.Event_End_Date_Raw) == "NaT"
            else r.Event_End_Date_Raw.date(),
        )
        for r in kept.itertuples()
    }
    assert got == {
        "E2": (D(2024, 4, 5), D(2024, 4, 5)),
        "E3": (D(2024, 9, 10), None),
        "E6": (None, None),
        "E7": (D(2024, 5, 8), D(2024, 5, 10)),
    }
    assert "Event_End_Date" not in kept.columns


def test_period_filter_reasons_mt4(duck, tmp_path):
    reasons = duck.execute(drop_reasons(mt4_rows(duck, tmp_path), METHOD))
    assert dict(zip(reasons.reason, reasons.rows, strict=True)) == {
        "ends_outside_period": 1,  # E1
        "service_ended_before": 1,  # E4 (corrected end 2024-02-01)
        "non_service_open": 1,  # E5
    }


def test_null_event_type_is_dropped_and_lowercase_service_kept(duck, tmp_path):
    rows = [
        {
            "Event_Type": None,
            "Event_Start_Date": D(2024, 5, 1),
            "Event_End_Date": D(2024, 5, 2),
            "LA_Person_Unique_Identifier": "carer",
        },
        {"Event_Type": "sErViCe ", "Event_Start_Date": D(2024, 5, 1), "LA_Person_Unique_Identifier": "svc"},
    ]
    table = store_table(duck, tmp_path, submission(rows, imported=T(2025, 5, 1), file_id="F")).mutate(
        Ref_Period_Start_Date=ibis.date(2024, 4, 1), Ref_Period_End_Date=ibis.date(2025, 3, 31)
    )
    kept = duck.execute(filter_events_in_period(table, METHOD))
    assert list(kept.LA_Person_Unique_Identifier) == ["svc"]


# ---- MT-5: person identifiers


def test_combined_person_id_and_rows_without_id_mt5(duck, tmp_path):
    rows = [
        {
            "Der_NHS_Number_Traced_Pseudo": "T1",
            "Der_NHS_Number_Pseudo": "N1",
            "LA_Person_Unique_Identifier": "P1",
            "ImportFileId": "a",
        },
        {"Der_NHS_Number_Pseudo": "N2", "LA_Person_Unique_Identifier": "P2", "ImportFileId": "b"},
        {"LA_Person_Unique_Identifier": "P3", "ImportFileId": "c"},
        {"ImportFileId": "d"},
        {"Der_NHS_Number_Traced_Pseudo": "T1", "LA_Person_Unique_Identifier": "P2", "ImportFileId": "e"},
    ]
    records = [dict(r, LA_Code="318", LA_Name="X", ImportDate=T(2025, 5, 1)) for r in rows]
    out = duck.execute(add_person_ids(store_table(duck, tmp_path, records), METHOD))
    assert dict(zip(out.ImportFileId, out.Der_NHS_LA_Combined_Person_ID, strict=True)) == {
        "a": "T1",
        "b": "N2",
        "c": "318_P3",
        "e": "T1",
    }


# ---- MT-6: joined table, cropping and deduplication

LTS = ("Long term support: Community", "Home support or domiciliary care")


def mt6_records(s1_f4_component: str = LTS[1]) -> list[dict]:
    person = {
        "Der_NHS_Number_Traced_Pseudo": "T9",
        "Client_Type": "Service user",
        "Der_Birth_Year": 1950,
        "Der_Birth_Month": 6,
    }
    f3 = [
        dict(
            person,
            Event_Type="Service",
            Event_Start_Date=D(2024, 3, 1),
            Service_Type=LTS[0],
            Service_Component=LTS[1],
        ),
        dict(
            person,
            Event_Type="Service",
            Event_Start_Date=D(2024, 8, 1),
            Service_Type="Short term support: Other short term",
            Service_Component="Equipment",
        ),
        dict(person, Event_Type="Request", Event_Start_Date=D(2024, 8, 10), Event_End_Date=D(2024, 8, 15)),
    ]
    f4 = [
        dict(
            person,
            Event_Type="Service",
            Event_Start_Date=D(2024, 3, 1),
            Event_End_Date=D(2025, 1, 31),
            Service_Type=LTS[0],
            Service_Component=s1_f4_component,
        ),
        dict(
            person,
            Event_Type="Service",
            Event_Start_Date=D(2025, 2, 1),
            Service_Type="Short term support: Ongoing low level",
            Service_Component="Meals",
        ),
        dict(person, Event_Type="Request", Event_Start_Date=D(2024, 8, 10), Event_End_Date=D(2024, 8, 15)),
    ]
    records = []
    for fid, (imported, start, end) in MT3_FILES.items():
        extra = {"F3": f3, "F4": f4}.get(fid, [])
        records += submission(covering_rows(start, end, person=fid) + extra, imported=imported, file_id=fid)
    return records


def t9_rows(rows):
    return sorted(
        (r["ImportFileId"], r["Event_Type"], r["Event_Start_Date"], r["Der_Event_End_Date"])
        for r in rows
        if r["Der_NHS_LA_Combined_Person_ID"] == "T9"
    )


def test_joined_table_crops_and_deduplicates_mt6(build):
    rows, result = build(mt6_records(), "joined", D(2024, 4, 1), D(2025, 9, 30), D(2025, 11, 5))
    assert t9_rows(rows) == sorted(
        [
            ("F4", "Service", D(2024, 3, 1), D(2025, 1, 31)),  # S1: the later reference period wins
            ("F3", "Service", D(2024, 8, 1), D(2024, 9, 30)),  # S2: cropped to F3's period end
            ("F4", "Service", D(2025, 2, 1), None),  # S3: last period, stays open
            ("F3", "Request", D(2024, 8, 10), D(2024, 8, 15)),  # R1: F4's copy ends before F4's period
        ]
    )
    s3 = next(
        r
        for r in rows
        if r["Der_NHS_LA_Combined_Person_ID"] == "T9" and r["Event_Start_Date"] == D(2025, 2, 1)
    )
    # Age at the reference period end 2025-09-30: 1950-06-01 -> 2025-09-30 is 27515 days;
    # 27515 / 365.25 = 75.33 -> 75.
    assert s3["Der_Latest_Age"] == 75
    assert "Unit_Cost" not in rows[0]  # costs are dropped from joined tables


def test_joined_table_keeps_both_rows_when_component_changes_mt6_variant(build):
    rows, _ = build(mt6_records("Day support"), "joined", D(2024, 4, 1), D(2025, 9, 30), D(2025, 11, 5))
    services = [r for r in t9_rows(rows) if r[1] == "Service" and r[2] == D(2024, 3, 1)]
    assert services == sorted(
        [("F3", "Service", D(2024, 3, 1), D(2024, 9, 30)), ("F4", "Service", D(2024, 3, 1), D(2025, 1, 31))]
    )


# ---- MT-7: single table, deduplication keys and record choice


def mt7_records() -> list[dict]:
    y = {
        "Der_NHS_Number_Traced_Pseudo": "Y",
        "Client_Type": "Service user",
        "Event_Type": "Request",
        "Event_Start_Date": D(2024, 6, 1),
        "Event_End_Date": D(2024, 6, 3),
        "Request_Route_of_Access": "Community / Other route",
    }
    z = {
        "Der_NHS_Number_Traced_Pseudo": "Z",
        "Client_Type": "Service user",
        "Event_Type": "Service",
        "Event_Start_Date": D(2024, 5, 1),
        "Service_Type": LTS[0],
        "Service_Component": LTS[1],
    }
    rows = [
        dict(y, Event_Outcome="NFA: Other", Der_Conversation=1, Der_Unique_Record_ID=500),
        dict(
            y,
            Event_Outcome="Progress to support planning or services",
            Der_Conversation=0,
            Der_Unique_Record_ID=400,
        ),
        dict(
            z,
            Delivery_Mechanism="Direct payment",
            Unit_Cost=150.00,
            Cost_Frequency_Unit_Type="Weekly",
            Planned_units_per_week=1.0,
            Der_Unique_Record_ID=601,
        ),
        dict(
            z,
            Delivery_Mechanism="CASSR commissioned support",
            Unit_Cost=18.50,
            Cost_Frequency_Unit_Type="Hourly",
            Planned_units_per_week=10.0,
            Der_Unique_Record_ID=602,
        ),
        dict(
            z,
            Delivery_Mechanism="Direct payment",
            Unit_Cost=150.004,
            Cost_Frequency_Unit_Type="Weekly",
            Planned_units_per_week=1.00,
            Event_End_Date=D(2024, 12, 31),
            Der_Unique_Record_ID=603,
        ),
    ]
    return submission(
        covering_rows(D(2024, 4, 1), D(2025, 3, 31)) + rows, imported=T(2025, 4, 20, 9), file_id="F1"
    )


def test_single_table_record_choice_and_service_keys_mt7(build):
    rows, _ = build(mt7_records(), "single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5))
    y = [r for r in rows if r["Der_NHS_LA_Combined_Person_ID"] == "Y"]
    assert [r["Event_Outcome_Cleaned"] for r in y] == ["Progress to support planning or services"]  # row b
    assert y[0]["Event_Outcome_Hierarchy"] == 4
    z = sorted((r for r in rows if r["Der_NHS_LA_Combined_Person_ID"] == "Z"), key=lambda r: r["Unit_Cost"])
    assert [(r["Delivery_Mechanism_Cleaned"], str(r["Unit_Cost"]), r["Der_Event_End_Date"]) for r in z] == [
        ("CASSR commissioned support", "18.50", None),  # row d
        ("Direct payment", "150.00", None),  # row c: open (NULL end) beats row e
    ]
    assert z[0]["Der_Unique_Event_Ref"] == z[1]["Der_Unique_Event_Ref"]


# ---- MT-8: ages and bands


@pytest.mark.parametrize(
    ("year", "month", "event", "end", "expected"),
    [
        (2000, 3, "Request", D(2018, 3, 1), (17, "Under 18", "Under 18")),
        (1960, 3, "Review", D(2025, 3, 1), (64, "45 to 64", "18 to 64")),
        (1960, 3, "Review", D(2025, 3, 2), (65, "65 to 74", "65 and above")),
        (1950, 6, "Service", None, (74, "65 to 74", "65 and above")),
        (None, None, "Request", D(2025, 1, 1), (None, "Unknown", "Unknown")),
    ],
)
def test_age_and_bands_mt8(duck, year, month, event, end, expected):
    table = ibis.memtable(
        pa.table(
            {
                "Event_Type": pa.array([event]),
                "Der_Event_End_Date": pa.array([end], pa.date32()),
                "Ref_Period_End_Date": pa.array([D(2025, 3, 31)], pa.date32()),
                "Der_Birth_Year": pa.array([year], pa.int32()),
                "Der_Birth_Month": pa.array([month], pa.int32()),
            }
        )
    )
    row = duck.to_pyarrow(add_ages(table, METHOD)).to_pylist()[0]
    assert (row["Der_Latest_Age"], row["Der_Age_Band"], row["Der_Working_Age_Band"]) == expected


def test_params_reject_as_of_before_period_end():
    with pytest.raises(ValueError, match="as-of"):
        BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 3, 30)).check()
