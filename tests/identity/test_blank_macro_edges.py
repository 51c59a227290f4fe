"""`ascld_blank` at the edges of its rule: every character DuckDB's trim removes, at either end of values
blank, NULL in any case, 4 bytes long or not, ASCII or not, against the plain rule written out. (A fast path
for plain values was tried and dropped, docs/national-store.md; these tests caught its wrong variants.)"""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from ascld.identity.tracing import install_identity_macros

_CON = duckdb.connect()
install_identity_macros(_CON)

# The plain rule, written out: blank, or the text NULL in any case, after DuckDB's trim.
PLAIN = "CASE WHEN trim(v) = '' OR upper(trim(v)) = 'NULL' THEN NULL ELSE v END"


def _disagreements(values: list[str | None]) -> list[str | None]:
    _CON.execute("CREATE OR REPLACE TABLE t (v VARCHAR)")
    _CON.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    rows = _CON.execute(f"SELECT v FROM t WHERE ascld_blank(v) IS DISTINCT FROM ({PLAIN})").fetchall()
    return [r[0] for r in rows]


def _trimmed_code_points() -> list[int]:
    """Every code point DuckDB's trim removes (found by asking DuckDB, so a new version's set is covered)."""
    rows = _CON.execute(
        "SELECT cp FROM range(1, 1114112) t(cp) WHERE (cp < 55296 OR cp > 57343) "
        "AND trim(chr(cp::INTEGER)) <> chr(cp::INTEGER)"
    ).fetchall()
    return [r[0] for r in rows]


def test_every_character_trim_removes_takes_the_full_rule_at_either_end():
    trimmed = _trimmed_code_points()
    assert 32 in trimmed and 160 in trimmed  # the space and the no-break space at least
    values: list[str | None] = [None, "", "x", "NULL", "null", "nulls", "Nul", "abcd", "abcde"]
    for cp in trimmed:
        c = chr(cp)
        values += [
            c,
            c * 3,
            f"{c}x",
            f"x{c}",
            f"abcde{c}",
            f"{c}abcde",
            f"null{c}",
            f"{c}NULL",
            f"{c}NuLl{c}",
            f"abc{c}",
            f"{c}abc",
            f"{c}{c}null{c}",
        ]
    assert _disagreements(values) == []


def test_edges_of_plain_values():
    values = [
        "!",
        "!!!!!",
        "~",
        "\x7f",
        "\x7fabc",
        "abc\x7f",
        "\t",
        "\tnull",
        "null\t",
        "\t\t\t\t\t",
        "\x1fabcde",
        "abcde\x1f",
        " abcde",
        "abcde ",
        "NULL ",
        " NULL",
        "n\u00fcll",
        "\u00e9t\u00e9",
        "\u00e9t\u00e9 ",
        "ab\u00a0",
        "\u00a0",
        "\u3000null\u3000",
        "\u0130\u0131",
        "a" * 4,
        "a" * 5,
        "ab" * 40,
    ]
    assert _disagreements(values) == []


_CHARS = st.sampled_from(
    [
        " ",
        "!",
        "~",
        "\t",
        "\x1f",
        "\x7f",
        "\u00a0",
        "\u1680",
        "\u2000",
        "\u200a",
        "\u202f",
        "\u205f",
        "\u3000",
        "n",
        "N",
        "u",
        "U",
        "l",
        "L",
        "x",
        "\u00e9",
        "\u0130",
        "\u0131",
        "\u00df",
        "0",
    ]
)


@settings(deadline=None, max_examples=300)
@given(st.lists(st.one_of(st.none(), st.text(_CHARS, max_size=9)), min_size=1, max_size=25))
def test_agrees_with_the_plain_rule(values):
    assert _disagreements(values) == []
