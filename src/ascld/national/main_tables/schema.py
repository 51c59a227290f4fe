"""The national store contract: the columns of main-tables.md §1, with exactly those names and these types.

The store is a Parquet dataset (hive-partitioned directories are fine). `national_store_schema()` is what the
ingest step must write; `conform_store()` checks a table against it and casts compatible types;
`store_table_from_records()` builds a conforming Arrow table from a few dicts (tests and examples).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from ascld.errors import UnusableInput

# (column, Ibis type, role). Roles: "key" identifies the submission (never NULL); "used" drives the method;
# "carried" passes through to the output unchanged. Unit_Cost and Planned_units_per_week may also be DECIMAL.
STORE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("LA_Code", "string", "key"),
    ("LA_Name", "string", "key"),
    ("ImportDate", "timestamp", "key"),
    ("ImportFileId", "string", "used"),
    ("Reporting_Period_Start_Date", "date", "used"),
    ("Reporting_Period_End_Date", "date", "used"),
    ("Der_NHS_Number_Traced_Pseudo", "string", "used"),
    ("Der_NHS_Number_Pseudo", "string", "used"),
    ("LA_Person_Unique_Identifier", "string", "used"),
    ("Der_Birth_Year", "int32", "used"),
    ("Der_Birth_Month", "int32", "used"),
    ("Date_of_Death", "date", "used"),
    ("Gender", "string", "used"),
    ("Ethnicity", "string", "used"),
    ("Client_Type", "string", "used"),
    ("Primary_Support_Reason", "string", "used"),
    ("Accommodation_Status", "string", "used"),
    ("Employment_Status", "string", "used"),
    ("Has_Unpaid_Carer", "string", "carried"),
    ("Autism_Spectrum_Disorder_ASD", "string", "carried"),
    ("Visual_Impairment", "string", "used"),
    ("Hearing_Impairment", "string", "used"),
    ("Dementia", "string", "carried"),
    ("Client_Funding_Status", "string", "used"),
    ("GP_Practice_Code", "string", "carried"),
    ("GP_Practice_Name", "string", "carried"),
    ("Der_Postcode_Sector", "string", "carried"),
    ("Der_Postcode_Constituency_Code", "string", "carried"),
    ("Der_Postcode_District_Unitary_Authority", "string", "carried"),
    ("Der_Postcode_Electoral_Ward", "string", "carried"),
    ("Der_Postcode_Local_Authority", "string", "carried"),
    ("Der_Postcode_CCG_Code", "string", "carried"),
    ("Der_Postcode_LSOA_Code", "string", "carried"),
    ("Der_Postcode_MSOA_Code", "string", "carried"),
    ("Der_Postcode_yr2011_LSOA", "string", "carried"),
    ("Der_Postcode_yr2011_MSOA", "string", "carried"),
    ("Der_Age_Event_Start_Date", "int32", "carried"),
    ("Der_Age_Reporting_Period_End_Date", "int32", "carried"),
    ("Event_Type", "string", "used"),
    ("Event_Start_Date", "date", "used"),
    ("Event_End_Date", "date", "used"),
    ("Event_Outcome", "string", "used"),
    ("Request_Route_of_Access", "string", "used"),
    ("Assessment_Type", "string", "used"),
    ("Eligible_Needs_Identified", "string", "carried"),
    ("Method_of_Assessment", "string", "used"),
    ("Service_Type", "string", "used"),
    ("Service_Component", "string", "used"),
    ("Delivery_Mechanism", "string", "used"),
    ("Provider_CQC_Location_ID", "string", "carried"),
    ("Provider_CQC_Location_Name", "string", "carried"),
    ("Unit_Cost", "float64", "used"),
    ("Cost_Frequency_Unit_Type", "string", "used"),
    ("Planned_units_per_week", "float64", "used"),
    ("Review_Reason", "string", "used"),
    ("Review_Outcomes_Achieved", "string", "used"),
    ("Method_of_Review", "string", "used"),
    ("Total_Hrs_Caring_per_week", "string", "used"),
    ("No_of_adults_being_cared_for", "int32", "carried"),
    ("Adult_1_Linked_Person_ID", "string", "carried"),
    ("Adult_2_Linked_Person_ID", "string", "carried"),
    ("Adult_3_Linked_Person_ID", "string", "carried"),
    ("Der_DBS_Check_Status", "string", "carried"),
    ("Der_Unique_Record_ID", "int64", "used"),
    ("Der_Conversation", "int32", "used"),
    ("Der_Conversation_1", "int32", "carried"),
)

DECIMAL_OK = frozenset({"Unit_Cost", "Planned_units_per_week"})
SUBMISSION_KEYS = ("LA_Code", "LA_Name", "ImportDate")


def national_store_schema() -> ibis.Schema:
    """The national store's columns and Ibis types (main-tables.md §1).

    `ImportDate` is a timestamp without time zone (SQL Server DATETIME, millisecond precision). Dates are
    DATE. `Unit_Cost` and `Planned_units_per_week` may be DOUBLE or DECIMAL. Every identifier is already
    pseudonymised; `LA_Person_Unique_Identifier` is an opaque string. `LA_Code`, `LA_Name` and
    `ImportDate` are never NULL, and `Der_Unique_Record_ID` (the load record ID, larger = loaded later) is
    present and unique across the store.

    Examples:
        >>> national_store_schema()["ImportDate"]
        Timestamp(timezone=None, scale=None, nullable=True)
    """
    return ibis.schema({name: kind for name, kind, _ in STORE_COLUMNS})


def national_store_arrow_schema() -> pa.Schema:
    """The same schema as Arrow types (timestamps in milliseconds), for writers such as the ingest step."""
    fields = []
    for name, kind, _ in STORE_COLUMNS:
        arrow = pa.timestamp("ms") if kind == "timestamp" else dt.dtype(kind).to_pyarrow()
        fields.append(pa.field(name, arrow))
    return pa.schema(fields)


def store_table_from_records(records: Iterable[Mapping[str, Any]]) -> pa.Table:
    """A conforming Arrow table from dicts; columns a record leaves out are NULL.

    Raises:
        UnusableInput: a record names a column the store does not have.
    """
    schema = national_store_arrow_schema()
    rows = list(records)
    unknown = sorted({k for r in rows for k in r} - set(schema.names))
    if unknown:
        raise UnusableInput(
            f"records name columns the national store does not have: {', '.join(f'`{c}`' for c in unknown)}. "
            "Use the names of national_store_schema()."
        )
    return pa.Table.from_pylist([{n: r.get(n) for n in schema.names} for r in rows], schema=schema)


def _compatible(name: str, want: dt.DataType, have: dt.DataType) -> bool:
    if want.is_string():
        return have.is_string()
    if want.is_timestamp():
        return have.is_timestamp()
    if want.is_date():
        return have.is_date()
    if want.is_integer():
        return have.is_integer()
    if want.is_floating():
        return have.is_floating() or have.is_integer() or (name in DECIMAL_OK and have.is_decimal())
    return False


def conform_store(table: ir.Table) -> ir.Table:
    """Check a store table against the contract and return it with exactly the contract's columns and types.

    Extra columns (e.g. hive partition columns that are not store columns) are left out. Integer widths are
    normalised; DECIMAL costs stay DECIMAL.

    Raises:
        UnusableInput: columns are missing or have an incompatible type; the message lists them all.
    """
    want = national_store_schema()
    have = table.schema()
    missing = [c for c in want.names if c not in have]
    wrong = [
        f"`{c}` is {have[c]} (expected {want[c]})"
        for c in want.names
        if c in have and not _compatible(c, want[c], have[c])
    ]
    problems = []
    if missing:
        problems.append("missing columns: " + ", ".join(f"`{c}`" for c in sorted(missing)))
    if wrong:
        problems.append("wrong types: " + "; ".join(sorted(wrong)))
    if problems:
        raise UnusableInput(
            "the national store does not match the contract (" + " | ".join(problems) + "). "
            "Write it with the columns and types of ascld.national.main_tables.national_store_schema()."
        )
    cols = {}
    for c in want.names:
        keep_decimal = c in DECIMAL_OK and have[c].is_decimal()
        same = have[c] == want[c] or keep_decimal
        cols[c] = table[c] if same else table[c].cast(want[c])
    return table.select(**cols)
