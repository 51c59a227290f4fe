"""Test-support script: ingest a fixed set of synthetic returns and print a digest of everything stored.

    .venv/bin/python tests/national/store_digest.py [--sample-rows 20000] [--out FILE]

Used to show that a change to the ingest stage (tracing, pseudonymisation, derivations, Parquet writing)
leaves every stored value as it was: run it on the code before and after the change and compare the output,
which must be identical. It covers both ways in: `ingest_files` (validator first, DQ codes stored) and
`ingest_table` on rows already in DuckDB, with and without tracing and a postcode lookup, council names, carers'
linked IDs, person IDs differing only in case and spaces, blanks and the text NULL, bad NHS numbers, a return
lacking optional columns, a second council and a resubmission; plus a larger return from the validator's
sample generator.

For every import: its register entry (without the times that vary from run to run: `registered_at` and
`details.seconds`), the Arrow schema and a SHA-256 of each column of `rows.parquet` and `dq.parquet` with the
rows sorted by `Der_Unique_Record_ID`, and one over the whole file. Only digests are printed, never values.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest_fixtures as fx  # noqa: E402

from ascld.identity import PseudoKey, Pseudonymiser, load_demographic_index, load_postcode_lookup  # noqa: E402
from ascld.national.ingest import ingest_files, ingest_table  # noqa: E402
from ascld.national.store import NationalStore  # noqa: E402

KEY = PseudoKey.from_text("3c" * 32)


def _column_digest(col: pa.ChunkedArray) -> str:
    h = hashlib.sha256()
    h.update(str(col.type).encode())
    for v in col.to_pylist():
        h.update(b"\x00N" if v is None else b"\x00V" + repr(v).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


def _table_digest(path: Path) -> dict:
    t = pq.read_table(path)
    t = t.sort_by([("Der_Unique_Record_ID", "ascending")])
    cols = {name: _column_digest(t.column(name)) for name in t.column_names}
    whole = hashlib.sha256(json.dumps(cols, sort_keys=True).encode() + str(t.schema).encode()).hexdigest()[:16]
    return {
        "rows": t.num_rows,
        "schema": hashlib.sha256(str(t.schema).encode()).hexdigest()[:16],
        "whole": whole,
        "columns": cols,
    }


def store_digest(root: Path) -> dict:
    store = NationalStore(root)
    out = {"store": {k: v for k, v in store.store_info().items() if k != "created"}, "imports": []}
    for rec in store.imports():
        entry = json.loads(json.dumps(rec.__dict__, default=str))
        entry.pop("registered_at", None)
        entry["details"].pop("seconds", None)
        entry["rows_digest"] = _table_digest(root / rec.rows_file)
        entry["dq_digest"] = _table_digest(root / rec.dq_file) if rec.dq_file else None
        out["imports"].append(entry)
    return out


def _edge_rows(people: list[fx.Person], la: str) -> list[dict[str, str]]:
    rows = fx.return_rows(people, la, seed=11)
    rows[0]["NHS_Number"] = "9990000017"  # bad check digit
    rows[1]["NHS_Number"] = ""  # blank: traced by name
    rows[2]["NHS_Number"] = " " + people[1].nhs[:3] + " " + people[1].nhs[3:6] + " " + people[1].nhs[6:]
    rows[3]["LA_Person_Unique_Identifier"] = " " + people[1].la_pid.lower() + " "  # same person, other spelling
    rows[4]["Postcode"] = "null"
    rows[5]["Gender"] = "NULL"
    rows[6]["Date_of_Birth"] = "31/02/1950"
    rows[7]["LA_Code"] = f" {la} "
    rows[8]["Event_Description"] = "First conversation, by phone"
    rows[9]["Postcode"] = "zz99 3vz"
    rows[10]["Last_Name"] = ""
    rows[11]["Unit_Cost"] = " 12.5 "
    rows[12]["Planned_units_per_week"] = "x"
    rows[13]["No_of_adults_being_cared_for"] = "2"
    rows[14]["First_Name"] = "Zainab"  # a second given name: many candidates, given name decides
    rows[15]["Date_of_Birth"] = "1/2/1950"
    rows += [fx.carer_row(people[0], people[1], la), fx.carer_row(people[2], people[3], la)]
    rows[-1]["Adult_2_Linked_Person_ID"] = people[4].la_pid.lower()
    rows[-1]["Adult_3_Linked_Person_ID"] = "NOT-A-PERSON"
    return rows


def build(work: Path, sample_rows: int) -> Path:
    a = fx.make_people(60, seed=21, la_code="503")
    b = fx.make_people(45, seed=22, la_code="504", start=2000)
    index_people = a[:-5] + b  # the last five of a are not in the index
    index_csv = fx.write_index(work / "index.csv", index_people)
    lookup_csv = fx.write_lookup(work / "lookup.csv")
    store_root = work / "store"

    # 1-2: through the validator, traced, lookup and council names; then a second council
    f1 = fx.write_return_csv(work / "la503.csv", _edge_rows(a, "503"))
    f2 = fx.write_return_csv(work / "la504.csv", fx.return_rows(b, "504", seed=5))
    ingest_files(
        [f1, f2],
        store_root,
        key=KEY,
        index=index_csv,
        postcodes=lookup_csv,
        import_date="2025-04-20",
        la_names={"503": "Northam"},
    )
    store = NationalStore(store_root)
    pseudo = Pseudonymiser(KEY)

    # 3: ingest_table, not traced, the bundled lookup, a resubmission of council 503 with changes
    con = duckdb.connect()
    rows3 = _edge_rows(a, "503")[5:]
    rows3[0]["LA_Person_Unique_Identifier"] = a[7].la_pid.upper() + "  "
    fx.load_rows(con, rows3)
    ingest_table(
        con,
        "raw",
        store,
        pseudonymiser=pseudo,
        sha256="digest-3",
        load_file_name="t3.csv",
        import_date="2025-07-20T10:11:12.345678",
        index=None,
        postcodes=load_postcode_lookup(None),
    )

    # 4: ingest_table lacking optional columns (no postcode, no linked IDs), traced, no lookup
    con = duckdb.connect()
    fx.load_rows(con, fx.return_rows(b[:20], "504", seed=9))
    for c in (
        "Postcode",
        "Adult_1_Linked_Person_ID",
        "Adult_2_Linked_Person_ID",
        "Adult_3_Linked_Person_ID",
        "Event_Description",
        "First_Name",
    ):
        con.execute(f'ALTER TABLE raw DROP COLUMN "{c}"')
    ingest_table(
        con,
        "raw",
        store,
        pseudonymiser=pseudo,
        sha256="digest-4",
        load_file_name="t4.csv",
        import_date="2025-07-21",
        index=load_demographic_index(index_csv),
        postcodes=None,
    )

    # 5: ingest_table without __row (row numbers from load order)
    con = duckdb.connect()
    fx.load_rows(con, fx.return_rows(a[:10], "503", seed=13))
    con.execute("ALTER TABLE raw DROP COLUMN __row")
    ingest_table(
        con,
        "raw",
        store,
        pseudonymiser=pseudo,
        sha256="digest-5",
        load_file_name="t5.csv",
        import_date="2025-07-22",
        index=load_demographic_index(index_csv),
        postcodes=load_postcode_lookup(lookup_csv),
        la_names={"503": "Northam"},
    )

    # 6: the validator's sample return, traced against an index of its own people (as benchmarks/ingest.py)
    if sample_rows:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
        import ingest as bench

        path, index = bench.make_single(work, sample_rows)
        ingest_files([path], store_root, key=KEY, index=index, import_date=bench.SINGLE_IMPORT_DATE)
    return store_root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample-rows", type=int, default=20000)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ascld-store-digest-") as tmp:
        root = build(Path(tmp), args.sample_rows)
        text = json.dumps(store_digest(root), indent=1, sort_keys=True) + "\n"
    if args.out:
        args.out.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
