"""Inputs ASCOF needs besides the main table: ONS population estimates (2B/2C), the council lookup, hospital
discharge spells (2D) and the LSOA → upper-tier authority lookup. Formats are documented in
docs/measures-ascof.md; synthetic examples ship under `ascld/measures/data/`.

Readers return pyarrow tables with exact column names; `table_on` puts a pyarrow table on an engine.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from ascld.errors import UnusableInput

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
SYNTHETIC_POPULATION = "ons_population_synthetic.csv"
SYNTHETIC_LA_LOOKUP = "la_lookup_synthetic.csv"

#: ONS mid-year population estimates by local authority, gender and age band (one row per combination).
POPULATION_COLUMNS: Mapping[str, pa.DataType] = {
    "Code": pa.string(),
    "Name": pa.string(),
    "Geography": pa.string(),
    "Gender": pa.string(),
    "Age_Band": pa.string(),
    "Population": pa.int64(),
}

#: Councils: CLD LA_Code, the name outputs use, ONS area code (joins population and discharges), region.
LA_LOOKUP_COLUMNS: Mapping[str, pa.DataType] = {
    "LA_Code": pa.string(),
    "LA_Name": pa.string(),
    "LA_Area_Code": pa.string(),
    "Region": pa.string(),
}

#: Hospital discharge spells: SUS admitted patient care episodes, keyed by the pseudonymised NHS number in
#: the same pseudonym domain as CLD `Der_NHS_Number_Traced_Pseudo` (ascof.md §4.2). UTLA_Code_2023 is
#: optional: without it, an LSOA lookup must be given.
DISCHARGE_COLUMNS: Mapping[str, pa.DataType] = {
    "Der_DHSC_Pseudo_NHS_Number": pa.string(),
    "APCS_Ident": pa.string(),
    "APCS_Last_Ep_Ind": pa.int64(),
    "Admission_Date": pa.date32(),
    "Discharge_Date": pa.date32(),
    "Month_of_Birth_SUS": pa.int64(),
    "Year_of_Birth_SUS": pa.int64(),
    "Sex": pa.string(),
    "Der_Postcode_LSOA_2011_Code": pa.string(),
    "Admission_Method": pa.string(),
    "Discharge_Method": pa.string(),
    "Discharge_Destination": pa.string(),
    "Der_Management_Type": pa.string(),
    "Treatment_Function_Code": pa.string(),
}
DISCHARGE_OPTIONAL = {"UTLA_Code_2023": pa.string()}
DISCHARGE_ALIASES = {"Der_NHS_Number_Traced_Pseudo": "Der_DHSC_Pseudo_NHS_Number"}

#: `REF_ONS_LSOA11_UTLA23_Lookup`.
LSOA_LOOKUP_COLUMNS: Mapping[str, pa.DataType] = {
    "LSOA_Code_2011": pa.string(),
    "UTLA_Code_2023": pa.string(),
    "UTLA_Name_2023": pa.string(),
}


def _read_any(source: Any, what: str) -> pa.Table:
    if isinstance(source, pa.Table):
        return source
    path = Path(source)
    if not path.exists():
        raise UnusableInput(f"{path.name}: {what} file not found. Check the path.")
    if path.suffix.lower() == ".parquet":
        return pq.read_table(path)
    # Every column is read as text (codes such as '001' keep their zeros) and typed by _conform.
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = list(reader)
    except (UnicodeDecodeError, StopIteration, csv.Error) as err:
        raise UnusableInput(f"{path.name}: the {what} file is not a readable UTF-8 CSV.") from err
    columns = {h: [r[i] if i < len(r) else None for r in rows] for i, h in enumerate(header)}
    return pa.table({h: pa.array(v, pa.string()) for h, v in columns.items()})


def _conform(
    table: pa.Table,
    columns: Mapping[str, pa.DataType],
    what: str,
    *,
    optional: Mapping[str, pa.DataType] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> pa.Table:
    by_fold = {c.casefold(): c for c in table.column_names}
    for alias, target in (aliases or {}).items():
        if target.casefold() not in by_fold and alias.casefold() in by_fold:
            by_fold[target.casefold()] = by_fold.pop(alias.casefold())
    missing = [c for c in columns if c.casefold() not in by_fold]
    if missing:
        raise UnusableInput(
            f"{what}: missing column(s) "
            + ", ".join(f"`{c}`" for c in sorted(missing))
            + ". See docs/measures-ascof.md for the layout."
        )
    wanted = {**columns, **{k: v for k, v in (optional or {}).items() if k.casefold() in by_fold}}
    arrays = {}
    for name, dtype in wanted.items():
        col = table.column(by_fold[name.casefold()])
        if pa.types.is_string(dtype) and not pa.types.is_string(col.type):
            col = col.cast(pa.string())
        elif pa.types.is_string(dtype):
            # empty text is a missing value in these files
            col = pa.array(
                [None if v is None or v.strip() == "" else v.strip() for v in col.to_pylist()], pa.string()
            )
        elif pa.types.is_date32(dtype) and pa.types.is_string(col.type):
            col = pa.array([_iso_date(v, what, name) for v in col.to_pylist()], pa.date32())
        elif pa.types.is_date32(dtype) and pa.types.is_timestamp(col.type):
            col = col.cast(pa.date32())
        elif pa.types.is_integer(dtype) and pa.types.is_string(col.type):
            col = pa.array([_int(v, what, name) for v in col.to_pylist()], pa.int64())
        else:
            try:
                col = col.cast(dtype)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise UnusableInput(f"{what}, field {name}: values are not {dtype}.") from err
        arrays[name] = col
    return pa.table(arrays)


def _iso_date(value: str | None, what: str, field: str) -> dt.date | None:
    if value is None or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError as err:
        raise UnusableInput(f"{what}, field {field}: a value is not a date. Use YYYY-MM-DD.") from err


def _int(value: str | None, what: str, field: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError as err:
        raise UnusableInput(f"{what}, field {field}: a value is not a whole number.") from err


def read_population(source: str | Path | pa.Table) -> pa.Table:
    """Read ONS mid-year population estimates (CSV or Parquet) in the documented layout.

    Columns (names case-insensitive, extra columns ignored): `Code` (ONS area code, e.g. E06000001), `Name`,
    `Geography` (`Local Authority`, `Region`, `Country`...), `Gender` (`All`, `Male`, `Female`), `Age_Band`
    (2B/2C use `18 to 64` and `65 and above`), `Population` (whole number).

    Raises:
        UnusableInput: the file is missing, unreadable, lacks a column or has a non-numeric population.

    Examples:
        >>> pop = read_population(synthetic_population_path())
        >>> pop.column_names
        ['Code', 'Name', 'Geography', 'Gender', 'Age_Band', 'Population']
    """
    table = _conform(_read_any(source, "population"), POPULATION_COLUMNS, "population")
    if table.column("Population").null_count:
        raise UnusableInput("population, field Population: a value is empty. Give every row a population.")
    return table


def read_la_lookup(source: str | Path | pa.Table) -> pa.Table:
    """Read the council lookup (`REF_ONS_Codes_LA_Region_Lookup`): LA_Code, LA_Name, LA_Area_Code, Region.

    Raises:
        UnusableInput: missing columns or a repeated LA_Code.
    """
    table = _conform(_read_any(source, "LA lookup"), LA_LOOKUP_COLUMNS, "LA lookup")
    codes = [c for c in table.column("LA_Code").to_pylist()]
    if None in codes or len(set(codes)) != len(codes):
        raise UnusableInput("LA lookup, field LA_Code: codes must be present and unique.")
    return table


def read_discharges(source: str | Path | pa.Table) -> pa.Table:
    """Read hospital discharge spells (SUS APC episodes) for ASCOF 2D in the documented layout.

    `Der_NHS_Number_Traced_Pseudo` is accepted as the name of the pseudonymised NHS number column.
    Codes are kept as text (`'31'`, `'EM'`); APCS_Last_Ep_Ind is 1 for the last episode of a spell.
    """
    return _conform(
        _read_any(source, "discharges"),
        DISCHARGE_COLUMNS,
        "discharges",
        optional=DISCHARGE_OPTIONAL,
        aliases=DISCHARGE_ALIASES,
    )


def read_lsoa_lookup(source: str | Path | pa.Table) -> pa.Table:
    """Read the LSOA 2011 → upper-tier local authority 2023 lookup (`REF_ONS_LSOA11_UTLA23_Lookup`)."""
    return _conform(_read_any(source, "LSOA lookup"), LSOA_LOOKUP_COLUMNS, "LSOA lookup")


def synthetic_population_path() -> Path:
    """The synthetic population CSV shipped for tests and the demo (not real estimates)."""
    return DATA_DIR / SYNTHETIC_POPULATION


def synthetic_la_lookup_path() -> Path:
    """The synthetic council lookup shipped alongside the synthetic population."""
    return DATA_DIR / SYNTHETIC_LA_LOOKUP


def la_list_from_main(rows: Sequence[tuple[str, str | None]]) -> pa.Table:
    """A council list from (LA_Code, LA_Name) pairs seen in the data, when no lookup is given.

    A council seen under several names takes the first in sort order (a NULL name only when it has no other).
    """
    seen: dict[str, set[str]] = {}
    for code, name in rows:
        if code is not None:
            seen.setdefault(code, set()).update([name] if name is not None else [])
    codes = sorted(seen)
    names = {c: min(seen[c]) if seen[c] else None for c in codes}
    return pa.table(
        {
            "LA_Code": pa.array(codes, pa.string()),
            "LA_Name": pa.array([names[c] for c in codes], pa.string()),
            "LA_Area_Code": pa.array([None] * len(codes), pa.string()),
            "Region": pa.array([None] * len(codes), pa.string()),
        }
    )


def table_on(con: Any, data: pa.Table | ir.Table, name: str) -> ir.Table:
    """Put a pyarrow table on the connection's engine (an Ibis table passes through unchanged).

    Spark gets the table through `createDataFrame` from Arrow: Ibis memtables go through pandas there and
    turn NULL text into 'NaN'.
    """
    if isinstance(data, ir.Table):
        return data
    if getattr(con, "name", "") == "pyspark":
        view = f"__ascld_{name}_{uuid.uuid4().hex[:12]}"
        con._session.createDataFrame(data).createOrReplaceTempView(view)
        return con.table(view)
    return ibis.memtable(data)


def write_csv_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a small CSV (used to regenerate the synthetic files)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
