"""The main-table columns the dashboard reads, a check that they are there, and a small table builder.

The dashboard facts read the single-submissions main table and the waiting times the joined one
(main-tables.md §6.3, §6.5); both have the same columns (the joined table lacks the four cost columns, which
only the facts read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from ascld.errors import UnusableInput
from ascld.measures.ascof.common import fold, rename_case_insensitively
from ascld.measures.spelling import with_one_spelling

#: column -> Arrow type of the main-table columns the dashboard reads.
DASHBOARD_COLUMNS: Mapping[str, pa.DataType] = {
    "LA_Code": pa.string(),
    "LA_Name": pa.string(),
    "Ref_Period_Start_Date": pa.date32(),
    "Ref_Period_End_Date": pa.date32(),
    "Event_Type": pa.string(),
    "Event_Start_Date": pa.date32(),
    "Der_Event_End_Date": pa.date32(),
    "Der_Unique_Event_Ref": pa.string(),
    "Gender_Cleaned": pa.string(),
    "Ethnicity_Cleaned": pa.string(),
    "Client_Type_Cleaned": pa.string(),
    "Primary_Support_Reason_Cleaned": pa.string(),
    "Service_Type_Cleaned": pa.string(),
    "Service_Type_Grouped": pa.string(),
    "Service_Component_Cleaned": pa.string(),
    "Delivery_Mechanism_Cleaned": pa.string(),
    "Event_Outcome_Cleaned": pa.string(),
    "Event_Outcome_Grouped": pa.string(),
    "Request_Route_of_Access_Cleaned": pa.string(),
    "Assessment_Type_Cleaned": pa.string(),
    "Eligible_Needs_Identified": pa.string(),
    "Review_Reason_Cleaned": pa.string(),
    "Review_Type": pa.string(),
    "Review_Outcomes_Achieved_Cleaned": pa.string(),
    "Cost_Frequency_Unit_Type_Cleaned": pa.string(),
    "Unit_Cost": pa.float64(),
    "Planned_Units_Per_Week": pa.float64(),
    "Der_Conversation": pa.int32(),
    "Der_Conversation_1": pa.int32(),
    "Date_of_Death": pa.date32(),
    "Der_NHS_LA_Combined_Person_ID": pa.string(),
    "Der_Age_Event_Start_Date": pa.int32(),
    "Der_Age_Band": pa.string(),
    "Der_Working_Age_Band": pa.string(),
    "Der_Unique_Record_ID": pa.int64(),
    "ImportDate": pa.timestamp("us"),
}
COST_COLUMNS = ("Unit_Cost", "Planned_Units_Per_Week", "Cost_Frequency_Unit_Type_Cleaned")


#: The identifiers the dashboard joins and partitions on (the council, the person).
IDENTIFIER_COLUMNS: tuple[str, ...] = ("LA_Code", "LA_Name", "Der_NHS_LA_Combined_Person_ID")


def check_columns(table: ir.Table, what: str, *, costs: bool = True) -> None:
    """Raise if a column the dashboard reads is missing (names compared case-insensitively).

    Raises:
        UnusableInput: every missing column is listed.
    """
    have = {c.casefold() for c in table.columns}
    wanted = [c for c in DASHBOARD_COLUMNS if costs or c not in COST_COLUMNS]
    missing = sorted(c for c in wanted if c.casefold() not in have)
    if missing:
        raise UnusableInput(
            f"{what}: missing column(s) "
            + ", ".join(f"`{c}`" for c in missing)
            + ". Build it with `ascld national build` (main-tables.md §6.3)."
        )


def match_column_names(table: ir.Table) -> ir.Table:
    """The table with every column of `DASHBOARD_COLUMNS` under its exact name, matched case-insensitively.

    `check_columns` accepts a column whatever its case (SQL Server identifiers are case-insensitive), and the
    builders read the columns by their exact names, so e.g. `Planned_units_per_week` is renamed
    `Planned_Units_Per_Week`. Other columns are unchanged.

    Examples:
        >>> import ibis
        >>> match_column_names(ibis.table({"event_type": "string"}, name="t")).columns
        ('Event_Type',)
    """
    return rename_case_insensitively(table, DASHBOARD_COLUMNS)


def prepare_main_table(table: ir.Table, what: str, *, costs: bool = True) -> ir.Table:
    """A main table as the dashboard reads it: columns checked (`check_columns`) and named exactly
    (`match_column_names`), and the identifiers it joins and partitions on (council, person) in one spelling
    per case-insensitive value, as SQL Server's collation compares them (`ascld.measures.spelling`).

    Raises:
        UnusableInput: a column is missing (every missing column is listed).
    """
    check_columns(table, what, costs=costs)
    table = match_column_names(table)
    return with_one_spelling(table, IDENTIFIER_COLUMNS, fold)


def main_table_from_records(records: Iterable[Mapping[str, Any]]) -> pa.Table:
    """A main table (the columns of `DASHBOARD_COLUMNS`, NULL where not given) from a few dicts.

    For tests and examples: other keys are added as text columns.

    Examples:
        >>> t = main_table_from_records([{"LA_Code": "318", "Event_Type": "Request"}])
        >>> t.num_rows, t.column("Event_Type").to_pylist()
        (1, ['Request'])
    """
    rows = [dict(r) for r in records]
    extra = sorted({k for r in rows for k in r} - set(DASHBOARD_COLUMNS))
    fields = [pa.field(c, t) for c, t in DASHBOARD_COLUMNS.items()] + [pa.field(c, pa.string()) for c in extra]
    schema = pa.schema(fields)
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in fields} for r in rows], schema=schema)
