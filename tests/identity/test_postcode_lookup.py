"""Postcode → area lookup in the ONS Postcode Directory layout."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ascld.errors import UsageError
from ascld.identity.postcode import postcode_sector
from ascld.identity.postcodes import (
    DER_POSTCODE_COLUMNS,
    LOOKUP_COLUMNS,
    PostcodeLookup,
    load_postcode_lookup,
    sql_postcode_key,
    sql_postcode_sector,
)

HEADER = ",".join(LOOKUP_COLUMNS)


def write_lookup(path, rows, header=HEADER):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def row(pcds, *, laua="E06000001", ward="E05000001", doterm="", lsoa21="E01000001", msoa21="E02000001"):
    pc7 = pcds.replace(" ", "")
    values = {
        "pcd7": pc7, "pcd8": pcds, "pcds": pcds, "dointr": "198001", "doterm": doterm, "oslaua": laua,
        "osward": ward, "pcon": "E14000001", "lsoa11": "E01011111", "msoa11": "E02011111", "lsoa21": lsoa21,
        "msoa21": msoa21, "sicbl": "E38000001", "ctry": "E92000001", "rgn": "E12000001",
    }
    return ",".join(values[c] for c in LOOKUP_COLUMNS)


def test_lookup_maps_postcodes_to_der_columns(tmp_path):
    path = write_lookup(tmp_path / "pc.csv", [row("AB1 2CD"), row("ZX9 9ZZ", laua="E07000002")])
    con = duckdb.connect()
    PostcodeLookup(path).register(con, "pc")
    got = con.execute(
        "SELECT pc_key, Der_Postcode_District_Unitary_Authority, Der_Postcode_Local_Authority, "
        "Der_Postcode_LSOA_Code, Der_Postcode_yr2011_MSOA, Der_Postcode_CCG_Code FROM pc ORDER BY 1"
    ).fetchall()
    assert got == [
        ("AB12CD", "E06000001", "E06000001", "E01000001", "E02011111", "E38000001"),
        ("ZX99ZZ", "E07000002", "E07000002", "E01000001", "E02011111", "E38000001"),
    ]
    cols = [r[0] for r in con.execute("DESCRIBE pc").fetchall()]
    assert cols == ["pc_key", *DER_POSTCODE_COLUMNS]


def test_county_is_the_local_authority_in_two_tier_areas(tmp_path):
    path = tmp_path / "pc.csv"
    path.write_text(
        "pcds,oslaua,oscty,osward\nAB1 2CD,E07000010,E10000001,W1\nAB1 2CE,E06000001,E99999999,W2\n"
    )
    con = duckdb.connect()
    PostcodeLookup(path).register(con, "pc")
    got = dict(con.execute("SELECT pc_key, Der_Postcode_Local_Authority FROM pc").fetchall())
    assert got == {"AB12CD": "E10000001", "AB12CE": "E06000001"}
    # columns the file lacks come back NULL rather than failing
    assert con.execute("SELECT count(*) FROM pc WHERE Der_Postcode_LSOA_Code IS NULL").fetchall() == [(2,)]


def test_live_row_wins_over_terminated_duplicate(tmp_path):
    rows = [row("AB1 2CD", ward="OLD", doterm="200101"), row("AB12CD", ward="NEW")]
    path = write_lookup(tmp_path / "pc.csv", rows)
    con = duckdb.connect()
    PostcodeLookup(path).register(con, "pc")
    assert con.execute("SELECT Der_Postcode_Electoral_Ward FROM pc").fetchall() == [("NEW",)]


def test_keys_from_limits_what_is_loaded(tmp_path):
    path = write_lookup(tmp_path / "pc.csv", [row("AB1 2CD"), row("AB1 2CE")])
    con = duckdb.connect()
    con.execute("CREATE TABLE wanted AS SELECT 'AB12CE' AS pc_key")
    PostcodeLookup(path).register(con, "pc", keys_from="wanted")
    assert con.execute("SELECT pc_key FROM pc").fetchall() == [("AB12CE",)]


def test_parquet_lookup(tmp_path):
    csv = write_lookup(tmp_path / "pc.csv", [row("AB1 2CD")])
    pq = tmp_path / "pc.parquet"
    duckdb.execute(f"COPY (SELECT * FROM read_csv('{csv}', all_varchar=true)) TO '{pq}' (FORMAT parquet)")
    con = duckdb.connect()
    PostcodeLookup(pq).register(con, "pc")
    assert con.execute("SELECT count(*) FROM pc").fetchall() == [(1,)]


def test_lookup_without_postcode_or_district_column_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("postcode,district\nAB1 2CD,E1\n")
    with pytest.raises(UsageError, match="ONS Postcode Directory"):
        PostcodeLookup(path).register(duckdb.connect(), "pc")


def test_missing_lookup_path_refused(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_postcode_lookup(tmp_path / "absent.csv")


postcodes = st.one_of(
    st.from_regex(r"[A-Z]{1,2}[0-9][0-9A-Z]? ?[0-9][A-Z]{2}", fullmatch=True),
    st.sampled_from(["ZZ99 3VZ", "GIR 0AA", "gir0aa", " sw1a 1aa ", "", "A", "AB1", "QQ1 1AA", "EC1A1BB"]),
    st.text(alphabet="ABCXYZ0129 ", max_size=9),
    # white space of any kind, as `normalise_postcode` and the validator remove it (a no-break space is 0xA0 in
    # Windows-1252 and comes from spreadsheets)
    st.tuples(
        st.sampled_from(["", "\u00a0", "\t", "\u2003"]),
        st.sampled_from(["SW1A", "ZX1", "AB12"]),
        st.sampled_from([" ", "\u00a0", "\u202f", "\x1c", "\u3000", "\x0b", ""]),
        st.sampled_from(["1AA", "2WT"]),
        st.sampled_from(["", "\u00a0", "\x85"]),
    ).map("".join),
)


_CON = duckdb.connect()


def test_sql_sector_and_key_remove_white_space_of_any_kind():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 'sw1a' || chr(160) || '1aa' AS a, chr(160) || 'SW1A 1AA' AS b")
    got = con.execute(f"SELECT {sql_postcode_sector('a')}, {sql_postcode_key('b')} FROM t").fetchone()
    assert got == ("SW1A 1", "SW1A1AA") and postcode_sector("sw1a\u00a01aa") == "SW1A 1"


@settings(max_examples=200, deadline=None)
@given(st.lists(postcodes, min_size=1, max_size=20))
def test_sql_sector_agrees_with_python_rule(values):
    con = _CON
    con.execute("CREATE OR REPLACE TABLE t (pc VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    got = [r[0] for r in con.execute(f"SELECT {sql_postcode_sector('pc')} FROM t ORDER BY rowid").fetchall()]
    assert got == [postcode_sector(v) for v in values]
