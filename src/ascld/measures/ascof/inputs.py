"""Inputs ASCOF needs besides the main table: ONS population estimates (2B/2C), the council lookup, hospital
discharge spells (2D) and the LSOA → upper-tier authority lookup. Formats are documented in
docs/measures-ascof.md; synthetic examples ship under `ascld/measures/data/`.

Readers return pyarrow tables with exact column names; `table_on` puts a pyarrow table on an engine.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
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


def _label(source: Any, what: str) -> str:
    """How messages name an input: its kind and, for a file, the file's name."""
    return what if isinstance(source, pa.Table) else f"{what} file {Path(source).name}"


def _read_any(source: Any, what: str) -> tuple[pa.Table, int]:
    """The table and the spreadsheet row of its first record (2 for a CSV: the header is row 1)."""
    if isinstance(source, pa.Table):
        return source, 1
    path = Path(source)
    if not path.exists():
        raise UnusableInput(f"{path.name}: {what} file not found. Check the path.")
    if path.suffix.lower() == ".parquet":
        try:
            return pq.read_table(path), 1
        except (pa.ArrowException, OSError):
            raise UnusableInput(
                f"{path.name}: the {what} file is not a Parquet file, or it is damaged. Export it again (or give "
                "a UTF-8 CSV)."
            ) from None
    # Every column is read as text (codes such as '001' keep their zeros) and typed by _conform.
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        row = raw[: err.start].count(b"\n") + 1
        raise UnusableInput(
            f"{path.name}, row {row}: the {what} file is not UTF-8 text from this "
            "row on (Windows-1252, perhaps). Save it as CSV UTF-8."
        ) from None
    rows: list[list[str]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader)
        for values in reader:
            rows.append(values)
    except StopIteration:
        raise UnusableInput(f"{path.name}: the {what} file is empty. It needs a header row.") from None
    except csv.Error:
        raise UnusableInput(
            f"{path.name}, row {len(rows) + 2}: the {what} file is not well-formed CSV (a NUL byte or a stray "
            "quote?). Save it as CSV UTF-8."
        ) from None
    for n, values in enumerate(rows, start=2):
        if len(values) > len(header) and any(v.strip() for v in values[len(header):]):
            raise UnusableInput(
                f"{path.name}, row {n}: {len(values)} values but the header has {len(header)}. Every row needs "
                "one value per column."
            )
    columns = {h: [r[i] if i < len(r) else None for r in rows] for i, h in enumerate(header)}
    return pa.table({h: pa.array(v, pa.string()) for h, v in columns.items()}), 2


def _conform(
    read: tuple[pa.Table, int],
    columns: Mapping[str, pa.DataType],
    what: str,
    *,
    optional: Mapping[str, pa.DataType] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> pa.Table:
    table, first_row = read
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
            where = f"{what}, row %d, field {name}"
            col = pa.array(
                [_iso_date(v, where % n) for n, v in enumerate(col.to_pylist(), first_row)], pa.date32()
            )
        elif pa.types.is_date32(dtype) and pa.types.is_timestamp(col.type):
            col = col.cast(pa.date32())
        elif pa.types.is_integer(dtype) and pa.types.is_string(col.type):
            where = f"{what}, row %d, field {name}"
            col = pa.array([_int(v, where % n) for n, v in enumerate(col.to_pylist(), first_row)], pa.int64())
        else:
            try:
                col = col.cast(dtype)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise UnusableInput(f"{what}, field {name}: values are not {dtype}.") from err
        arrays[name] = col
    return pa.table(arrays)


def _iso_date(value: str | None, where: str) -> dt.date | None:
    if value is None or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise UnusableInput(f"{where}: the value is not a date. Use YYYY-MM-DD.") from None


def _int(value: str | None, where: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise UnusableInput(f"{where}: the value is not a whole number.") from None


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
    read = _read_any(source, "population")
    what = _label(source, "population")
    table = _conform(read, POPULATION_COLUMNS, what)
    if table.column("Population").null_count:
        first = next(i for i, v in enumerate(table.column("Population").to_pylist()) if v is None) + read[1]
        raise UnusableInput(f"{what}, row {first}, field Population: empty. Give every row a population.")
    return table


def read_la_lookup(source: str | Path | pa.Table) -> pa.Table:
    """Read the council lookup (`REF_ONS_Codes_LA_Region_Lookup`): LA_Code, LA_Name, LA_Area_Code, Region.

    Raises:
        UnusableInput: missing columns or a repeated LA_Code.
    """
    read = _read_any(source, "LA lookup")
    what = _label(source, "LA lookup")
    table = _conform(read, LA_LOOKUP_COLUMNS, what)
    seen: set[str] = set()
    for n, code in enumerate(table.column("LA_Code").to_pylist(), read[1]):
        if code is None or code in seen:
            raise UnusableInput(
                f"{what}, row {n}, field LA_Code: {'empty' if code is None else 'repeated'}; codes must be present "
                "and unique."
            )
        seen.add(code)
    return table


def read_discharges(source: str | Path | pa.Table) -> pa.Table:
    """Read hospital discharge spells (SUS APC episodes) for ASCOF 2D in the documented layout.

    `Der_NHS_Number_Traced_Pseudo` is accepted as the name of the pseudonymised NHS number column.
    Codes are kept as text (`'31'`, `'EM'`); APCS_Last_Ep_Ind is 1 for the last episode of a spell.
    """
    return _conform(
        _read_any(source, "discharges"),
        DISCHARGE_COLUMNS,
        _label(source, "discharges"),
        optional=DISCHARGE_OPTIONAL,
        aliases=DISCHARGE_ALIASES,
    )


def read_lsoa_lookup(source: str | Path | pa.Table) -> pa.Table:
    """Read the LSOA 2011 → upper-tier local authority 2023 lookup (`REF_ONS_LSOA11_UTLA23_Lookup`)."""
    return _conform(_read_any(source, "LSOA lookup"), LSOA_LOOKUP_COLUMNS, _label(source, "LSOA lookup"))


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
    turn NULL text into 'NaN'. DuckDB gets a temporary table.
    """
    if isinstance(data, ir.Table):
        return data
    view = f"__ascld_{name}_{uuid.uuid4().hex[:12]}"
    if getattr(con, "name", "") == "pyspark":
        con._session.createDataFrame(data).createOrReplaceTempView(view)
        return con.table(view)
    # A table of `con`, not a bare memtable: a query of the memtable alone (the one-spelling pass) would run on
    # Ibis's default DuckDB connection, without the settings `ascld.engine` gives a connection.
    return con.create_view(view, ibis.memtable(data))


def write_csv_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a small CSV (used to regenerate the synthetic files)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
