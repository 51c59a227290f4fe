"""`ascld submit` against real servers on loopback: a file name with letters outside ASCII, a token file saved
by Windows PowerShell, and an address that answers, but not as the landing service does. On SQLite
(tests/service runs the service on both backends)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from ascld.cli import cli
from support.landing import make_return
from support.landing_server import LandingServer
from support.postgres import free_port

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
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    with server.client("council_a") as c:
        found = c.get("/api/v1/submissions", params={"sha256": sha256}).json()["submissions"]
    assert [s["file_name"] for s in found] == ["Council_s Q2 _ Donnees.csv"]


class _NotTheService(http.server.BaseHTTPRequestHandler):
    """A web server that answers every request with an HTML page (a proxy's sign-in page, a web site)."""

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        self._page()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._page()

    def _page(self) -> None:
        body = b"<!DOCTYPE html><html><body>Welcome to our intranet</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_address_that_is_not_the_landing_service_is_named_as_such(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _NotTheService)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        path = tmp_path / "q2.csv"
        path.write_bytes(b"LA Code\r\n101\r\n")
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        result = CliRunner().invoke(
            cli, ["submit", str(path), "--to", url, "--quiet"], env={"ASCLD_TOKEN": "ascld_000000000000_" + "x" * 43}
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert result.exit_code == 2, result.output
    assert "Unexpected error" not in result.output
    assert f"the answer from {url} is not the landing service's" in result.output
    assert "--to" in result.output


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_token_file_saved_by_windows_powershell_is_read(server, tmp_path, encoding):
    # `echo $token > token.txt` in Windows PowerShell 5 writes UTF-16 with a byte-order mark and CRLF.
    token_file = tmp_path / "token.txt"
    token_file.write_bytes(f"\ufeff{server.tokens['council_a']}\r\n".encode(encoding))
    path = make_return(tmp_path / f"q2_{encoding}.csv", 30, la_code="101", seed=32 if encoding == "utf-16-le" else 33)
    result = CliRunner().invoke(
        cli,
        ["submit", str(path), "--to", server.url, "--token-file", str(token_file), "--quiet"],
        env={"ASCLD_TOKEN": None},
    )
    assert result.exit_code == 0, result.output
    assert "accepted as submission" in result.output
