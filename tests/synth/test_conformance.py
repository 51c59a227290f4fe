"""Every generated return obeys the file format, the scope rules and the spec, except exactly where the defect
manifest says a defect was injected (checked by an independent checker, tests/synth/checker.py)."""

from __future__ import annotations

import csv
import io
from collections import Counter

from synth_checker import Checker, manifest_for, read_csv

from ascld.synth.config import ROW_DEFECT_KINDS, TRANSPORT_DEFECT_KINDS
from ascld.synth.reference import load_councils
from ascld.synth.returns import ReturnBuilder
from ascld.synth.world import build_council


def _files(root, folder):
    return sorted((root / folder).rglob("*.csv"))


def test_every_return_has_exactly_the_listed_defects(synth_run):
    defects = read_csv(synth_run / "defects.csv")
    checker = Checker()
    files = _files(synth_run, "returns") + _files(synth_run, "clean")
    assert len(files) > 50
    for path in files:
        rel = path.relative_to(synth_run).as_posix()
        found = checker.check_bytes(path.read_bytes())
        assert not found.unusable, (rel, found.unusable[:3])
        assert not found.other, (rel, found.other[:5])
        listed = manifest_for(defects, rel)
        assert found.problems == listed, (
            rel,
            sorted(found.problems - listed)[:5],
            sorted(listed - found.problems)[:5],
        )


def test_clean_returns_have_only_inherited_defects(synth_run):
    kinds = Counter(d["kind"] for d in read_csv(synth_run / "defects.csv") if d["file"].startswith("clean/"))
    assert set(kinds) <= {"missing_mandatory", "bad_nhs_check_digit"}
    details = {d["detail"] for d in read_csv(synth_run / "defects.csv") if d["file"].startswith("clean/")}
    assert all("case-management system" in d for d in details)


def test_every_row_defect_kind_occurs_once_per_row(synth_run):
    defects = [d for d in read_csv(synth_run / "defects.csv") if d["file"].startswith("returns/")]
    assert {d["kind"] for d in defects} == set(ROW_DEFECT_KINDS)
    per_row = Counter((d["file"], d["row"]) for d in defects)
    assert max(per_row.values()) == 1


def test_transport_variants_are_unusable_as_listed(synth_run):
    defects = read_csv(synth_run / "defects.csv")
    checker = Checker()
    variants = _files(synth_run, "transport")
    assert variants
    seen = set()
    for path in variants:
        rel = path.relative_to(synth_run).as_posix()
        listed = {x for x in manifest_for(defects, rel) if x[2] in TRANSPORT_DEFECT_KINDS}
        assert len(listed) == 1
        seen |= {x[2] for x in listed}
        assert set(checker.check_bytes(path.read_bytes()).unusable) == listed, rel
    assert seen == set(TRANSPORT_DEFECT_KINDS)
    assert not any(
        d["kind"] in TRANSPORT_DEFECT_KINDS for d in defects if not d["file"].startswith("transport/")
    )


def test_fast_row_text_equals_csv_quoting_of_its_cells(synth_config):
    world = build_council(synth_config.with_(people_per_council=200), load_councils()[0])
    builder = ReturnBuilder(world)
    q = synth_config.quarter_list[-1]
    rows = builder.rows(q.period_start, q.period_end)
    assert rows
    for row in rows:
        line = row.line()
        expected = io.StringIO()
        csv.writer(expected, lineterminator="").writerow(row.cells)  # materialises the row
        assert line == expected.getvalue()
