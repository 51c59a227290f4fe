"""`ascld submit` against a real server on loopback: a file name with letters outside ASCII. On SQLite
(tests/service runs the service on both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from ascld.cli import cli
from support.landing import make_return
from support.landing_server import LandingServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LandingServer]:
    root = tmp_path_factory.mktemp("submit_server")
    with LandingServer(
        root, f"sqlite:///{root / 'landing.sqlite'}", {"council_a": ("council_submitter", "101")}
    ) as landing:
        landing.start()
        yield landing


def test_a_file_name_outside_ascii_is_sent_and_shown_in_ascii(server, tmp_path):
    # Windows and Excel put curly apostrophes and dashes in names; HTTP headers carry ASCII only.
    path = make_return(tmp_path / "Council’s Q2 – Données.csv", 30, la_code="101", seed=31)
    result = CliRunner().invoke(
        cli, ["submit", str(path), "--to", server.url, "--quiet"], env={"ASCLD_TOKEN": server.tokens["council_a"]}
    )
    assert result.exit_code == 0, result.output
    assert "accepted as submission" in result.output
    with server.client("council_a") as c:
        names = [s["file_name"] for s in c.get("/api/v1/submissions").json()["submissions"]]
    assert names == ["Council_s Q2 _ Donnees.csv"]
