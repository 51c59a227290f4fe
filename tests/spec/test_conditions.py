from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ascld.errors import SpecError
from ascld.spec.conditions import INVALID, parse_condition


def test_like_is_case_insensitive_with_wildcards():
    cond = parse_condition("A like '%cassr%'")
    assert cond.evaluate({"A": "Mostly CASSR commissioned"}.get) is True
    assert cond.evaluate({"A": "Direct payment"}.get) is False


def test_not_in_on_blank_is_unknown_like_sql():
    assert parse_condition("A not in ('x', 'y')").evaluate({}.get) is None


def test_presence_is_never_unknown():
    assert parse_condition("A is present").evaluate({"A": INVALID}.get) is True
    assert parse_condition("A is blank").evaluate({}.get) is True


def test_between_is_inclusive():
    cond = parse_condition("age between 18 and 64")
    assert [cond.evaluate({"age": a}.get) for a in (17, 18, 64, 65)] == [False, True, True, False]


@pytest.mark.parametrize("text", ["A = ", "A ~ 'x'", "(A = 'x'", "A in 'x'", "A is maybe", "A = 'x' B"])
def test_malformed_conditions_are_refused(text):
    with pytest.raises(SpecError):
        parse_condition(text)


truth = st.sampled_from([True, False, None])


@given(truth, truth, truth)
def test_kleene_logic_matches_sql(a, b, c):
    values = {"A": a, "B": b, "C": c}

    def lookup(column):
        v = values[column]
        return None if v is None else ("y" if v else "n")

    def sql_and(x, y):
        if x is False or y is False:
            return False
        return None if x is None or y is None else True

    def sql_or(x, y):
        if x is True or y is True:
            return True
        return None if x is None or y is None else False

    cond = parse_condition("A = 'y' and (B = 'y' or not C = 'y')")
    not_c = None if c is None else not c
    assert cond.evaluate(lookup) == sql_and(a, sql_or(b, not_c))
