"""Disclosure control: suppression, rounding, recomputed values, configuration, rules as data."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ascld.errors import SpecError, UsageError
from ascld.measures.output import MEASURE_COLUMNS
from ascld.release import apply_disclosure_control, load_disclosure_rules
from ascld.release.disclosure import RULES_FILE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "disclosure-control.md"


def table(*rows: dict) -> pd.DataFrame:
    base = dict.fromkeys(MEASURE_COLUMNS)
    base.update(measure="SALT LTS001a", breakdown="Total", group="Total", la_name="Council")
    return pd.DataFrame([{**base, **r} for r in rows], columns=list(MEASURE_COLUMNS))


def count(n: int | None, la_code: str | None = "318", measure: str = "SALT LTS001a") -> dict:
    return {"measure": measure, "la_code": la_code, "numerator": n, "denominator": None, "value": n}


def ratio(num: int, den: int, la_code: str | None = "318", measure: str = "ASCOF 2A") -> dict:
    return {"measure": measure, "la_code": la_code, "numerator": num, "denominator": den, "value": None}


def published(row: dict, rules=None) -> tuple:
    out = apply_disclosure_control(table(row), rules).iloc[0]
    return out.numerator, out.denominator, out.value, out.disclosure_flag


# ------------------------------------------------------------------------------------------------------------
# Default rules
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 8))
def test_counts_one_to_seven_are_suppressed_sub_nationally(n):
    assert published(count(n)) == ("*", None, "*", "suppressed")


@pytest.mark.parametrize("n", range(1, 8))
def test_counts_one_to_seven_are_suppressed_nationally(n):
    assert published(count(n, la_code=None)) == ("*", None, "*", "suppressed")


def test_zero_is_published_as_zero():
    assert published(count(0)) == (0, None, 0.0, "rounded")


@pytest.mark.parametrize(
    ("n", "shown"), [(8, 10), (12, 10), (13, 15), (17, 15), (18, 20), (1002, 1000), (1003, 1005)]
)
def test_other_sub_national_counts_round_to_nearest_five(n, shown):
    assert published(count(n)) == (shown, None, float(shown), "rounded")


@pytest.mark.parametrize("n", [8, 12, 13, 1003])
def test_national_counts_are_not_rounded(n):
    assert published(count(n, la_code=None)) == (n, None, float(n), "national")


def test_sub_national_percentage_is_recomputed_from_rounded_figures():
    # 9/16 -> published 10/15 -> 66.666... -> 66.7 (not 56.3 from the unrounded figures).
    assert published(ratio(9, 16)) == (10, 15, 66.7, "rounded")


def test_national_percentage_rounds_half_away_from_zero():
    # 9/16 = 56.25 exactly: half away from zero gives 56.3 (Python's round() would give 56.2).
    assert published(ratio(9, 16, la_code=None)) == (9, 16, 56.3, "national")


@pytest.mark.parametrize(("num", "den"), [(3, 40), (40, 6), (0, 5)])
def test_value_is_suppressed_when_either_count_is(num, den):
    numerator, denominator, value, flag = published(ratio(num, den))
    assert value == "*" and flag == "suppressed"
    assert "*" in (numerator, denominator)


def test_zero_denominator_keeps_the_methods_value():
    assert published({**ratio(0, 0), "value": 0.0}) == (0, 0, 0.0, "rounded")


def test_rate_per_100000_is_recomputed_and_population_is_published():
    # ASCOF 2B: 12 admissions -> 10; population 150,003 published as it is; 100000 * 10 / 150003 = 6.67 -> 6.7
    assert published(ratio(12, 150003, measure="ASCOF 2B")) == (10, 150003, 6.7, "rounded")


def test_two_decimal_measure_uses_its_own_places():
    # ASCOF 2D: 100 * 10 / 15 = 66.666... -> 66.67
    assert published(ratio(9, 16, measure="ASCOF 2D Part 1")) == (10, 15, 66.67, "rounded")


# ------------------------------------------------------------------------------------------------------------
# Rows with a denominator but no numerator (ASCOF 2D "blank" cells)
# ------------------------------------------------------------------------------------------------------------


def blank(den: int, la_code: str | None = "318", measure: str = "ASCOF 2D Part 1") -> dict:
    return {"measure": measure, "la_code": la_code, "numerator": None, "denominator": den, "value": None}


@pytest.mark.parametrize(("den", "shown"), [(0, 0), (8, 10), (12, 10), (13, 15), (1003, 1005)])
def test_missing_numerator_stays_missing_and_the_denominator_is_rounded(den, shown):
    assert published(blank(den)) == (None, shown, None, "rounded")


@pytest.mark.parametrize("den", range(1, 8))
def test_missing_numerator_with_a_small_denominator_is_suppressed(den):
    assert published(blank(den)) == (None, "*", "*", "suppressed")
    assert published(blank(den, la_code=None)) == (None, "*", "*", "suppressed")


@pytest.mark.parametrize("den", [0, 8, 13, 1003])
def test_missing_numerator_national_denominator_is_unrounded(den):
    assert published(blank(den, la_code=None)) == (None, den, None, "national")


def test_missing_numerator_ignores_a_value_the_row_carries():
    # Nothing to compute a value from, whatever the input says (also with a zero denominator).
    assert published({**blank(20), "value": 55.0}) == (None, 20, None, "rounded")
    assert published({**blank(0), "value": 0.0}) == (None, 0, None, "rounded")


def test_missing_numerator_with_a_published_population_denominator():
    # ASCOF 2B's denominator is a population estimate (DC08): published as it is, even without a numerator.
    assert published(blank(150003, measure="ASCOF 2B")) == (None, 150003, None, "rounded")


def test_missing_numerators_in_a_float_column_mixed_with_counts():
    # pandas stores a numerator column with gaps as float64 with NaN: NaN is a missing numerator too.
    frame = table(blank(9), ratio(9, 16), blank(5, la_code=None))
    assert frame["numerator"].dtype == "float64"
    out = apply_disclosure_control(frame)
    assert out.numerator.tolist() == [None, 10, None]
    assert out.denominator.tolist() == [10, 15, "*"]
    assert out.value.tolist() == [None, 66.7, "*"]
    assert out.disclosure_flag.tolist() == ["rounded", "rounded", "suppressed"]


def test_input_table_is_not_changed():
    before = table(count(3), count(12))
    copy = before.copy()
    apply_disclosure_control(before)
    pd.testing.assert_frame_equal(before, copy)


def test_output_keeps_rows_and_layout():
    out = apply_disclosure_control(table(count(3), count(12), count(40, la_code=None)))
    assert list(out.columns) == list(MEASURE_COLUMNS)
    assert list(out.disclosure_flag) == ["suppressed", "rounded", "national"]


def test_table_not_in_tidy_layout_is_refused():
    with pytest.raises(UsageError, match="tidy measure layout"):
        apply_disclosure_control(pd.DataFrame({"numerator": [3]}))


def test_an_already_controlled_table_is_refused_with_the_row_and_field():
    # Controlling published figures again (e.g. measures.csv read back) used to stop with a bare
    # "ValueError: invalid literal for int() with base 10: '*'"; 12.5 was cut to 12 without a word.
    once = apply_disclosure_control(table(count(3), count(13)))
    with pytest.raises(UsageError, match=r"row 1 \(SALT LTS001a, 318\), numerator: `\*` is not a whole count"):
        apply_disclosure_control(once)
    with pytest.raises(UsageError, match=r"row 1 \(ASCOF 2A, England\), denominator: `12.5` is not a whole count"):
        apply_disclosure_control(table(ratio(9, 12.5, la_code=None)))
    assert published(count("13")) == (15, None, 15.0, "rounded")  # a count given as text is still a count


# ------------------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "shown"), [(9, "*"), (10, "*"), (11, 10), (14, 10), (15, 20), (25, 30)])
def test_threshold_and_base_are_configurable(n, shown):
    rules = load_disclosure_rules(threshold=10, base=10)
    assert published(count(n), rules)[0] == shown


def test_rules_can_come_from_another_file(tmp_path):
    path = tmp_path / "rules.csv"
    with RULES_FILE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows = [r for r in rows if r["action"] != "round"]  # suppression only
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    rules = load_disclosure_rules(path)
    assert rules.rounding_base is None
    assert published(count(12), rules) == (12, None, 12.0, "rounded")
    assert published(count(5), rules)[0] == "*"


def test_national_rows_rounded_by_the_rules_are_flagged_rounded(tmp_path):
    # The docs' way to close the national gap: DC02's scope `all`, no DC10. England's 103 is then published as
    # 105, so its flag is `rounded`, not `national` (which means unrounded, and which find_differencing_risks
    # takes as exact: 105 against parts adding to 100 would be reported as exactly 5 people).
    path = tmp_path / "rules.csv"
    with RULES_FILE.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["rule_id"] != "DC10"]
    for r in rows:
        if r["rule_id"] == "DC02":
            r["scope"] = "all"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    rules = load_disclosure_rules(path)
    assert published(count(103, la_code=None), rules) == (105, None, 105.0, "rounded")
    assert published(ratio(9, 16, la_code=None), rules) == (10, 15, 66.7, "rounded")
    assert published(count(103, la_code=None)) == (103, None, 103.0, "national")  # default rules


def test_malformed_rules_are_refused(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text(
        "rule_id,applies_to,scope,measure,action,parameters,source,rationale\n"
        "X1,counts,all,*,suppress,low1,somewhere,why\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match="row 2, field parameters"):
        load_disclosure_rules(path)


@pytest.mark.parametrize(
    ("rule_id", "column", "text", "message"),
    [
        ("DC02", "parameters", "base=abc", "row 3, field parameters: `base=abc` is not a whole number of 1 or more"),
        ("DC02", "parameters", "base=0", "row 3, field parameters: `base=0` is not a whole number of 1 or more"),
        ("DC02", "parameters", "", "row 3, field parameters: `base=` is missing"),
        ("DC01", "parameters", "low=1;high=seven", "row 2, field parameters: `high=seven` is not a whole number"),
        ("DC03", "parameters", "scale=100;places=-1", "row 4, field parameters: `places=-1` is not a whole"),
        ("DC02", "action", "rounds", "row 3, field action: `rounds` is not one of suppress, round"),
        ("DC02", "scope", "subnational", "row 3, field scope: `subnational` is not one of all, sub-national"),
        ("DC01", "applies_to", "count", "row 2, field applies_to: `count` is not one of counts"),
    ],
)
def test_rules_the_engine_would_not_understand_are_refused_when_read(tmp_path, rule_id, column, text, message):
    # Before, these loaded: a misspelt action left every count unrounded without a word, and bad numbers
    # stopped apply_disclosure_control later with a bare ValueError, KeyError or decimal.DivisionByZero.
    path = tmp_path / "rules.csv"
    with RULES_FILE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for r in rows:
        if r["rule_id"] == rule_id:
            r[column] = text
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(SpecError, match=re.escape(message)):
        load_disclosure_rules(path)


@pytest.mark.parametrize(("kwargs", "message"), [({"base": 0}, "rounding base 0"), ({"threshold": -1}, "threshold -1")])
def test_unusable_threshold_or_base_is_refused(kwargs, message):
    with pytest.raises(UsageError, match=message):
        load_disclosure_rules(**kwargs)


# ------------------------------------------------------------------------------------------------------------
# Properties: no published cell between 1 and 7; rounding as configured
# ------------------------------------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=400)
councils = st.sampled_from(["318", "999", None])
rows = st.lists(
    st.tuples(st.one_of(st.none(), counts), st.one_of(st.none(), counts), councils), min_size=1, max_size=30
)


def _frame(generated) -> pd.DataFrame:
    return table(
        *(
            {"la_code": la, "numerator": num, "denominator": den, "value": None, "measure": "ASCOF 2A"}
            for num, den, la in generated
        )
    )


@settings(max_examples=60, deadline=None)
@given(rows)
def test_no_published_count_is_between_one_and_seven(generated):
    out = apply_disclosure_control(_frame(generated))
    for column in ("numerator", "denominator"):
        for cell in out[column]:
            assert cell is None or cell == "*" or not 1 <= int(cell) <= 7


@settings(max_examples=60, deadline=None)
@given(rows, st.sampled_from([5, 10]))
def test_sub_national_counts_are_rounded_to_the_base(generated, base):
    rules = load_disclosure_rules(base=base)
    out = apply_disclosure_control(_frame(generated), rules)
    for (num, _den, la), shown in zip(generated, out.numerator, strict=True):
        if num is None:
            assert shown is None
        elif shown == "*":
            assert 1 <= num <= 7
        elif la is None:
            assert shown == num
        else:
            assert shown % base == 0 and abs(shown - num) <= base // 2
    for (_num, den, la), shown in zip(generated, out.denominator, strict=True):
        if den is None:
            assert shown is None
        elif shown == "*":
            assert 1 <= den <= 7
        elif la is None:
            assert shown == den
        else:
            assert shown % base == 0 and abs(shown - den) <= base // 2


# ------------------------------------------------------------------------------------------------------------
# Rules as data, and the docs keep up with them
# ------------------------------------------------------------------------------------------------------------


def test_every_rule_has_a_source_and_rationale():
    rules = load_disclosure_rules().rules
    assert len({r.rule_id for r in rules}) == len(rules)
    assert all(r.source.strip() and r.rationale.strip() for r in rules)


def test_every_rule_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    for rule in load_disclosure_rules().rules:
        assert rule.rule_id in text, f"{rule.rule_id} missing from docs/disclosure-control.md"


def test_docs_state_what_the_rules_do_not_protect_against():
    text = DOCS.read_text(encoding="utf-8").lower()
    assert "does not protect" in text or "do not protect" in text
    assert "differencing" in text and "national" in text


def test_a_median_is_published_as_computed_unless_its_count_is_suppressed():
    """DC11/DC12: a waiting-time median is not recomputed from its (rounded) count of waits."""
    base = dict.fromkeys(MEASURE_COLUMNS)
    rows = [
        {**base, "measure": "Dashboard WT1", "la_code": "101", "numerator": 12, "value": 17.5},
        {**base, "measure": "Dashboard WT2", "la_code": "101", "numerator": 5, "value": 40.0},
        {**base, "measure": "ASCOF 1C", "la_code": "101", "numerator": 12, "value": 12.0},
    ]
    out = apply_disclosure_control(pd.DataFrame(rows, columns=list(MEASURE_COLUMNS)))
    assert out[["numerator", "value", "disclosure_flag"]].values.tolist() == [
        [10, 17.5, "rounded"],
        ["*", "*", "suppressed"],
        [10, 10.0, "rounded"],  # a count's value is its published count
    ]


def test_rules_with_national_rows_rounded_round_england_like_a_council():
    # Council mode's rules: England's 103 (which is then one council's 103) is published as 105, its 9 of 16
    # as 10 of 15 (66.7), its 3 still as `*`; the rules in force say so (DC02 for every row, no DC10).
    rules = load_disclosure_rules().with_national_rows_rounded()
    assert published(count(103, la_code=None), rules) == (105, None, 105.0, "rounded")
    assert published(ratio(9, 16, la_code=None), rules) == (10, 15, 66.7, "rounded")
    assert published(count(3, la_code=None), rules) == ("*", None, "*", "suppressed")
    described = {r["rule_id"]: r for r in rules.describe()}
    assert described["DC02"]["scope"] == "all" and "DC10" not in described
    assert published(count(103, la_code=None)) == (103, None, 103.0, "national")  # default rules unchanged
