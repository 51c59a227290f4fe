"""`ascld_blank` at the edges of its rule: every white-space character (Python's and those DuckDB's trim
removes), at either end of values blank, NULL in any case, 4 bytes long or not, ASCII or not, against the
validator's blank written in Python (`ascld.quality.sqlgen.is_blank`). (A fast path for plain values was
tried and dropped, docs/national-store.md; these tests caught its wrong variants.)"""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from ascld.identity.tracing import install_identity_macros
from ascld.quality.sqlgen import WHITESPACE, is_blank

_CON = duckdb.connect()
install_identity_macros(_CON)

def _disagreements(values: list[str | None]) -> list[str | None]:
    """The values where `ascld_blank` is not: NULL for a blank value (the validator's), else the value."""
    _CON.execute("CREATE OR REPLACE TABLE t (i INTEGER, v VARCHAR)")
    _CON.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    got = dict(_CON.execute("SELECT i, ascld_blank(v) FROM t").fetchall())
    return [v for i, v in enumerate(values) if got[i] != (None if is_blank(v) else v)]


def _trimmed_code_points() -> list[int]:
    """Every white-space code point: Python's, and every one DuckDB's trim removes (found by asking DuckDB, so
    a new version's set is covered)."""
    rows = _CON.execute(
        "SELECT cp FROM range(1, 1114112) t(cp) WHERE (cp < 55296 OR cp > 57343) "
        "AND trim(chr(cp::INTEGER)) <> chr(cp::INTEGER)"
    ).fetchall()
    return sorted({r[0] for r in rows} | {ord(c) for c in WHITESPACE})


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
