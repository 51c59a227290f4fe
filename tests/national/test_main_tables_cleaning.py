"""Cleaning, mapping, review types, selection edges and de-duplication keys (main-tables.md §0, §3, §5, §6).

Expected values come from the method's tables and rules, worked by hand.
"""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from ascld.methodology import load_main_tables_method
from ascld.national.main_tables import read_store
from ascld.national.main_tables.derive import review_type
from ascld.national.main_tables.mapping import apply_mappings, field_mappings
from ascld.national.main_tables.schema import conform_store
from ascld.national.main_tables.select import choose_for_period
from ascld.spec import load_spec
from conftest import SERVICE, D, T, covering_rows, submission, write_store

METHOD = load_main_tables_method()
SPEC = load_spec()


def mapped(duck, tmp_path, rows, unmapped="auto"):
    """Both mapping passes and the review type over store rows; returns a list of dicts."""
    records = [dict(r, LA_Code="318", LA_Name="X", ImportDate=T(2025, 5, 1)) for r in rows]
    table = conform_store(read_store(duck, write_store(tmp_path / "s", records), "duckdb"))
    maps = field_mappings(SPEC, METHOD, unmapped)
    first = apply_mappings(table, SPEC, maps, 1)
    both = apply_mappings(first.mutate(Review_Type=review_type(first, METHOD)), SPEC, maps, 2)
    return duck.to_pyarrow(both.order_by("Der_Unique_Record_ID")).to_pylist()


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Service user", "Service user"),
        ("Service User", "Service user"),  # Release 1 spelling, and a case-insensitive match
        ("SERVICE USER   ", "Service user"),  # trailing spaces ignored, as by SQL Server's =
        ("Carer", "Unpaid carer"),  # Release 1 -> Release 2
        ("carer known by association", "Unpaid carer known by association"),
    ],
)
def test_client_type_maps_case_insensitively_and_forward(duck, tmp_path, raw, cleaned):
    row = mapped(duck, tmp_path, [{"Client_Type": raw}])[0]
    assert (row["Client_Type_Raw"], row["Client_Type_Cleaned"]) == (raw, cleaned)


def test_unmatched_value_in_complete_list_is_invalid_and_grouped(duck, tmp_path):
    row = mapped(
        duck, tmp_path, [{"Ethnicity": "Purple", "Service_Type": "Nonsense", "Event_Outcome": "Maybe"}]
    )[0]
    assert (row["Ethnicity_Cleaned"], row["Ethnicity_Grouped"]) == ("Invalid and not mapped", "Unknown")
    assert (row["Service_Type_Cleaned"], row["Service_Type_Grouped"]) == ("Invalid and not mapped", "Unknown")
    assert (row["Event_Outcome_Cleaned"], row["Event_Outcome_Grouped"], row["Event_Outcome_Hierarchy"]) == (
        "Invalid and not mapped",
        "Invalid and not mapped",
        None,
    )


def test_methodology_row_maps_known_invalid_ethnicity(duck, tmp_path):
    row = mapped(duck, tmp_path, [{"Ethnicity": "Mixed: White and Asian"}])[0]
    assert (row["Ethnicity_Cleaned"], row["Ethnicity_Grouped"]) == (
        "Mixed or multiple ethnic groups: White and Asian",
        "Mixed or multiple ethnic groups",
    )


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("auto", "Discharge from somewhere"), ("invalid", "Invalid and not mapped"), ("null", None)],
)
def test_unmatched_value_in_incomplete_list_follows_policy(duck, tmp_path, policy, expected):
    row = mapped(duck, tmp_path, [{"Request_Route_of_Access": "Discharge from somewhere"}], policy)[0]
    assert row["Request_Route_of_Access_Cleaned"] == expected


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_blank_raw_value_gives_null_cleaned(duck, tmp_path, raw):
    row = mapped(duck, tmp_path, [{"Gender": raw, "Ethnicity": raw}], "invalid")[0]
    assert (row["Gender_Cleaned"], row["Ethnicity_Cleaned"], row["Ethnicity_Grouped"]) == (None, None, None)


@pytest.mark.parametrize(
    ("raw", "cleaned", "group", "rank"),
    [
        (
            "Progress to financial assessment ",
            "Release 1 specification only: Not mapped",
            "Release 1 specification only: Not mapped",
            3,
        ),
        (
            "Progress to end of life care",
            "Release 1 specification only: Not mapped",
            "Release 1 specification only: Not mapped",
            3,
        ),
        ("NFA - Deceased", "NFA: Deceased", "NFA", 13),
        ("nfa: other", "NFA: Other", "NFA", 17),
        (
            "Progress to Reablement/ST-Max",
            "Progress to reablement/ST-Max",
            "Progress to reablement/ST-Max",
            1,
        ),
    ],
)
def test_event_outcome_cleaned_grouped_and_ranked(duck, tmp_path, raw, cleaned, group, rank):
    row = mapped(duck, tmp_path, [{"Event_Outcome": raw}])[0]
    assert (row["Event_Outcome_Cleaned"], row["Event_Outcome_Grouped"], row["Event_Outcome_Hierarchy"]) == (
        cleaned,
        group,
        rank,
    )


@pytest.mark.parametrize(
    ("event", "reason", "expected"),
    [
        ("Review", "Unplanned: Hospital", "Unplanned"),  # rule 1 (raw kept: the R2 list is incomplete)
        ("Review", "Planned", "Planned review of long term support"),  # rule 2
        ("review ", "PLANNED", "Planned review of long term support"),  # case-insensitive '=' and LIKE
        ("Review", "review of short term support", "Review of short term support"),  # rule 3
        ("Review", None, None),  # rule 5
        ("Request", "Planned", None),  # rule 6
        (None, "Planned", "Review Type Unknown"),  # NULL type: rules 1-6 unknown -> rule 7
        ("Reviews", "Planned", "Review Type Unknown"),  # not = 'Review', but contains it -> rule 7
        ("Review", "Something else", "Review Type Unknown"),  # rule 7
    ],
)
def test_review_type_rules(duck, tmp_path, event, reason, expected):
    row = mapped(duck, tmp_path, [{"Event_Type": event, "Review_Reason": reason}])[0]
    assert row["Review_Type"] == expected


def test_review_type_of_invalid_reason_is_unknown(duck, tmp_path):
    row = mapped(duck, tmp_path, [{"Event_Type": "Review", "Review_Reason": "Something"}], "invalid")[0]
    assert (row["Review_Reason_Cleaned"], row["Review_Type"]) == (
        "Invalid and not mapped",
        "Review Type Unknown",
    )


# ---- submission choice edges (§0 datetime comparisons, §3.1)


def periods(*files):
    """A reporting-periods table: (LA_Name, ImportDate, derived start, derived end) per file."""
    return ibis.memtable(
        pa.table(
            {
                "LA_Code": pa.array(["318"] * len(files)),
                "LA_Name": pa.array([f[0] for f in files]),
                "ImportDate": pa.array([f[1] for f in files], pa.timestamp("ms")),
                "Der_Reporting_Period_Start_Date": pa.array([f[2] for f in files], pa.date32()),
                "Der_Reporting_Period_End_Date": pa.array([f[3] for f in files], pa.date32()),
                "Reporting_Period_Start_Date": pa.array([D(2023, 4, 1)] * len(files), pa.date32()),
                "Reporting_Period_End_Date": pa.array([D(2025, 3, 31)] * len(files), pa.date32()),
            }
        )
    )


AS_OF = D(2025, 6, 1)


def choose(duck, table, as_of=AS_OF, basis="derived", excluded=METHOD.excluded_imports):
    out = duck.execute(choose_for_period(table, D(2024, 4, 1), D(2025, 3, 31), as_of, basis, excluded))
    return sorted((r.LA_Name, r.ImportDate.to_pydatetime()) for r in out.itertuples())


def test_la_name_partition_is_case_insensitive(duck):
    table = periods(
        ("Leeds", T(2025, 4, 10), D(2024, 4, 1), D(2025, 3, 31)),
        ("LEEDS ", T(2025, 4, 20), D(2024, 4, 1), D(2025, 3, 31)),
    )
    assert choose(duck, table) == [("LEEDS ", T(2025, 4, 20))]


@pytest.mark.parametrize(
    ("imported", "qualifies"),
    [(T(2025, 3, 31, 9), True), (T(2025, 3, 31, 0, 0, 0), False), (T(2025, 3, 31, 0, 0, 0, 3000), True)],
)
def test_import_on_period_end_day_counts_after_midnight(duck, imported, qualifies):
    table = periods(("X", imported, D(2024, 4, 1), D(2025, 3, 31)))
    assert bool(choose(duck, table)) is qualifies


def test_import_later_on_as_of_day_is_included(duck):
    table = periods(
        ("X", T(2025, 6, 1, 23, 59), D(2024, 4, 1), D(2025, 3, 31)),
        ("X", T(2025, 6, 2, 0, 1), D(2024, 4, 1), D(2025, 3, 31)),
    )
    assert choose(duck, table) == [("X", T(2025, 6, 1, 23, 59))]


def test_file_with_known_issues_is_never_chosen(duck):
    bad = T(2026, 4, 23, 13, 28, 24, 253000)
    table = periods(
        ("X", T(2026, 4, 1), D(2024, 4, 1), D(2025, 3, 31)), ("X", bad, D(2024, 4, 1), D(2025, 3, 31))
    )
    assert choose(duck, table, as_of=D(2026, 5, 5)) == [("X", T(2026, 4, 1))]
    # one millisecond later is a different file
    later = T(2026, 4, 23, 13, 28, 24, 254000)
    table = periods(
        ("X", T(2026, 4, 1), D(2024, 4, 1), D(2025, 3, 31)), ("X", later, D(2024, 4, 1), D(2025, 3, 31))
    )
    assert choose(duck, table, as_of=D(2026, 5, 5)) == [("X", later)]


def test_stated_basis_uses_stated_period(duck):
    # Derived periods fail (start after S) but the stated 2023-04-01..2025-03-31 covers the period.
    table = periods(("X", T(2025, 4, 10), D(2024, 6, 1), D(2025, 3, 31)))
    assert choose(duck, table) == []
    assert choose(duck, table, basis="stated") == [("X", T(2025, 4, 10))]


# ---- unique events and deduplication (§5.3, §6)


def single_table(build, rows):
    records = submission(
        covering_rows(D(2024, 4, 1), D(2025, 3, 31)) + rows, imported=T(2025, 4, 20, 9), file_id="F1"
    )
    out, _ = build(records, "single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5))
    return [r for r in out if r["Der_NHS_LA_Combined_Person_ID"] == "Q"]


REQUEST = {
    "Der_NHS_Number_Traced_Pseudo": "Q",
    "Client_Type": "Service user",
    "Event_Type": "Request",
    "Event_Start_Date": D(2024, 6, 1),
    "Event_End_Date": D(2024, 6, 3),
}


def test_event_ref_ignores_case_of_raw_values(build):
    rows = single_table(
        build,
        [
            dict(REQUEST, Der_Unique_Record_ID=801),
            dict(REQUEST, Client_Type="SERVICE USER", Event_Type="request", Der_Unique_Record_ID=802),
        ],
    )
    assert len(rows) == 1 and rows[0]["Der_Unique_Record_ID"] == 802  # later load wins the tie


def test_null_conversation_flag_sorts_last(build):
    rows = single_table(
        build,
        [
            dict(REQUEST, Der_Conversation=None, Der_Unique_Record_ID=900),
            dict(REQUEST, Der_Conversation=0, Der_Unique_Record_ID=100),
        ],
    )
    assert [r["Der_Unique_Record_ID"] for r in rows] == [100]


@pytest.mark.parametrize(
    ("costs", "rows_kept"),
    [
        ((150.005, 150.01), 1),  # 150.005 rounds half away from zero to 150.01
        ((150.004, 150.00), 1),
        ((150.006, 150.00), 2),
        ((None, 150.00), 2),
    ],
)
def test_single_table_cost_keys_round_to_two_places(build, costs, rows_kept):
    rows = single_table(
        build, [dict(SERVICE, Unit_Cost=c, Der_Unique_Record_ID=700 + i) for i, c in enumerate(costs)]
    )
    assert len(rows) == rows_kept


def test_single_table_null_and_blank_mechanism_are_one_key(build):
    rows = single_table(
        build,
        [
            dict(SERVICE, Delivery_Mechanism=None, Der_Unique_Record_ID=701),
            dict(SERVICE, Delivery_Mechanism="", Der_Unique_Record_ID=702),
        ],
    )
    assert len(rows) == 1
