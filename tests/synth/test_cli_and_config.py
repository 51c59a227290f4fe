"""`ascld synth` on the command line, and configuration errors."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from ascld.cli import cli
from ascld.errors import UsageError
from ascld.synth.config import SynthConfig
from ascld.synth.runner import generate


def test_synth_command_writes_the_outputs(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "synth",
            str(out),
            "--councils",
            "1",
            "--people-per-council",
            "80",
            "--quarters",
            "2",
            "--cms",
            "--clean",
            "--transport-defects",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in (
        "submissions.csv",
        "defects.csv",
        "behaviours.csv",
        "councils.csv",
        "run_manifest.json",
        "demographic_index.csv",
        "demographic_index.parquet",
        "hospital_spells.csv",
        "hospital_spells.parquet",
    ):
        assert (out / name).is_file(), name
    for folder in ("returns", "clean", "transport", "cms", "truth/persons", "truth/events"):
        assert any((out / folder).iterdir()), folder
    assert "999" not in result.output  # never echoes NHS numbers


@pytest.mark.parametrize(
    "args",
    [
        ["--defect-kinds", "no_such_kind"],
        ["--start", "2024-05-01"],
        ["--la-codes", "000"],
        ["--no-truth", "--no-returns", "--no-index", "--no-spells"],
        ["--councils", "2", "--cms", "--cms-url", "sqlite:////tmp/one.sqlite"],
    ],
)
def test_synth_usage_errors_exit_2(tmp_path, args):
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "x"), "--people-per-council", "20", *args])
    assert result.exit_code == 2, result.output


def test_config_checks():
    with pytest.raises(UsageError):
        SynthConfig(start=dt.date(2024, 4, 2))
    with pytest.raises(UsageError):
        SynthConfig(defect_rates={"made_up": 0.1})
    with pytest.raises(UsageError):
        SynthConfig(outputs=frozenset({"everything"}))
    quarters = SynthConfig(quarters=8).quarter_list
    assert quarters[0].period_start == dt.date(2023, 7, 1) and quarters[0].period_end == dt.date(2024, 6, 30)
    assert quarters[-1].period_end == dt.date(2026, 3, 31)
    assert all((q.period_end - q.period_start).days in (364, 365) for q in quarters)


def test_no_behaviour_and_no_defects_gives_plain_files(tmp_path):
    config = SynthConfig(
        seed=5,
        councils=("131",),
        people_per_council=100,
        quarters=2,
        behaviour=False,
        defect_rates={},
        nhs_missing_rate=0,
        nhs_invalid_rate=0,
        outputs=frozenset({"returns"}),
    )
    generate(config, tmp_path)
    assert (tmp_path / "defects.csv").read_text().strip() == "file,row,field,kind,detail"
    assert (tmp_path / "behaviours.csv").read_text().strip() == "la_code,file,behaviour"
    assert len(list((tmp_path / "returns").rglob("*.csv"))) == 2
