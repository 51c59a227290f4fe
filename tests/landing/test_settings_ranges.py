"""Settings out of their range are refused before the service starts: `national_retention_years 0` (read as
"never", as 0 means "none" for `worker_threads`) would purge every import from the national store at the
next retention run; `inf` or `nan` ("keep for ever") broke every retention run."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ascld.cli import cli
from ascld.errors import UsageError
from ascld.landing.settings import Settings, generate_key_file


@pytest.mark.parametrize(
    "name,value,says",
    [
        ("national_retention_years", "0", "above 0"),
        ("national_retention_years", "-1", "above 0"),
        ("raw_retention_days", "-3", "0 or more"),
        ("raw_retention_days", "inf", "a finite number"),
        ("national_retention_years", "nan", "a finite number"),
        ("retention_interval_seconds", "0", "above 0"),
        ("worker_threads", "-1", "0 or more"),
        ("max_upload_bytes", "0", "above 0"),
        ("max_concurrent_checks", "0", "1 or more"),
        ("job_max_attempts", "0", "1 or more"),
        ("session_minutes", "0", "above 0"),
    ],
)
def test_a_setting_out_of_range_is_refused(name, value, says):
    with pytest.raises(UsageError) as refused:
        Settings.from_sources([(name, value)], environ={})
    assert f"setting {name}: {value} is out of range" in str(refused.value)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    "name,value",
    [
        ("raw_retention_days", "0"),
        ("worker_threads", "0"),
        ("check_process_idle_seconds", "0"),
        ("orphan_grace_seconds", "0"),
        ("max_problems_listed", "0"),
        ("national_retention_years", "0.5"),
    ],
)
def test_zero_stays_allowed_where_it_means_something(name, value):
    assert getattr(Settings.from_sources([(name, value)], environ={}), name) == float(value)


def test_serve_refuses_a_setting_out_of_range(tmp_path):
    key = generate_key_file(tmp_path / "store.key")
    done = CliRunner().invoke(
        cli,
        ["serve", "--store", str(tmp_path / "store"), "--store-key-file", str(key), "--init"]
        + ["--setting", "national_retention_years", "0"],
    )
    assert done.exit_code == 2, done.output
    assert "setting national_retention_years: 0 is out of range" in done.output
