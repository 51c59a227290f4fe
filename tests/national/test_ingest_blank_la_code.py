"""A blank LA Code cell never leaves a store the main tables refuse.

The main tables identify a submission by LA_Code, LA_Name and ImportDate on every row (main-tables.md §2) and
refuse a store with a NULL in them. Ingest stored a row with a blank LA Code (a field failure only) with NULL
there, so one council's one blank cell made every national build fail, for every council. Such a row is now
the file's council's (one LA per file, spec §3), as its person-ID pseudonyms already were; a file in which no
row names a council is refused, with nothing stored.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import ingest_fixtures as fx

from ascld.identity import PseudoKey
from ascld.national.ingest import ingest_files
from ascld.national.main_tables import BuildParams, build_main_tables

KEY = PseudoKey.from_text("4d" * 32)
WHEN = dt.datetime(2025, 4, 20, 9)


def _stored(store):
    return duckdb.sql(
        f"SELECT LA_Code, LA_Name, count(*) FROM read_parquet('{store}/data/*/*/rows.parquet') GROUP BY ALL ORDER BY 1"
    ).fetchall()


def test_a_row_with_a_blank_la_code_is_the_files_council_and_the_build_runs(tmp_path):
    rows = fx.return_rows(fx.make_people(20), la_code="503")
    rows[3]["LA_Code"] = ""
    rows[7]["LA_Code"] = "   "
    f = fx.write_return_csv(tmp_path / "503.csv", rows)
    store = tmp_path / "store"
    report = ingest_files([f], store, key=KEY, import_date=WHEN, la_names={"503": "Southby"})
    assert [o.status for o in report.outcomes] == ["stored"]
    assert _stored(store) == [("503", "Southby", len(rows))]
    result = build_main_tables(
        store, BuildParams("single", dt.date(2024, 4, 1), dt.date(2025, 3, 31), as_of=dt.date(2025, 5, 1)),
        out_dir=tmp_path / "out", hash_inputs=False,
    )
    assert result.row_counts["store"] == len(rows)


def test_a_file_with_no_la_code_on_any_row_is_refused_and_nothing_is_stored(tmp_path):
    rows = fx.return_rows(fx.make_people(5), la_code="503")
    for r in rows:
        r["LA_Code"] = ""
    blank = fx.write_return_csv(tmp_path / "blank.csv", rows)
    good = fx.write_return_csv(tmp_path / "good.csv", fx.return_rows(fx.make_people(5, start=50), la_code="318"))
    store = tmp_path / "store"
    report = ingest_files([blank, good], store, key=KEY, import_date=WHEN)
    assert [o.status for o in report.outcomes] == ["refused", "stored"]
    assert report.exit_code == 1
    assert "no row has an LA Code" in report.outcomes[0].message
    assert _stored(store) == [("318", "318", len(rows))]


def test_an_la_code_written_as_the_text_null_is_blank(tmp_path):
    # spec/README.md §3 and issue 4: "The literal text NULL counts as blank"; a blank LA Code cell is the file's
    # council's (docs/national-store.md, LA_Code), so 'NULL' there is stored as the council's code, not as a
    # council called NULL, and its person IDs are pseudonymised in that council's domain.
    rows = fx.return_rows(fx.make_people(20), la_code="503")
    rows[3]["LA_Code"] = "NULL"
    rows[7]["LA_Code"] = " null "
    f = fx.write_return_csv(tmp_path / "503.csv", rows)
    store = tmp_path / "store"
    report = ingest_files([f], store, key=KEY, import_date=WHEN, la_names={"503": "Southby"})
    assert [o.status for o in report.outcomes] == ["stored"]
    assert _stored(store) == [("503", "Southby", len(rows))]
    same = [dict(r) for r in rows]
    same[3]["LA_Code"] = same[7]["LA_Code"] = "503"
    g = fx.write_return_csv(tmp_path / "503b.csv", same)
    other = tmp_path / "other"
    ingest_files([g], other, key=KEY, import_date=WHEN, la_names={"503": "Southby"})
    pids = (
        "SELECT Der_Unique_Record_ID, LA_Person_Unique_Identifier "
        "FROM read_parquet('{}/data/*/*/rows.parquet') ORDER BY 1"
    )
    assert duckdb.sql(pids.format(store)).fetchall() == duckdb.sql(pids.format(other)).fetchall()


def test_a_file_whose_every_la_code_is_the_text_null_is_refused(tmp_path):
    # As a file with no LA Code on any row (the landing service refuses it too: check L001).
    rows = fx.return_rows(fx.make_people(5), la_code="503")
    for r in rows:
        r["LA_Code"] = "NULL"
    f = fx.write_return_csv(tmp_path / "null.csv", rows)
    report = ingest_files([f], tmp_path / "store", key=KEY, import_date=WHEN)
    assert [o.status for o in report.outcomes] == ["refused"]
    assert "no row has an LA Code" in report.outcomes[0].message
