"""PDS-style batch tracing against a demographic index: every outcome, and the SQL keys' agreement with the
Python identity rules."""

from __future__ import annotations

import csv

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ascld.errors import UsageError
from ascld.identity.nhs_number import check_nhs_number, make_nhs_number
from ascld.identity.tracing import (
    INDEX_COLUMNS,
    MANY_MATCHES,
    MATCH,
    NO_MATCH,
    POTENTIAL_MATCH,
    TRACE_OUTCOMES,
    install_identity_macros,
    load_demographic_index,
    trace_people,
)

N = [make_nhs_number(i) for i in range(1, 40)]
N = [n for n in N if n]

INDEX = [
    # nhs, family, given, dob, gender, postcode
    (N[0], "Smith", "Anna", "1950-01-02", "Female", "AB1 2CD"),
    (N[1], "Jones", "Bryn", "1960-03-04", "Male", "AB1 2CE"),
    # two Browns born the same day, same sex, different postcodes and given names
    (N[2], "Brown", "Carys", "1970-05-06", "Female", "XY1 1AA"),
    (N[3], "Brown", "Delyth", "1970-05-06", "Female", "XY2 2BB"),
    # two Greens, same day, same postcode, different given names
    (N[4], "Green", "Evan", "1980-07-08", "Male", "XY3 3CC"),
    (N[5], "Green", "Ffion", "1980-07-08", "Male", "XY3 3CC"),
    # three Whites, same everything except given names (two share one)
    (N[6], "White", "Gwyn", "1990-09-10", "Male", "XY4 4DD"),
    (N[7], "White", "Gwyn", "1990-09-10", "Male", "XY4 4DD"),
    (N[8], "O'Neil-Ward", "Huw", "1945-11-12", "Male", "XY5 5EE"),
]


@pytest.fixture()
def index_file(tmp_path):
    path = tmp_path / "index.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(INDEX_COLUMNS)
        for nhs, fam, given, dob, gender, pc in INDEX:
            w.writerow([nhs[:3] + " " + nhs[3:6] + " " + nhs[6:], fam, given, dob, gender, pc, ""])
    return path


def run_trace(index_file, people):
    """people: list of (nhs, family, given, dob ISO, gender, postcode) as submitted."""
    con = duckdb.connect()
    load_demographic_index(index_file).register(con, "idx")
    con.execute(
        "CREATE TABLE raw (i INT, nhs VARCHAR, fam VARCHAR, given VARCHAR, dob VARCHAR, g VARCHAR, "
        "pc VARCHAR)"
    )
    con.executemany("INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?, ?)", [[i, *p] for i, p in enumerate(people)])
    con.execute(
        """CREATE VIEW people AS SELECT i, ascld_nhs_key(nhs) AS nhs_key, TRY_CAST(dob AS DATE) AS dob,
                  ascld_name_key(fam) AS fam_key, ascld_name_key(given) AS given_key,
                  ascld_gender_key(g) AS gender_key, ascld_pc_key(pc) AS pc_key FROM raw"""
    )
    trace_people(con, "people", "idx", "traced")
    rows = con.execute(
        """SELECT p.i, t.trace_outcome, t.traced_nhs, t.trace_method FROM people p JOIN traced t
           ON p.nhs_key IS NOT DISTINCT FROM t.nhs_key AND p.dob IS NOT DISTINCT FROM t.dob
          AND p.fam_key IS NOT DISTINCT FROM t.fam_key AND p.given_key IS NOT DISTINCT FROM t.given_key
          AND p.gender_key IS NOT DISTINCT FROM t.gender_key AND p.pc_key IS NOT DISTINCT FROM t.pc_key
          ORDER BY p.i"""
    ).fetchall()
    assert [r[0] for r in rows] == list(range(len(people)))
    return [(r[1], r[2], r[3]) for r in rows]


def test_cross_check_match_on_nhs_number_and_dob(index_file):
    # names and postcode wrong or missing do not matter once NHS number and date of birth agree
    assert run_trace(index_file, [(N[0], None, None, "1950-01-02", None, None)]) == [
        (MATCH, N[0], "cross_check")
    ]


def test_wrong_nhs_number_is_corrected_by_alphanumeric_trace(index_file):
    got = run_trace(index_file, [(N[20], "SMITH", "anna", "1950-01-02", "F", "ab12cd")])
    assert got == [(MATCH, N[0], "alphanumeric")]


def test_dob_mismatch_falls_through_to_alphanumeric(index_file):
    got = run_trace(index_file, [(N[1], "Jones", "Bryn", "1961-03-04", "Male", "AB1 2CE")])
    assert got == [(NO_MATCH, None, None)]


def test_match_without_nhs_number_needs_postcode(index_file):
    got = run_trace(
        index_file,
        [
            (None, "Jones", "Bryn", "1960-03-04", "Male", "AB1 2CE"),  # full details → Match
            (None, "Jones", "Bryn", "1960-03-04", "Male", "ZZ9 9ZZ"),  # postcode disagrees → Potential
            (None, "Jones", None, "1960-03-04", "Male", None),  # no postcode → Potential
        ],
    )
    assert got == [(MATCH, N[1], "alphanumeric"), (POTENTIAL_MATCH, None, "alphanumeric"),
                   (POTENTIAL_MATCH, None, "alphanumeric")]


def test_many_matches_and_tie_breaks(index_file):
    got = run_trace(
        index_file,
        [
            (None, "Brown", None, "1970-05-06", "Female", None),  # two Browns, nothing to choose → Many
            (None, "Brown", "Delyth", "1970-05-06", "Female", None),  # given name picks one → Potential
            (None, "Brown", "Carys", "1970-05-06", "Female", "XY1 1AA"),  # postcode picks one → Match
            (None, "Green", None, "1980-07-08", "Male", "XY3 3CC"),  # postcode shared → Many
            (None, "Green", "Ffion", "1980-07-08", "Male", "XY3 3CC"),  # given name picks one → Match
            (None, "White", "Gwyn", "1990-09-10", "Male", "XY4 4DD"),  # identical twins of record → Many
        ],
    )
    assert got == [
        (MANY_MATCHES, None, "alphanumeric"), (POTENTIAL_MATCH, None, "alphanumeric"),
        (MATCH, N[2], "alphanumeric"), (MANY_MATCHES, None, "alphanumeric"),
        (MATCH, N[5], "alphanumeric"), (MANY_MATCHES, None, "alphanumeric"),
    ]


def test_gender_must_be_compatible_and_present(index_file):
    got = run_trace(
        index_file,
        [
            (None, "Smith", "Anna", "1950-01-02", "Male", "AB1 2CD"),  # wrong sex
            (None, "Smith", "Anna", "1950-01-02", None, "AB1 2CD"),  # no gender: no alphanumeric trace
            (None, "Smith", "Anna", "1950-01-02", "Unknown", "AB1 2CD"),  # unknown is compatible
        ],
    )
    assert got == [(NO_MATCH, None, None), (NO_MATCH, None, None), (MATCH, N[0], "alphanumeric")]


def test_names_compare_without_case_accents_or_punctuation(index_file):
    got = run_trace(index_file, [(None, "o neil ward", "Hûw", "1945-11-12", "1", "XY55EE")])
    assert got == [(MATCH, N[8], "alphanumeric")]


def test_nothing_to_trace_is_no_match(index_file):
    assert run_trace(index_file, [(None, None, None, None, None, None)]) == [(NO_MATCH, None, None)]


def test_every_outcome_is_exercised():
    # guards this file: the tests above must cover each outcome the module defines
    covered = {MATCH, POTENTIAL_MATCH, NO_MATCH, MANY_MATCHES}
    assert covered == set(TRACE_OUTCOMES)


def test_index_missing_a_column_is_refused(tmp_path):
    path = tmp_path / "idx.csv"
    path.write_text("nhs_number,family_name\n9990000018,Smith\n")
    with pytest.raises(UsageError, match="date_of_birth"):
        load_demographic_index(path).register(duckdb.connect(), "idx")


def test_index_path_must_exist(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_demographic_index(tmp_path / "absent.csv")


nhs_like = st.one_of(
    st.text(alphabet="0123456789 -", min_size=0, max_size=14),
    st.integers(0, 10**10 - 1).map(lambda i: f"{i:010d}"),
    st.sampled_from(["0000000000", "1234567890", "999 000 0018", "9990000018", "999-000-0018", "99900000l8"]),
    # white space of any kind around the number, as the validator and `normalise_nhs_number` strip it
    st.tuples(
        st.sampled_from(["", "\u00a0", "\t", "\u2003", "\x1c", "\x85", "\u3000", " \u00a0"]),
        st.sampled_from(["9990000018", "999 000 0018", "999-000-0018", "999\u00a0000\u00a00018"]),
        st.sampled_from(["", "\u00a0", "\r\n", "\u202f", "\x1f", "\u00a0 "]),
    ).map("".join),
)


_CON = duckdb.connect()
install_identity_macros(_CON)


@settings(max_examples=300, deadline=None)
@given(st.lists(nhs_like, min_size=1, max_size=25))
def test_sql_nhs_key_agrees_with_python_check(values):
    con = _CON
    con.execute("CREATE OR REPLACE TABLE t (v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    got = [r[0] for r in con.execute("SELECT ascld_nhs_key(v) FROM t ORDER BY rowid").fetchall()]
    expected = [check_nhs_number(v).normalised if check_nhs_number(v).ok else None for v in values]
    assert got == expected


def test_nhs_number_with_unicode_white_space_around_is_the_number():
    """A number the validator accepts with a no-break space (0xA0 in Windows-1252) around it is the same number
    for the trace and the pseudonym (`normalise_nhs_number` strips white space of any kind)."""
    got = _CON.execute(
        "SELECT ascld_nhs_key(?), ascld_nhs_key(?), ascld_nhs_key(?)",
        ["9990000018\u00a0", "\u00a0999 000 0018", "999\u00a0000\u00a00018"],
    ).fetchone()
    assert got == ("9990000018", "9990000018", None)
    assert check_nhs_number("9990000018\u00a0").ok and not check_nhs_number("999\u00a0000\u00a00018").ok


def test_gender_and_blank_macros():
    con = duckdb.connect()
    install_identity_macros(con)
    got = con.execute(
        "SELECT ascld_gender_key('Female'), ascld_gender_key(' m '), ascld_gender_key('Other'), "
        "ascld_gender_key(''), ascld_blank(' NULL '), ascld_blank('x '), ascld_cld_date('31/02/2024'), "
        "ascld_cld_date('29/02/2024')"
    ).fetchall()[0]
    assert got[:6] == ("F", "M", "U", None, None, "x ")
    assert got[6] is None and str(got[7]) == "2024-02-29"


@settings(deadline=None, max_examples=200)
@given(st.lists(st.one_of(
    st.text(st.sampled_from(" \u00a0\u3000nNuUlLxé\u0130\u0131"), max_size=8),
    st.sampled_from(["NULL", "null", " Null ", "\u00a0nULL\u3000", "NULLS", "NUL", "", "   "]),
), min_size=1, max_size=20))
def test_blank_macro_agrees_with_its_definition(values):
    """`ascld_blank` skips upper-casing all but 4-byte values: the same answers as the plain definition
    (blank, or the text NULL in any case, after DuckDB's trim)."""
    con = _CON
    con.execute("CREATE OR REPLACE TABLE t (v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    got = con.execute(
        "SELECT count(*) FROM t WHERE ascld_blank(v) IS DISTINCT FROM "
        "(CASE WHEN trim(v) = '' OR upper(trim(v)) = 'NULL' THEN NULL ELSE v END)"
    ).fetchone()[0]
    assert got == 0
