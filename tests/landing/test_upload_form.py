"""The upload form of a real `ascld serve` on loopback, sent as a script or a hand-made form might send it. On
SQLite (tests/service runs the service on both backends)."""

from __future__ import annotations

import re

import httpx
import pytest

from support.landing import login, make_return
from support.landing_server import LandingServer

pytestmark = pytest.mark.slow


def test_a_form_with_two_files_is_refused_not_landed_as_one_return(tmp_path):
    # `curl -F file=@part1.csv -F file=@part2.csv`: the two parts must not be joined into one return (here
    # they would make a clean one, so nothing downstream would notice).
    data = make_return(tmp_path / "q2.csv", 30, la_code="101", seed=61).read_bytes()
    cut = data.index(b"\r\n", len(data) // 2) + 2
    accounts = {"council_a": ("council_submitter", "101")}
    with LandingServer(tmp_path / "server", f"sqlite:///{tmp_path / 'landing.sqlite'}", accounts) as server:
        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as browser:
            assert login(browser, "council_a").status_code == 303
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/upload").text).group(1)
            answer = browser.post(
                "/upload",
                data={"csrf_token": csrf},
                files=[
                    ("file", ("part1.csv", data[:cut], "text/csv")),
                    ("file", ("part2.csv", data[cut:], "text/csv")),
                ],
                headers={"Origin": server.url},
                follow_redirects=False,
            )
            assert answer.status_code == 422, answer.headers
            assert "more than one file" in answer.text
            with server.client("council_a") as api:
                assert api.get("/api/v1/submissions").json()["submissions"] == []
            # The same return as one file still lands.
            whole = browser.post(
                "/upload",
                data={"csrf_token": csrf},
                files={"file": ("q2.csv", data, "text/csv")},
                headers={"Origin": server.url},
                follow_redirects=False,
            )
            assert whole.status_code == 303, whole.text[:300]
    assert [p.name for p in (server.store / "raw").iterdir()] == [
        whole.headers["location"].split("/")[2].split("?")[0] + ".enc"
    ]
