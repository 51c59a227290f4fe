"""The validator under a spec overlay (docs/spec.md "Overlay"): its hints name only values of the official list."""

from __future__ import annotations

from validate_helpers import validate_rows

from ascld.quality.sample import SampleGenerator
from ascld.spec import load_spec


def test_a_release_1_value_is_never_pointed_at_a_value_the_overlay_dropped(tmp_path, spec):
    # We ship 'Fully Met' (R1) -> 'Fully met' (our guess at R2). The official list, overlaid, reads 'Outcomes fully
    # met' and maps nothing, so 'Fully met' is no value at all: the hint must not tell the council to use it.
    overlay = tmp_path / "official.csv"
    overlay.write_text(
        "list,value\nreview_outcomes_achieved,Outcomes fully met\nreview_outcomes_achieved,Outcomes not met\n",
        encoding="utf-8",
    )
    g = SampleGenerator(spec, seed=3)
    rows = [g.row(client_type="Service user", event_type="Review", new_person=True) for _ in range(3)]
    for row, value in zip(rows, ("Fully Met", "Fully met", "Outcomes fully met"), strict=True):
        row["Review_Outcomes_Achieved"] = value
    result = validate_rows(tmp_path, rows, spec=load_spec(overlay))
    got = {p.row: p for p in result.problems if p.field == "Review_Outcomes_Achieved"}
    assert sorted(got) == [2, 3]  # row 4 holds an official value
    for p in got.values():
        assert p.check_id == "C004", p
        assert "Fully met'" not in p.hint and "no Release 2 equivalent" in p.hint, p.hint
