"""A connection that drops during an upload (a council's network, a closed laptop) is an everyday event: the
real `ascld serve` on loopback keeps nothing of it and logs one line, not an unexpected error with a
traceback. On SQLite (tests/service runs the service on both backends)."""

from __future__ import annotations

import socket
import time

import pytest

from support.landing import make_return
from support.landing_server import LandingServer

pytestmark = pytest.mark.slow


def _send_half_and_close(port: int, head: bytes, body: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body[: len(body) // 2])
        time.sleep(0.5)


def test_an_upload_cut_off_mid_body_is_logged_as_such_and_nothing_is_kept(tmp_path):
    data = make_return(tmp_path / "q2.csv", 300, la_code="101", seed=41).read_bytes()
    accounts = {"council_a": ("council_submitter", "101")}
    with LandingServer(tmp_path / "server", f"sqlite:///{tmp_path / 'landing.sqlite'}", accounts) as server:
        server.start()
        token = server.tokens["council_a"].encode()
        api_head = (
            b"POST /api/v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
            b"Authorization: Bearer " + token + b"\r\nContent-Length: %d\r\n\r\n" % len(data)
        )
        _send_half_and_close(server.port, api_head, data)
        chunked = b"%x\r\n%s\r\n" % (len(data), data)
        _send_half_and_close(
            server.port, api_head.replace(b"Content-Length: %d" % len(data), b"Transfer-Encoding: chunked"), chunked
        )
        deadline = time.monotonic() + 10
        while server.log().count("disconnected") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        log = server.log()
        with server.client("council_a") as c:
            assert c.get("/api/v1/submissions").json()["submissions"] == []
        assert server.alive()
    assert log.count("the client disconnected before the whole request arrived; nothing was kept") == 2, log
    assert "Traceback" not in log and "unexpected error" not in log, log
    assert list((server.store / "raw").iterdir()) == []
    assert [p for p in (server.store / "tmp").rglob("*") if p.is_file() and p.suffix != ".lock"] == []
