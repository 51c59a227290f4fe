"""What the landing service's upload-and-check path imports, in fresh processes (sys.modules).

Every module imported stays in a process's memory for its lifetime: the service process must not load the
data libraries (numpy, pyarrow, DuckDB: the validator runs in the checker), nor Alembic, which only migrations
need; the checker must not load Ibis or the dataframe libraries (the validator runs plain DuckDB SQL), nor the
web stack. These tests fail if someone adds such an import back on either path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from ascld.landing.auth import hash_password
from ascld.landing.checker import checker_env
from ascld.landing.db import Database, head_revisions, migrate, schema_is_current
from support.landing import LA_A, PASSWORD, make_return, seed

TESTS = Path(__file__).resolve().parents[1]
NEVER = ("ibis", "pandas", "polars", "pyspark", "sqlglot")
NOT_IN_CHECKER = (*NEVER, "sqlalchemy", "fastapi", "starlette", "alembic", "cryptography")
NOT_IN_SERVICE = (*NEVER, "numpy", "pyarrow", "duckdb", "alembic", "mako", "ascld.synth")


def _run(script: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted({n for n in names for m in modules if m == n or m.startswith(n + ".")})


def test_a_check_in_the_checker_imports_no_ibis_nor_the_web_stack(tmp_path):
    folder = tmp_path / "tmp"
    (folder / "report").mkdir(parents=True)
    path = make_return(folder / "return.csv", 200, la_code=LA_A)
    script = """
        import json, sys
        from ascld.landing import checker
        answer = checker._answer({"path": sys.argv[1], "la_code": sys.argv[2], "report_dir": sys.argv[3],
                                  "max_problems": 5, "temp_dir": sys.argv[4], "display_name": None})
        print(json.dumps({"answer": answer, "modules": sorted(sys.modules)}))
    """
    env = checker_env(512, folder)
    found = _run(script, str(path), LA_A, str(folder / "report"), str(folder), env=env, cwd=folder)
    assert found["answer"]["ok"] and found["answer"]["result"]["usable"], found["answer"]
    assert "duckdb" in found["modules"]  # the check did run the validator
    assert _loaded(found["modules"], NOT_IN_CHECKER) == []


def test_the_service_receives_and_checks_an_upload_without_data_libraries_or_alembic(tmp_path, monkeypatch):
    db_url = f"sqlite:///{tmp_path / 'landing.sqlite'}"
    db = Database(db_url)
    migrate(db)
    tokens, _ = seed(db, hash_password(PASSWORD))
    db.dispose()
    path = make_return(tmp_path / "q2.csv", 200, la_code=LA_A)
    key = tmp_path / "pseudo.key"
    key.write_text(os.urandom(32).hex() + "\n")
    # As `ascld serve` starts: the command line resolves `serve`, which builds the app; then one upload through
    # the API, checked in a checker process, and the council reads its report.
    script = """
        import json, sys
        from pathlib import Path
        import click
        from ascld.cli import cli
        assert cli.get_command(click.Context(cli), "serve") is not None
        from fastapi.testclient import TestClient
        from ascld.landing.app import create_app
        from support.landing import make_config
        folder, db_url, key, token, path = sys.argv[1:6]
        config = make_config(Path(folder), db_url, Path(key), check_process=True)
        with TestClient(create_app(config), base_url="https://testserver") as client:
            client.headers["Authorization"] = f"Bearer {token}"
            answer = client.post("/api/v1/submissions", content=Path(path).read_bytes(),
                                 headers={"Content-Type": "application/octet-stream", "X-Filename": "q2.csv"})
            assert answer.status_code == 201, answer.text
            sub_id = answer.json()["submission"]["id"]
            report = client.get(f"/api/v1/submissions/{sub_id}/report")
            assert report.status_code == 200, report.text
        print(json.dumps({"modules": sorted(sys.modules)}))
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)}
    found = _run(script, str(tmp_path), db_url, str(key), tokens["council_a"], str(path), env=env)
    assert "ascld.landing.app" in found["modules"]
    assert _loaded(found["modules"], NOT_IN_SERVICE) == []


def test_the_schema_check_finds_alembics_heads(tmp_path):
    from alembic.script import ScriptDirectory

    from ascld.landing.db import alembic_config

    db = Database(f"sqlite:///{tmp_path / 'landing.sqlite'}")
    try:
        assert head_revisions() == set(ScriptDirectory.from_config(alembic_config(db.url)).get_heads())
        assert not schema_is_current(db)  # empty database
        migrate(db)
        assert schema_is_current(db)
    finally:
        db.dispose()
