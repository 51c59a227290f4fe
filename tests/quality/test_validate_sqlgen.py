"""The SQL the validator runs agrees with the Python rules it restates (hypothesis).

The scan compiles the status conditions, the blank rule, the list lookups, the date rule, the NHS modulus-11
and
the postcode format to DuckDB SQL; each test here draws values and compares the SQL result with the Python
reference (`Condition.evaluate`, `check_date`, `check_nhs_number`, `check_postcode`, ...).

Alphabets are ASCII (plus a few white-space characters): DuckDB's lower()/upper() and Python's
casefold()/upper()
differ on some non-ASCII letters (ß), which no list value or code uses.
"""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascld.identity.nhs_number import check_digit, check_nhs_number
from ascld.identity.postcode import check_postcode
from ascld.quality import checks as ck
from ascld.quality.dates import check_date, date_sql, parse_date
from ascld.quality.sqlgen import (
    blank_sql,
    compile_condition,
    evaluate_status,
    is_blank,
    list_lookup_sql,
    python_lookup_value,
    quote_str,
    status_case,
    trim_sql,
)
from ascld.spec import INVALID, load_spec
from ascld.spec.conditions import BoolOp, Compare, Condition, Not, Presence

SPEC = load_spec()
CON = duckdb.connect()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.text(alphabet=st.sampled_from("abcAB z%_'-/:019NULnul\t"), max_size=8)
ALL_LIST_VALUES = sorted({v for lst in SPEC.lists.values() for v in (*lst.r2_values, *lst.r1_values)})


def sql_value(expr: str, raw: str | None):
    return CON.execute(f"SELECT {expr.replace('__RAW__', '?')}", [raw] * expr.count("__RAW__")).fetchone()[0]


def one(expr_of_raw, raw):
    """Evaluate SQL built around a raw value bound as a parameter."""
    sql = expr_of_raw("CAST($1 AS VARCHAR)")
    return CON.execute(f"SELECT {sql}", [raw]).fetchone()[0]


# --- conditions -------------------------------------------------------------------------------------------

COLUMNS = ("A", "B", "C")
literal = st.sampled_from(["x", "X ", "abc", "a%", "%b%", "_", "it's", "Service user", "planned%"])
leaf = st.one_of(
    st.builds(lambda c, p: Presence(c, p), st.sampled_from(COLUMNS), st.booleans()),
    st.builds(
        lambda c, op, vals: Compare(c, op, tuple(vals)),
        st.sampled_from(COLUMNS),
        st.sampled_from(["=", "!=", "in", "not in"]),
        st.lists(literal, min_size=1, max_size=3),
    ),
    st.builds(
        lambda c, op, v: Compare(c, op, (v,)),
        st.sampled_from(COLUMNS),
        st.sampled_from(["like", "not like"]),
        literal,
    ),
    st.builds(
        lambda lo, hi: Compare("N", "between", (float(lo), float(hi))), st.integers(0, 50), st.integers(0, 80)
    ),
)
conditions = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(
            lambda op, parts: BoolOp(op, tuple(parts)),
            st.sampled_from(["and", "or"]),
            st.lists(inner, min_size=2, max_size=3),
        ),
    ),
    max_leaves=6,
)
lookup_value = st.one_of(
    st.none(),
    st.just(INVALID),
    st.sampled_from(["x", "X", "abc", "abcd", "b", "it's", "service user", "planned", " x"]),
)


def compiled_result(cond: Condition, values: dict[str, object]):
    def value_sql(column: str) -> str:
        v = values[column]
        if column == "N":
            return "NULL" if v is None else repr(float(v))  # type: ignore[arg-type]
        if v is None or v is INVALID:
            return "CAST(NULL AS VARCHAR)"
        return f"lower({quote_str(str(v))})"

    def present_sql(column: str) -> str:
        return "FALSE" if values[column] is None else "TRUE"

    return CON.execute(f"SELECT {compile_condition(cond, value_sql, present_sql)}").fetchone()[0]


@SETTINGS
@given(
    cond=conditions,
    a=lookup_value,
    b=lookup_value,
    c=lookup_value,
    n=st.one_of(st.none(), st.integers(0, 90)),
)
def test_compiled_condition_agrees_with_evaluate(cond, a, b, c, n):
    values = {"A": a, "B": b, "C": c, "N": None if n is None else float(n)}
    assert compiled_result(cond, values) == cond.evaluate(values.get)


RULED = sorted(SPEC.status_rules)


@SETTINGS
@given(column=st.sampled_from(RULED), data=st.data())
def test_status_case_agrees_with_evaluate_status(column, data):
    rules = SPEC.status_rules[column]
    names = sorted({c for r in rules for c in r.condition.columns()})
    values: dict[str, object] = {}
    for name in names:
        if name == "age_at_period_end":
            values[name] = data.draw(st.one_of(st.none(), st.integers(0, 100).map(float)))
            continue
        lst = SPEC.list_for(name)
        pool = [v.casefold() for v in lst.r2_values] if lst else ["x"]
        values[name] = data.draw(st.one_of(st.none(), st.just(INVALID), st.sampled_from(pool or ["x"])))

    def value_sql(name: str) -> str:
        v = values[name]
        if name == "age_at_period_end":
            return "NULL" if v is None else repr(v)
        return "CAST(NULL AS VARCHAR)" if v is None or v is INVALID else quote_str(str(v))

    sql = status_case(rules, value_sql, lambda name: "FALSE" if values[name] is None else "TRUE")
    assert CON.execute(f"SELECT {sql}").fetchone()[0] == evaluate_status(rules, values.get)


# --- values
# ---------------------------------------------------------------------------------------------------

blankish = st.sampled_from(["", " ", "\t", "NULL", " null ", "Null", "NULLS", "N", "  x", "\xa0"])


@SETTINGS
@given(raw=st.one_of(blankish, TEXT))
def test_blank_sql_agrees_with_is_blank(raw):
    assert one(blank_sql, raw) == is_blank(raw)


def mutate(value: str):
    return st.sampled_from(
        [value, value.upper(), value.lower(), f" {value}", f"{value}  ", value.swapcase(), f"{value}\t"]
    )


LISTS = sorted(SPEC.lists)
list_values = st.sampled_from(ALL_LIST_VALUES + sorted(SPEC.derived_values)).flatmap(mutate)


@SETTINGS
@given(name=st.sampled_from(LISTS), raw=st.one_of(list_values, TEXT, blankish))
def test_list_lookup_sql_agrees_with_python(name, raw):
    lst = SPEC.lists[name]
    expected = python_lookup_value(raw, lst)
    got = one(lambda r: list_lookup_sql(r, lst), raw)
    assert got == (None if expected is INVALID else expected)


@SETTINGS
@given(name=st.sampled_from(LISTS), raw=st.one_of(list_values, TEXT))
def test_list_class_sql_agrees_with_python(name, raw):
    lst = SPEC.lists[name]
    if is_blank(raw):
        return
    sql = ck.list_class_sql("v", lst, SPEC).replace('"v"', "$1")
    got = CON.execute(f"SELECT {sql}", [raw]).fetchone()[0]
    assert got == ck.classify_list_value(raw, lst, SPEC)


dates = st.one_of(
    st.dates().map(lambda d: d.strftime("%d/%m/%Y") if d.year >= 1000 else d.isoformat()),
    st.tuples(st.integers(0, 39), st.integers(0, 19), st.integers(1800, 2200)).map(
        lambda t: f"{t[0]:02d}/{t[1]:02d}/{t[2]}"
    ),
    st.sampled_from(
        [
            "01/07/25",
            "1/7/2025",
            " 01/07/2025",
            "01/07/2025 00:00",
            "2025-07-01",
            "01-07-2025",
            "29/02/2024",
            "29/02/2023",
            "31/04/2025",
            "00/01/2025",
            "01/13/2025",
        ]
    ),
    TEXT,
)


@SETTINGS
@given(raw=dates)
def test_date_sql_agrees_with_the_python_rule(raw):
    assert one(date_sql, raw) == parse_date(raw)


@SETTINGS
@given(raw=dates)
def test_date_rules_classify_as_check_date(raw):
    problem = check_date(raw).problem
    for rule, expect in (
        ("date_format", "format"),
        ("date_year_range", "year_range"),
        ("date_real", "impossible"),
    ):
        sql = ck.CELL_RULES[rule](
            ck.CellContext(
                ck.checks_by_id()[
                    {"date_format": "C007", "date_year_range": "C009", "date_real": "C008"}[rule]
                ],
                "Event_Start_Date",
                SPEC,
            )
        )
        got = CON.execute(
            f"SELECT {sql.replace(chr(34) + 'Event_Start_Date' + chr(34), '$1')}", [raw]
        ).fetchone()[0]
        assert bool(got) == (problem == expect), (rule, raw, problem)


def test_date_sql_edges_agree_with_the_python_rule():
    """Every edge of the shape and year tests (the SQL tests them with GLOB patterns per century): the years
    around 1900 and 2099 and other centuries, impossible days, GLOB's own special characters, digits that are
    not ASCII, one character too many or too few, white space."""
    values = [
        f"{d}/{m}/{y}"
        for d in ("00", "01", "28", "29", "30", "31", "32", "1", "001")
        for m in ("00", "01", "02", "04", "12", "13", "1")
        for y in ("0999", "1000", "1099", "1800", "1899", "1900", "1901", "1999", "2000", "2024", "2098",
                  "2099", "2100", "2900", "2999", "3000", "9999", "19", "20", "19999", "190", "2O25")
    ] + [
        "01/01/19*", "01/01/19??", "01/01/19[0-9]9", "0?/01/2000", "*", "01/01/2\\00", "[0]1/01/2000",
        "٠١/٠١/٢٠٢٠", "01/01/２０２５", "01/01/2025\n", "\t01/01/2025", "01/01/2025 ", "01/01/2025\x00",
        "01-01-2025", "01.01.2025", "01//1/2025", "01/01/2025/", "0101/2025/", "é1/01/2025", "",
    ]
    for raw in values:
        assert one(date_sql, raw) == parse_date(raw), raw


def test_nhs_check_digit_sql_agrees_with_check_nhs_number():
    """The one-sum form of the modulus-11 rule, on every check digit of many numbers (a remainder of 0, of 1
    with no valid digit, and the rest)."""
    stems = [0, 1, 999000001, 123456789, 400000000, 999999999, 987654321, 555555555, 100000000, 10]
    stems += list(range(999000000, 999000050))
    numbers = [f"{stem:09d}{digit}" for stem in stems for digit in range(10)]
    got = dict(
        CON.execute(
            f"SELECT x, {ck.nhs_check_digit_ok_sql('CAST(x AS BIGINT)')} FROM unnest(?) AS t(x)", [numbers]
        ).fetchall()
    )
    assert {check_digit(f"{stem:09d}") is None for stem in stems} == {True, False}  # both cases are here
    for number in numbers:
        assert got[number] == (check_digit(number[:9]) == int(number[9])), number


def test_trim_sql_is_duckdb_trim():
    """The guarded trim equals DuckDB's own on every code point before, after, alone and inside a value, on
    NULL and on the empty value."""
    sql = trim_sql("x")
    points = "SELECT chr(i::INTEGER) AS c FROM range(1, 1114112) t(i) WHERE i < 55296 OR i > 57343"
    forms = ("c || 'a'", "'a' || c", "c", "'a' || c || 'b'", "'a' || c || c")
    values = " UNION ALL ".join(f"SELECT {form} AS x FROM ({points})" for form in forms)
    values += " UNION ALL SELECT NULL UNION ALL SELECT ''"
    differ, total = CON.execute(
        f"SELECT count(*) FILTER ({sql} IS DISTINCT FROM trim(x)), count(*) FROM ({values})"
    ).fetchone()
    assert differ == 0 and total > 5_000_000


@SETTINGS
@given(raw=st.text(alphabet=st.sampled_from(" \ta!~1\x7f\xa0\u3000\u2000\u200b\x85é"), max_size=6))
def test_trim_sql_agrees_with_duckdb_trim(raw):
    assert one(trim_sql, raw) == CON.execute("SELECT trim($1)", [raw]).fetchone()[0]


nhs_numbers = st.one_of(
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.sampled_from(
        [
            "0000000000",
            "9999999999",
            "1234567890",
            "0123456789",
            "999 000 0018",
            "999-000-0018",
            " 9990000018\t",
            "99900000",
            "99900000181",
            "999000001a",
        ]
    ),
    st.text(alphabet="0123456789 -", max_size=13),
)


@SETTINGS
@given(raw=nhs_numbers)
def test_nhs_sql_agrees_with_check_nhs_number(raw):
    expected = check_nhs_number(raw)
    num = f"({ck.nhs_number_sql(ck.nhs_normalised_sql('$1'))})"
    rules = (ck.nhs_format, ck.nhs_placeholder, ck.nhs_check_digit)
    sqls = [rule(None).replace(ck.NHS_NUM, num) for rule in rules]
    # The scan runs each rule only where the earlier ones did not fire (first failing check wins).
    row = CON.execute(
        f"SELECT {sqls[0]}, NOT {sqls[0]} AND {sqls[1]}, NOT {sqls[0]} AND NOT {sqls[1]} AND {sqls[2]}", [raw]
    ).fetchone()
    assert (bool(row[0]), bool(row[1]), bool(row[2])) == (
        expected.problem == "format",
        expected.problem == "placeholder",
        expected.problem == "check_digit",
    )


postcodes = st.one_of(
    st.text(alphabet="ABDEGHJLNPQRSTUWXYZ0123456789 ", min_size=5, max_size=9),
    st.sampled_from(
        [
            "SW1A 1AA",
            "sw1a1aa",
            "ZZ99 3VZ",
            "zz993wz",
            "GIR 0AA",
            "N/K",
            "Q1 1AA",
            "AB1",
            "12345",
            " LS1 4AP ",
            "LS1\t4AP",
            "M1 1AE",
            "EC1A 1BB",
            "W1A 0AX",
            "B33 8TH",
            "CR2 6XH",
            "DN55 1PT",
        ]
    ),
)


@SETTINGS
@given(raw=postcodes)
def test_postcode_sql_agrees_with_check_postcode(raw):
    got = CON.execute(f"SELECT {ck.postcode_valid_sql('$1')}", [raw]).fetchone()[0]
    assert bool(got) == (check_postcode(raw).problem is None)


numbers = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6).map(
        str
    ),
    st.sampled_from(
        [
            "12.50",
            "12.5",
            "12.",
            ".5",
            "-0.00",
            "1,234.50",
            "£12",
            "1e3",
            "12.505",
            "-12.50",
            " 12",
            "",
            "0",
            "-1",
            "1.0",
        ]
    ),
)


@pytest.mark.parametrize("column", ["Unit_Cost", "Planned_units_per_week", "No_of_adults_being_cared_for"])
@SETTINGS
@given(raw=numbers)
def test_value_ok_is_false_whenever_a_value_rule_fails(column, raw):
    # The scan runs the value rules only where value_ok is false, so it must never be true when one fails.
    field = SPEC.field(column)
    rules = [c for c in ck.load_checks() if c.rule in ck.VALUE_RULES and column in c.columns(SPEC)]
    fired = []
    for c in rules:
        sql = ck.cell_sql(c, column, SPEC).replace(f'"{column}"', "$1")
        fired.append(bool(CON.execute(f"SELECT {sql}", [raw]).fetchone()[0]))
    ok = CON.execute(
        f"SELECT {ck.value_ok_sql(field).replace(chr(34) + column + chr(34), '$1')}", [raw]
    ).fetchone()[0]
    if any(fired):
        assert not ok, (raw, [c.id for c, f in zip(rules, fired, strict=True) if f])


@SETTINGS
@given(raw=numbers)
def test_decimal_rules_match_numeric_18_2(raw):
    from decimal import Decimal, InvalidOperation

    sql = {
        rule: ck.CELL_RULES[rule](ck.CellContext(ck.checks_by_id()[cid], "Unit_Cost", SPEC)).replace(
            '"Unit_Cost"', "$1"
        )
        for rule, cid in (("number_format", "C010"), ("decimal_places", "C011"), ("not_negative", "C012"))
    }
    got = {k: bool(CON.execute(f"SELECT {v}", [raw]).fetchone()[0]) for k, v in sql.items()}
    plain = raw.replace("-", "", 1) if raw.startswith("-") else raw
    is_number = (
        bool(plain)
        and plain.replace(".", "", 1).isdigit()
        and plain.count(".") <= 1
        and len(plain.split(".")[0]) <= 16
        and raw.strip() == raw
    )
    assert got["number_format"] == (not is_number)
    if is_number:
        try:
            value = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - excluded by is_number
            return
        places = len(raw.split(".")[1]) if "." in raw else 0
        assert got["decimal_places"] == (places > 2)
        assert got["not_negative"] == (places <= 2 and value < 0)


def _fires(column: str, raw: str) -> tuple[bool, list[str]]:
    field = SPEC.field(column)
    lst = SPEC.list_for(column)

    def bind(sql: str) -> str:
        sql = sql.replace(ck.NHS_NUM, f"({ck.nhs_number_sql(ck.nhs_normalised_sql('$1'))})")
        sql = sql.replace(ck.NHS, f"({ck.nhs_normalised_sql('$1')})").replace(f'"{column}"', "$1")
        if lst is not None:
            sql = sql.replace(
                ck.list_class(column),
                f"({ck.list_class_sql(column, lst, SPEC)})".replace(f'"{column}"', "$1"),
            )
        return sql.replace(ck.dte(column), f"({date_sql('$1')})")

    rules = [c for c in ck.load_checks() if c.rule in ck.VALUE_RULES and column in c.columns(SPEC)]
    fired = [
        c.id
        for c in rules
        if CON.execute(f"SELECT {bind(ck.cell_sql(c, column, SPEC))}", [raw]).fetchone()[0]
    ]
    ok = CON.execute(f"SELECT {bind(ck.value_ok_sql(field))}", [raw]).fetchone()[0]
    return bool(ok), fired


@SETTINGS
@given(
    column=st.sampled_from(["NHS_Number", "Postcode", "Ethnicity", "Gender", "Event_Start_Date"]),
    data=st.data(),
)
def test_value_ok_on_identity_list_and_date_fields(column, data):
    pool = {"NHS_Number": nhs_numbers, "Postcode": postcodes, "Event_Start_Date": dates}.get(
        column, list_values
    )
    raw = data.draw(pool)
    if is_blank(raw):
        return
    ok, fired = _fires(column, raw)
    if fired:
        assert not ok, (raw, fired)
    else:
        # For these fields value_ok is exact: true exactly when no value rule fails.
        assert ok or column == "NHS_Number" and not raw.strip(), (raw, fired)
