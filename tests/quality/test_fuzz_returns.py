"""The fuzz campaign's guard in CI: a fixed set of seeded bad return files (tests/quality/fuzz_returns.py) against
the invariants every bad file must keep (no exception, exit code 0/1/2, exit 2 with a one-line problem naming
the file, row numbers where a row is meant, the summary schema, counts that add up, no identifying value in any
output; for a few, the CLI in a process of its own and the national ingest).

Run many more cases locally: `.venv/bin/python -m tests.quality.fuzz_returns --start 0 --count 2000`.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_returns as fz  # noqa: E402

CHUNKS = 10
PER_CHUNK = 20  # 200 cases
FIRST_SEED = 100_000
# Cases over 2 MiB (120,000 tiny rows, 3 MiB values, 2,500 copies of the rows) are run locally, not here.
TOO_BIG = 2 << 20


def _seeds(chunk: int) -> list[int]:
    return list(range(FIRST_SEED + chunk * PER_CHUNK, FIRST_SEED + (chunk + 1) * PER_CHUNK))


def _cases(chunk: int) -> list[fz.Case]:
    return [c for c in (fz.make_case(s) for s in _seeds(chunk)) if len(c.data) < TOO_BIG]


def test_the_cases_are_a_pure_function_of_the_seed():
    for seed in (FIRST_SEED, FIRST_SEED + 7, 31337):
        a, b = fz.make_case(seed), fz.make_case(seed)
        assert (a.data, a.name, a.kinds, a.notes) == (b.data, b.name, b.kinds, b.notes), seed


def test_the_fixed_seeds_cover_every_mutation_and_every_exit_code_path():
    cases = [c for chunk in range(CHUNKS) for c in _cases(chunk)]
    assert len(cases) >= 180, len(cases)
    kinds = Counter(k for c in cases for k in c.kinds)
    missing = set(fz.MUTATIONS) - set(kinds)
    assert not missing, missing
    assert sum(c.name.endswith(".gz") for c in cases) >= 20


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_fixed_seeds_keep_the_invariants(chunk, tmp_path):
    failures = []
    for case in _cases(chunk):
        outcome = fz.check_case(case, tmp_path, outputs=True)
        failures += [f"{case.label}: {f}" for f in outcome.failures]
    assert not failures, "\n".join(failures[:20])


def test_the_invariants_catch_what_they_guard(tmp_path):
    # The checks themselves can fail: an identifying value, a broken count, a missing row number.
    value = sorted(fz.identifying_values())[0]
    assert fz.find_identifying(f"x {value} y") == value
    summary = {"schema_version": "1"}
    assert fz.schema_errors(summary)
    problem = {
        "file": "r.csv",
        "row": None,
        "field": "",
        "check_id": "T009",
        "severity": "error",
        "message": "a\nb",
        "hint": "h",
    }
    assert len(fz.problem_failures(problem, "r.csv", 10)) == 2


@pytest.mark.parametrize("seed", [FIRST_SEED + 3, FIRST_SEED + 11, FIRST_SEED + 40])
def test_cli_agrees_with_the_library(seed, tmp_path):
    case = fz.make_case(seed)
    outcome = fz.check_case(case, tmp_path, cli=True)
    assert not outcome.failures, (case.label, outcome.failures)


def _first(kinds: list[str], usable: bool) -> fz.Case:
    """The first case from FIRST_SEED of exactly these mutations whose file the validator refuses (or not)."""
    from ascld.quality import validate_return

    seed = FIRST_SEED
    while True:
        case = fz.make_case(seed, kinds)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / case.name
            path.write_bytes(case.data)
            if validate_return(path, submission_date=fz.SUBMISSION).usable == usable:
                return case
        seed += 1


@pytest.mark.parametrize(
    ("kinds", "usable"), [(["truncate"], False), (["duplicate_rows"], True), (["gzip_concat"], True)]
)
def test_ingest_stores_nothing_of_a_refused_file_and_an_accepted_one_once(kinds, usable, tmp_path):
    case = _first(kinds, usable)
    outcome = fz.check_case(case, tmp_path, outputs=False, ingest=True)
    assert outcome.exit_code is not None and (outcome.exit_code != 2) == usable
    assert not outcome.failures, (case.label, outcome.failures)


def test_bad_files_as_the_previous_return_are_a_warning_at_most(tmp_path):
    # A bad --previous return never raises nor refuses the clean current return (Q007 when it cannot be read).
    failures = []
    for case in [c for c in (fz.make_case(s) for s in range(FIRST_SEED + 5000, FIRST_SEED + 5006))]:
        outcome = fz.check_case(case, tmp_path, outputs=False, previous=True)
        failures += [f"{case.label}: {f}" for f in outcome.failures]
    assert not failures, "\n".join(failures[:20])
