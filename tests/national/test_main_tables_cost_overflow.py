"""A cost NUMERIC(18,2) cannot hold does not stop the single-submissions build (main-tables.md §6).

§6 converts `Unit_Cost` and `Planned_units_per_week` to NUMERIC(18,2). The store keeps any plain number a
council submits (docs/national-store.md), so a mistyped cost of 20 digits reached that conversion and the
whole build failed ("Could not convert string ... to DECIMAL(18,2)"), for every council. Such a value is now
NULL, as an unreadable cost is, and the summary counts the rows.
"""

from __future__ import annotations

from conftest import SERVICE, D, T, covering_rows, submission


def test_a_cost_too_large_for_numeric_18_2_is_null_and_counted(build):
    costs = [(12345678901234567890.0, 1e16), (9999999999999998.0, 7.005), (150.005, None)]
    rows = [
        dict(SERVICE, Unit_Cost=c, Planned_units_per_week=u, Der_Unique_Record_ID=901 + i,
             Event_Start_Date=D(2024, 5, 1 + i))
        for i, (c, u) in enumerate(costs)
    ]
    records = submission(covering_rows(D(2024, 4, 1), D(2025, 3, 31)) + rows, imported=T(2025, 4, 20, 9), file_id="F1")
    out, result = build(records, "single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5))
    got = sorted(
        (r["Der_Unique_Record_ID"], r["Unit_Cost"] and str(r["Unit_Cost"]),
         r["Planned_Units_Per_Week"] and str(r["Planned_Units_Per_Week"]))
        for r in out
        if r["Der_Unique_Record_ID"] in (901, 902, 903)
    )
    assert got == [(901, None, None), (902, "9999999999999998.00", "7.01"), (903, "150.01", None)]
    notes = {s["name"]: s["notes"] for s in result.manifest["steps"]}["main_table"]
    assert notes == [
        "1 rows (before de-duplication) have a unit cost or planned units per week too large for NUMERIC(18,2): "
        "read as NULL"
    ]


def test_joined_build_is_not_affected_by_a_huge_cost(build):
    rows = [dict(SERVICE, Unit_Cost=1e20, Der_Unique_Record_ID=901)]
    records = submission(covering_rows(D(2024, 4, 1), D(2025, 3, 31)) + rows, imported=T(2025, 4, 20, 9), file_id="F1")
    out, _ = build(records, "joined", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5))
    assert 901 in {r["Der_Unique_Record_ID"] for r in out}
