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
    by_fold = {c.casefold(): c for c in table.columns}
    renames = {}
    for name in DASHBOARD_COLUMNS:
        actual = by_fold.get(name.casefold())
        if actual is not None and actual != name and name not in table.columns:
            renames[name] = actual
    return table.rename(renames) if renames else table


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
