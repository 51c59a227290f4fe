"""Postcode → area lookup in the ONS Postcode Directory (ONSPD) CSV layout.

National processing replaces a person's postcode by its sector and the areas it lies in (spec/README.md §8).
The lookup is a CSV (or Parquet) file with the ONSPD column names; ascld reads only these, ignoring others:

| column | meaning | stored as |
|---|---|---|
| `pcds` (or `pcd7`, `pcd8`, `pcd`) | the postcode, in any spacing | join key (upper case, no spaces) |
| `dointr`, `doterm` | introduced / terminated (yyyymm); terminated postcodes still map | live rows win ties |
| `oslaua` | local authority district or unitary authority | `Der_Postcode_District_Unitary_Authority` |
| `oscty` (optional) | county (`E99999999` = none) | `Der_Postcode_Local_Authority` when real |
| `osward` | electoral ward | `Der_Postcode_Electoral_Ward` |
| `pcon` | parliamentary constituency | `Der_Postcode_Constituency_Code` |
| `lsoa21`, `msoa21` | 2021-census LSOA / MSOA | `Der_Postcode_LSOA_Code`, `Der_Postcode_MSOA_Code` |
| `lsoa11`, `msoa11` | 2011-census LSOA / MSOA | `Der_Postcode_yr2011_LSOA`, `Der_Postcode_yr2011_MSOA` |
| `sicbl` (or `ccg`) | sub-ICB location (formerly CCG) | `Der_Postcode_CCG_Code` |
| `ctry`, `rgn` | country, region | read, not stored |

`Der_Postcode_Local_Authority` is the council with social-services responsibility for the address: the county
in two-tier areas, otherwise the district or unitary authority. A column the file lacks gives NULLs.

A small synthetic lookup ships with ascld (`data/postcode_lookup_synthetic.csv`) for tests and the demo; the
full directory is loaded from a path. Converting the full directory to Parquet once makes every ingest faster.

Examples:
    >>> import duckdb
    >>> duckdb.sql("SELECT " + sql_postcode_sector("' sw1a1aa'")).fetchall()
    [('SW1A 1',)]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ascld.errors import UsageError
from ascld.identity.postcode import _INWARD, _OUTWARD
from ascld.identity.readable import why_unreadable

KEY_COLUMNS = ("pcds", "pcd7", "pcd8", "pcd")
LOOKUP_COLUMNS = (
    "pcd7", "pcd8", "pcds", "dointr", "doterm", "oslaua", "osward", "pcon", "lsoa11", "msoa11", "lsoa21",
    "msoa21", "sicbl", "ctry", "rgn",
)

# Stored column -> SQL over the lookup's columns (names in LOOKUP_COLUMNS plus the optional oscty / ccg).
DER_POSTCODE_COLUMNS: dict[str, str] = {
    "Der_Postcode_Constituency_Code": "pcon",
    "Der_Postcode_District_Unitary_Authority": "oslaua",
    "Der_Postcode_Electoral_Ward": "osward",
    "Der_Postcode_Local_Authority": "coalesce(oscty_real, oslaua)",
    "Der_Postcode_CCG_Code": "coalesce(sicbl, ccg)",
    "Der_Postcode_LSOA_Code": "lsoa21",
    "Der_Postcode_MSOA_Code": "msoa21",
    "Der_Postcode_yr2011_LSOA": "lsoa11",
    "Der_Postcode_yr2011_MSOA": "msoa11",
}
# Every stored postcode-derived column, sector first (the sector comes from the submitted postcode itself).
DER_POSTCODE_FIELDS = ("Der_Postcode_Sector", *DER_POSTCODE_COLUMNS)

_OPTIONAL = ("oscty", "ccg")
_NO_COUNTY = ("", "E99999999", "W99999999", "S99999999", "N99999999", "L99999999", "M99999999")
BUNDLED_LOOKUP = Path(__file__).parent / "data" / "postcode_lookup_synthetic.csv"

# The postcode format of ascld.identity.postcode, restated for SQL over the compact (space-free) form.
_COMPACT_VALID = rf"^({_OUTWARD})({_INWARD})$"


def sql_postcode_key(column: str) -> str:
    """SQL for the join key of a postcode: upper case with white space of any kind removed (as
    `ascld.identity.postcode.normalise_postcode` and the validator's postcode check remove it: RE2's `\\s` is
    ASCII only and would keep a no-break space)."""
    from ascld.quality.sqlgen import WS_CLASS

    return f"upper(regexp_replace({column}, '{WS_CLASS}+', '', 'g'))"


def sql_postcode_sector(column: str) -> str:
    """SQL for the postcode sector ('SW1A 1') of a submitted postcode, NULL when malformed or a ZZ99 pseudo
    postcode; the same rule as `ascld.identity.postcode.postcode_sector`."""
    key = sql_postcode_key(column)
    return (
        f"CASE WHEN regexp_full_match({key}, '{_COMPACT_VALID}') OR {key} = 'GIR0AA' "
        f"THEN left({key}, length({key}) - 3) || ' ' || substr({key}, length({key}) - 2, 1) END"
    )


def bundled_postcode_lookup() -> Path | None:
    """The synthetic lookup shipped with ascld, if this install has it."""
    return BUNDLED_LOOKUP if BUNDLED_LOOKUP.exists() else None


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class PostcodeLookup:
    """A postcode directory file in the ONSPD layout (CSV, optionally gzipped, or Parquet).

    Args:
        path: the file.
    """

    path: Path

    def _reader(self) -> str:
        if self._parquet():
            return f"read_parquet({_sql_str(str(self.path))})"
        return (
            f"read_csv({_sql_str(str(self.path))}, header=true, all_varchar=true, auto_detect=true, "
            "sample_size=-1)"
        )

    def columns(self, con: Any) -> list[str]:
        """The file's column names (lower case)."""
        rows = con.execute(f"DESCRIBE SELECT * FROM {self._reader()}").fetchall()
        return [r[0].lower() for r in rows]

    def register(self, con: Any, name: str, keys_from: str | None = None) -> str:
        """Create a temporary DuckDB table `name(pc_key, Der_Postcode_...)`, one row per postcode key.

        Args:
            con: a DuckDB connection.
            name: the table to create (replaced if present).
            keys_from: optional SQL table with a `pc_key` column; only those postcodes are loaded (keeps
                memory small with the full directory).

        Raises:
            UsageError: the file cannot be read (the reason and row are named, never a value of the file), or it
                has no postcode column or no `oslaua` column.
        """
        try:
            found = self.columns(con)
        except Exception:  # noqa: BLE001 - any read failure is a user file problem
            # DuckDB's message quotes a line of the file: name the problem from the file itself instead.
            raise self._refuse(why_unreadable(self.path) or "it cannot be read as CSV or Parquet") from None
        real = {c.lower(): c for c in found}
        key_col = next((real[c] for c in KEY_COLUMNS if c in real), None)
        if key_col is None or "oslaua" not in real:
            # One column: a ragged or mis-encoded CSV the sniffer could not split.
            reason = why_unreadable(self.path) if len(found) == 1 and not self._parquet() else None
            raise self._refuse(
                reason or f"it needs a postcode column ({', '.join(KEY_COLUMNS)}) and oslaua (ONS Postcode "
                "Directory layout)"
            )
        wanted = ("doterm", "dointr", "oslaua", "osward", "pcon", "lsoa11", "msoa11", "lsoa21", "msoa21",
                  "sicbl", *_OPTIONAL)
        select = [
            f"nullif(trim(CAST(\"{real[c]}\" AS VARCHAR)), '') AS {c}" if c in real
            else f"NULL::VARCHAR AS {c}"
            for c in wanted
        ]
        no_county = ", ".join(_sql_str(v) for v in _NO_COUNTY)
        key = sql_postcode_key(f'CAST("{key_col}" AS VARCHAR)')
        filt = f"WHERE pc_key IN (SELECT pc_key FROM {keys_from})" if keys_from else "WHERE pc_key <> ''"
        derived = ", ".join(f"{expr} AS {col}" for col, expr in DER_POSTCODE_COLUMNS.items())
        sql = (
            f"""
            CREATE OR REPLACE TEMP TABLE {name} AS
            WITH src AS (
                SELECT {key} AS pc_key, {", ".join(select)} FROM {self._reader()}
            ), ranked AS (
                SELECT *, CASE WHEN oscty IN ({no_county}) THEN NULL ELSE oscty END AS oscty_real,
                       row_number() OVER (PARTITION BY pc_key
                                          ORDER BY (doterm IS NULL) DESC, dointr DESC NULLS LAST) AS rn
                FROM src {filt}
            )
            SELECT pc_key, {derived} FROM ranked WHERE rn = 1
            """
        )
        try:
            con.execute(sql)
        except Exception:  # noqa: BLE001 - a row the first look did not reach cannot be read
            raise self._refuse(why_unreadable(self.path) or "it cannot be read as CSV or Parquet") from None
        if keys_from is None and not con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]:
            con.execute(f"DROP TABLE {name}")
            raise self._refuse("it has no postcode rows; give the full directory")
        return name

    def _parquet(self) -> bool:
        return self.path.name.lower().endswith(".parquet")

    def _refuse(self, reason: str) -> UsageError:
        return UsageError(
            f"the postcode lookup {self.path} cannot be used: {reason}. See docs/national-store.md for the layout."
        )


def load_postcode_lookup(path: str | Path | None = None) -> PostcodeLookup | None:
    """A postcode lookup from a path, else the bundled synthetic one (None if neither exists).

    Raises:
        UsageError: the path does not exist.
    """
    if path is None:
        bundled = bundled_postcode_lookup()
        return PostcodeLookup(bundled) if bundled else None
    p = Path(path)
    if not p.exists():
        raise UsageError(f"the postcode lookup {p} does not exist. Give the path of an ONSPD-layout CSV.")
    return PostcodeLookup(p)
