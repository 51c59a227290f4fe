"""`LA_PBI_DQ_Values_Aggregated` (dashboard.md §6): the validator's per-record field status and validity
codes for the records kept in the master table, counted per council, module, field, status, validity and
value, with an England copy.

In ascld the validator's codes are stored beside each import in the national store (`dq.parquet`: one row per
record, `Der_Unique_Record_ID`, `cond_<Field>` and `chk_<Field>`); that table stands in for the supplier's
`CLD_DQ_Items`.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from ascld.measures.ascof.common import range_label
from ascld.measures.dashboard import reference as ref
from ascld.measures.dashboard.collation import group_by_collation

DQ_COLUMNS = ("LA_Name", "LA_Code", "Module", "DataField", "FieldStatus", "FieldValidity", "Value", "Count")


def _label(code: ir.IntegerValue, kind: str) -> ir.StringValue:
    return range_label(code, ((label, low, high) for low, high, label in ref.dq_codes(kind)))


def _find(columns: Sequence[str], name: str) -> str | None:
    by_fold = {c.casefold(): c for c in columns}
    return by_fold.get(name.casefold())


def dq_fields_present(dq: ir.Table) -> tuple[list[str], list[str]]:
    """(fields with both `cond_` and `chk_` columns in `dq`, fields without)."""
    present: list[str] = []
    missing: list[str] = []
    for row in ref.dq_fields():
        field = row["field"]
        ok = _find(dq.columns, f"cond_{field}") and _find(dq.columns, f"chk_{field}")
        (present if ok else missing).append(field)
    return present, missing


def build_dq_values(master: ir.Table, dq: ir.Table) -> ir.Table:
    """The aggregated DQ values table.

    Args:
        master: the master table (its records are the retained, deduplicated ones).
        dq: the per-record codes (`Der_Unique_Record_ID`, `cond_<Field>`, `chk_<Field>`), e.g.
            `NationalStore.table(con, dq=True)`. Fields whose columns are absent are left out
            (`dq_fields_present` lists them).

    Returns:
        `DQ_COLUMNS`: counts per LA_Name, LA_Code, Module, DataField, FieldStatus (from `cond_`), FieldValidity
        (from `chk_`) and Value (the master table's value of the field; `N/A - PID` for identifying fields),
        then the same counts for England (`99999`, Value NULL). Rows of records with no LA are dropped.
    """
    pid = ref.parameter("pid_value")
    record = "Der_Unique_Record_ID"
    dq_key = _find(dq.columns, record)
    codes = dq.rename({"__dq_record": dq_key})
    joined = master.join(codes, master[record] == codes.__dq_record)
    parts = []
    for row in ref.dq_fields():
        field, source = row["field"], row["value"]
        cond, chk = _find(dq.columns, f"cond_{field}"), _find(dq.columns, f"chk_{field}")
        if not (cond and chk):
            continue
        if source == "pid":
            value: ir.Value = ibis.literal(pid)
        elif source in ("", "null") or source not in joined.columns:
            value = ibis.null("string")
        else:
            value = joined[source].cast("string")
        parts.append(
            joined.select(
                "LA_Name",
                "LA_Code",
                Module=ibis.literal(row["module"]),
                DataField=ibis.literal(field),
                FieldStatus=_label(joined[cond], "status"),
                FieldValidity=_label(joined[chk], "validity"),
                Value=value,
            )
        )
    if not parts:
        raise ValueError("no DQ fields in the DQ table")
    items = ibis.union(*parts, distinct=False)
    items = items.filter(items.LA_Code.notnull())
    keys = ["Module", "DataField", "FieldStatus", "FieldValidity"]
    # values equal under the collation ('Male', 'MALE ') are one row (SQL Server's GROUP BY)
    by_la = group_by_collation(items, ["LA_Name", "LA_Code", *keys, "Value"], Count=lambda t: t.count())
    england = by_la.group_by(keys).aggregate(
        LA_Name=ibis.literal(ref.parameter("england_name")),
        LA_Code=ibis.literal(ref.parameter("england_code")),
        Value=ibis.null("string"),
        Count=by_la.Count.sum(),
    )
    cols = list(DQ_COLUMNS)
    return ibis.union(by_la.select(*cols), england.select(*cols), distinct=False)
