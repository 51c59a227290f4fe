"""Property tests.

Clean synthetic rows pass with no failure; one mutated field gives exactly that field's failure.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from validate_helpers import failures, validate_rows

from ascld.identity.nhs_number import check_nhs_number
from ascld.quality.sample import SampleGenerator
from ascld.quality.sqlgen import evaluate_status, is_blank
from ascld.spec import load_spec

SPEC = load_spec()
PROPERTY = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@PROPERTY
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40))
def test_clean_synthetic_rows_pass_with_no_failure(tmp_path_factory, seed, n):
    rows = SampleGenerator(SPEC, seed=seed).rows(n)
    result = validate_rows(tmp_path_factory.mktemp("clean"), rows)
    assert result.exit_code == 0, [str(p) for p in result.problems if p.severity == "error"]


def _mutations(row: dict[str, str], column: str) -> list[tuple[str, str]]:
    """Values that break one rule of this field only, each with the check expected."""
    f = SPEC.field(column)
    value = row[column]
    from ascld.quality.sample import row_lookup

    status = evaluate_status(SPEC.status_rules[column], row_lookup(SPEC, row))
    if is_blank(value):
        return []
    # Blanking a mandatory field; Client_Type and Event_Type drive other statuses and are covered below.
    candidates = [("", "C001")] if status == 2 and column not in ("Client_Type", "Event_Type") else []
    if f.defined_list:
        lst = SPEC.lists[f.defined_list]
        up = value.upper()
        known = set(lst.r2_values) | set(lst.r1_values) | set(SPEC.derived_values)
        if up != value and up not in known:
            candidates.append((up, "C003"))
    elif f.type == "date":
        if column == "Date_of_Death" and is_blank(row["Event_End_Date"]):
            return []  # a date of death makes the end date mandatory (national rule): not one failure
        candidates += [("31/02/2025", "C008"), ("2025-02-01", "C007"), ("1/2/2025", "C007")]
    elif f.type == "decimal":
        if "." in value and len(value.split(".")[1]) == 2:
            candidates.append((value + "1", "C011"))
    elif f.type == "integer":
        candidates.append(("1.5", "C013"))
    elif column == "NHS_Number":
        wrong = value[:9] + str((int(value[9]) + 3) % 10)
        if check_nhs_number(wrong).problem == "check_digit":
            candidates.append((wrong, "C016"))
    elif column == "Postcode":
        candidates.append(("NOT A POSTCODE", "C018"))
    return candidates


@PROPERTY
@given(seed=st.integers(0, 10_000), n=st.integers(1, 8), data=st.data())
def test_one_mutated_field_gives_exactly_that_fields_failure(tmp_path_factory, seed, n, data):
    rows = SampleGenerator(SPEC, seed=seed).rows(n)
    i = data.draw(st.integers(0, n - 1))
    column = data.draw(st.sampled_from(SPEC.columns))
    candidates = _mutations(rows[i], column)
    assume(candidates)
    new, check = data.draw(st.sampled_from(candidates))
    rows[i] = dict(rows[i], **{column: new})
    result = validate_rows(tmp_path_factory.mktemp("mutated"), rows, submission_date=dt.date(2025, 10, 20))
    assert failures(result) == {(i + 2, column, check)}, [str(p) for p in result.problems]
