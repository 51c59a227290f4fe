"""`ascld serve` as an operator runs it, in a child process: mistakes at start-up get one clear line and exit
code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ascld.landing.settings import generate_key_file
from support.postgres import free_port

pytestmark = pytest.mark.slow


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    store_key = keys / "store.key"
    if not store_key.exists():
        generate_key_file(store_key)
        (keys / "pseudo.key").write_text("ab" * 32 + "\n")
    command = [
        sys.executable,
        "-c",
        "from ascld.cli import main; main()",
        "serve",
        "--store",
        str(tmp_path / "store"),
        "--store-key-file",
        str(store_key),
        "--pseudo-key-file",
        str(keys / "pseudo.key"),
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port()),
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_serving_a_database_that_was_never_set_up_says_to_run_init(tmp_path):
    done = _serve(tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "the landing database is not set up or is out of date: run `ascld serve --init`" in done.stderr
    assert not (tmp_path / "store" / "tmp").exists() or not any((tmp_path / "store" / "tmp").iterdir())


@pytest.mark.parametrize(
    "db,says",
    [
        ("postgresql+psycopg://ascld:SECRET-PW-1@127.0.0.1:{port}/landing", "cannot open the landing database"),
        ("sqlite:////no/such/folder/landing.sqlite", "cannot open the landing database"),
        ("ascld:SECRET-PW-1@db.example.org:notaport/landing", "is not a database URL"),
    ],
    ids=["server-down", "sqlite-folder-missing", "not-a-url"],
)
@pytest.mark.parametrize("step", ["--init", "run"])
def test_a_database_that_cannot_be_opened_is_named_without_its_password(tmp_path, db, says, step):
    url = db.format(port=free_port())
    done = _serve(tmp_path, "--db", url, *([step] if step != "run" else []))
    assert done.returncode == 2, done.stderr
    assert "Unexpected error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert says in done.stderr, done.stderr
    assert "--db" in done.stderr and "SECRET-PW-1" not in done.stdout + done.stderr


def test_no_pseudonymisation_key_names_the_option_serve_has(tmp_path):
    from click.testing import CliRunner

    from ascld.cli import cli

    key = generate_key_file(tmp_path / "store.key")
    unset = {"ASCLD_PSEUDO_KEY": None, "ASCLD_PSEUDO_KEY_FILE": None}
    done = CliRunner().invoke(
        cli, ["serve", "--store", str(tmp_path / "store"), "--store-key-file", str(key)], env=unset
    )
    assert done.exit_code == 2, done.output
    assert "no pseudonymisation key was given" in done.output
    assert "pass --pseudo-key-file (or set ASCLD_PSEUDO_KEY_FILE)" in done.output, done.output
