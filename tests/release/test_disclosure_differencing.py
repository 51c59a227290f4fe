"""Differencing: two published tables whose difference isolates a small group."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from ascld.measures.output import MEASURE_COLUMNS
from ascld.release import apply_disclosure_control, find_differencing_risks, sum_published

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measures"))
from salt_fixtures import PERIOD, frame, request  # noqa: E402


def cell(la_code, breakdown, group, n, measure="SALT STS001"):
    row = dict.fromkeys(MEASURE_COLUMNS)
    row.update(measure=measure, la_code=la_code, breakdown=breakdown, group=group, numerator=n, value=n)
    return row


# The classic case: a council publishes its total (103) and, in another table, the same people by age band
# (18-64: 60, 65+: 40). Their difference is the 3 people in no band (aged under 18), a group that is never
# published itself.
TOTALS = pd.DataFrame([cell("318", "Total", "Total", 103), cell(None, "Total", "Total", 103)])
BANDS = pd.DataFrame(
    [
        cell("318", "Age band", "18-64", 60),
        cell("318", "Age band", "65+", 40),
        cell(None, "Age band", "18-64", 60),
        cell(None, "Age band", "65+", 40),
    ]
)


def risks(first, second):
    keys = ["measure", "la_code"]
    return find_differencing_risks(first, sum_published(second, keys), on=keys)


def test_without_disclosure_control_the_difference_isolates_the_small_group():
    found = risks(TOTALS, BANDS)
    council = found[found.la_code == "318"].iloc[0]
    assert (council.difference, council.risk) == (3, "exact")
    assert len(found) == 2  # council and national


def test_rounding_protects_the_council_figures():
    # 103 -> 105; 60 -> 60, 40 -> 40: the published difference is 5, but rounding may have moved the three
    # figures by up to 2 each, so the true difference is anywhere from 0 to 11; nothing is pinned down.
    found = risks(apply_disclosure_control(TOTALS), apply_disclosure_control(BANDS))
    assert found[found.la_code.notna()].empty


def test_national_totals_are_unrounded_so_differencing_still_works_there():
    # The documented limitation of the default rules (docs/disclosure-control.md).
    found = risks(apply_disclosure_control(TOTALS), apply_disclosure_control(BANDS))
    national = found[found.la_code.isna()]
    assert list(national.difference) == [3]
    assert list(national.risk) == ["exact"]


def test_suppressed_parts_are_not_added_up():
    bands = pd.DataFrame([cell("318", "Age band", "18-64", 100), cell("318", "Age band", "65+", 3)])
    summed = sum_published(apply_disclosure_control(bands), ["measure", "la_code"])
    assert summed.empty


def test_bounded_risk_when_only_one_side_is_rounded():
    # An exact (unrounded) figure of 15 against a figure rounded to 10 (true 8..12): the true gap is 3..7, so
    # the group between them is proven to be small although its size is not known.
    first = pd.DataFrame([{**cell("318", "Total", "Total", 15), "disclosure_flag": "national"}])
    second = pd.DataFrame([{**cell("318", "Part", "A", 10), "disclosure_flag": "rounded"}])
    found = find_differencing_risks(first, second, on=["measure", "la_code"])
    assert list(found.risk) == ["bounded"]
    assert (found.iloc[0].min_true_difference, found.iloc[0].max_true_difference) == (3, 7)


@pytest.fixture(scope="module")
def salt_sts001():
    from ascld.measures.salt import compute_salt

    # Nine adults and three 17-year-olds, each with one request and nothing after it (record type 1).
    rows = [request(f"A{i}", "2023-06-01", "2023-06-05", "NFA - Support declined") for i in range(9)]
    rows += [request(f"Y{i}", "2023-06-01", "2023-06-05", "NFA - Support declined", age=17) for i in range(3)]
    return compute_salt(frame(rows), period=PERIOD, engine="duckdb", measures=["SALT STS001"])


def test_salt_total_and_age_bands_isolate_requests_from_under_18s_nationally(salt_sts001):
    released = apply_disclosure_control(salt_sts001)
    totals = released[released.breakdown == "Total"]
    bands = released[released.breakdown == "Age band | Sequel"]
    found = risks(totals, bands)
    assert list(found.la_code.isna()) == [True]  # only the unrounded national figures leak
    assert list(found.difference) == [3]


def test_salt_council_figures_do_not_leak_the_under_18s(salt_sts001):
    released = apply_disclosure_control(salt_sts001)
    council = released[released.la_code == "318"]
    assert council[council.breakdown == "Total"].numerator.tolist() == [10]  # 12 rounded
    found = risks(council[council.breakdown == "Total"], council[council.breakdown == "Age band | Sequel"])
    assert found.empty


def test_national_rows_alone_can_be_checked():
    # The documented national check on England rows only: every `la_code` is empty, so the summed parts'
    # `la_code` column is all missing; it must still match the totals' (it used to stop with a pandas
    # ValueError about merging object and float64 columns).
    released = apply_disclosure_control(pd.concat([TOTALS, BANDS], ignore_index=True))
    national = released[released.la_code.isna()]
    found = risks(national[national.breakdown == "Total"], national[national.breakdown == "Age band"])
    assert (list(found.difference), list(found.risk)) == ([3], ["exact"])


def test_figures_read_back_from_a_published_csv_are_checked(tmp_path):
    # pandas reads a count column that holds `*` as text ("105", "60", "*"): those figures are still numbers to
    # compare, not unknowns (before, every pair was skipped and no risk was found).
    other = pd.DataFrame([cell("318", "Other", "Other", 3)])
    released = apply_disclosure_control(pd.concat([TOTALS, BANDS, other], ignore_index=True))
    path = tmp_path / "measures.csv"
    released.to_csv(path, index=False)
    back = pd.read_csv(path, dtype={"la_code": str})
    assert "*" in set(back.numerator)
    found = risks(back[back.breakdown == "Total"], back[back.breakdown == "Age band"])
    assert (list(found.la_code.isna()), list(found.difference), list(found.risk)) == ([True], [3], ["exact"])


def test_a_published_zero_is_exact_when_differencing():
    # England's 15 (exact) against its councils' published 10, 0 and 0. Under the default rules a council's
    # true 1 or 2 would be `*`, so a published 0 is a true 0; only the 10 may be 8..12, and England less
    # its councils is 3..7 people in no council: a small group, proven. Counting +/-2 for each 0 as well
    # gave -1..11 and reported nothing.
    councils = apply_disclosure_control(
        pd.DataFrame([cell("318", "Total", "Total", 11), cell("102", "Total", "Total", 0),
                      cell("103", "Total", "Total", 0)])
    )
    england = apply_disclosure_control(pd.DataFrame([cell(None, "Total", "Total", 15)]))
    found = find_differencing_risks(england, sum_published(councils, ["measure"]), on=["measure"])
    assert list(found.risk) == ["bounded"]
    assert (found.iloc[0].min_true_difference, found.iloc[0].max_true_difference) == (3, 7)
    # A single published 0 against an exact figure: the difference is exact.
    zero = apply_disclosure_control(pd.DataFrame([cell("102", "Total", "Total", 0)])).assign(la_code=None)
    found = find_differencing_risks(pd.DataFrame([cell(None, "Total", "Total", 4)]).assign(disclosure_flag="national"),
                                    zero, on=["measure"])
    assert (list(found.difference), list(found.max_true_difference)) == ([4], [4])
