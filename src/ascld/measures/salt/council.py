"""Council mode: turn one council's own CLD return(s) into the SALT input.

A council has no national store: no import metadata, no traced NHS number, full dates of birth. Each return
becomes one "file" whose `ImportDate` falls inside both submission windows of the period (by default the day
after the period end), its own NHS number stands in for the traced one, and the birth year and month are taken
from the date of birth. The same SALT expressions then run unchanged.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from ascld.errors import UsageError
from ascld.measures.salt.common import SALT_INPUT_COLUMNS, SaltPeriod

RETURN_COLUMNS = (
    "LA_Code",
    "Reporting_Period_Start_Date",
    "Reporting_Period_End_Date",
    "NHS_Number",
    "LA_Person_Unique_Identifier",
    "Date_of_Birth",
    "Date_of_Death",
    "Gender",
    "Ethnicity",
    "Client_Type",
    "Primary_Support_Reason",
    "Accommodation_Status",
    "Employment_Status",
    "Has_Unpaid_Carer",
    "Event_Type",
    "Event_Start_Date",
    "Event_End_Date",
    "Event_Outcome",
    "Request_Route_of_Access",
    "Service_Type",
    "Service_Component",
    "Delivery_Mechanism",
)


def council_input(
    return_table: Any,
    *,
    period: SaltPeriod | tuple[date | str, date | str],
    la_name: str | None = None,
    import_date: datetime | date | None = None,
) -> ir.Table:
    """The SALT input for one council from its own return (national column names, typed dates).

    Args:
        return_table: the council's return rows (Ibis table, pandas DataFrame or pyarrow Table). If it has an
            `ImportDate` column (several returns stacked) that is kept; otherwise rows get `import_date`.
        period: the SALT period.
        la_name: the council's name (default: its code).
        import_date: when the return counts as submitted (default: the day after the period end, midnight).

    Raises:
        UsageError: return columns are missing (all listed, sorted).
    """
    p = SaltPeriod.coerce(period)
    t = return_table if isinstance(return_table, ir.Table) else ibis.memtable(return_table)
    missing = sorted(set(RETURN_COLUMNS) - set(t.columns))
    if missing:
        raise UsageError(
            f"council return: missing column(s) {', '.join(f'`{c}`' for c in missing)}. "
            "Use the CLD return layout (docs/measures-salt.md, Council mode)."
        )
    when = import_date or (p.end + timedelta(days=1))
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day)
    dob = t.Date_of_Birth.cast("date")
    derived = {
        "LA_Name": ibis.literal(la_name) if la_name else t.LA_Code.cast("string"),
        "ImportDate": t.ImportDate.cast("timestamp") if "ImportDate" in t.columns else ibis.timestamp(when),
        "Der_NHS_Number_Traced_Pseudo": t.NHS_Number.cast("string"),
        "Der_Birth_Year": dob.year().cast("int64"),
        "Der_Birth_Month": dob.month().cast("int64"),
    }
    columns = {
        name: (derived[name] if name in derived else t[name]).cast(dtype)
        for name, dtype in SALT_INPUT_COLUMNS.items()
    }
    return t.select(**columns)
