"""The store's columns: every submitted column accounted for; rows match the main-tables contract."""

from __future__ import annotations

import duckdb
import ingest_fixtures as fx
import pyarrow.parquet as pq
import pytest

from ascld.identity import PseudoKey, Pseudonymiser
from ascld.national import ingest as ing
from ascld.national.store import NationalStore, store_arrow_schema
from ascld.spec import load_spec


def test_every_submitted_column_is_classified_exactly_once():
    groups = [ing.PASS_THROUGH_TEXT, ing.CONVERTED, ing.PSEUDONYMISED, ing.DERIVED_THEN_DROPPED, ing.DROPPED]
    classified = [c for g in groups for c in g]
    assert sorted(classified) == sorted(load_spec().columns)
    assert len(classified) == len(set(classified))


def test_identifiers_are_never_passed_through():
    spec = load_spec()
    stored_raw = set(ing.PASS_THROUGH_TEXT) | set(ing.CONVERTED)
    identifiers = {f.column for f in spec.fields if f.identifier}
    assert identifiers and not identifiers & stored_raw
    assert identifiers <= set(ing.PSEUDONYMISED) | set(ing.DERIVED_THEN_DROPPED) | set(ing.DROPPED)


def test_written_rows_have_the_declared_schema_and_meet_the_main_tables_contract(tmp_path):
    store = NationalStore(tmp_path / "store")
    con = duckdb.connect()
    fx.load_rows(con, fx.return_rows(fx.make_people(3)))
    ing.ingest_table(con, "raw", store, pseudonymiser=Pseudonymiser(PseudoKey.from_text("11" * 32)),
                     sha256="s", load_file_name="s.csv")
    written = pq.read_schema(store.row_files()[0])
    assert [(f.name, f.type) for f in written] == [(f.name, f.type) for f in store_arrow_schema()]

    schema = pytest.importorskip("ascld.national.main_tables.schema")
    contract = schema.national_store_arrow_schema()
    for f in contract:
        assert written.field(f.name).type == f.type, f.name
    schema.conform_store(store.table())  # raises if anything is missing or of the wrong type
