"""The submit client's retries, idempotency key and refusal handling, against a scripted transport."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from ascld.errors import UsageError
from ascld.landing.client import SubmitClient, SubmitError, check_url

SUB = {
    "id": "a" * 32,
    "status": "accepted",
    "status_label": "Accepted, waiting for ingest",
    "rows": 3,
    "problems": 0,
    "size_bytes": 10,
    "received_at": "2025-10-01T00:00:00Z",
    "links": {"page": "http://127.0.0.1/submissions/" + "a" * 32},
}


class Script:
    """Answers requests in turn and records what arrived."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.uploads: list[tuple[str, bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/api/v1/submissions":
            return httpx.Response(200, json={"ok": True, "submissions": []})
        self.uploads.append((request.headers.get("idempotency-key"), request.read()))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _client(script: Script, retries: int = 3) -> SubmitClient:
    return SubmitClient(
        "http://127.0.0.1:9",
        "ascld_000000000000_" + "x" * 43,
        retries=retries,
        backoff=0,
        transport=httpx.MockTransport(script),
    )


def test_retries_send_the_same_bytes_with_the_same_key(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"LA Code\r\n101\r\n" * 1000)
    script = Script(
        httpx.ConnectError("refused"),
        httpx.Response(503),
        httpx.Response(201, json={"ok": True, "duplicate": False, "submission": SUB}),
    )
    seen = []
    result = _client(script).submit(
        path, progress=lambda stage, done, total: seen.append((stage, done, total))
    )
    assert result.outcome == "accepted" and result.attempts == 3
    key = hashlib.sha256(path.read_bytes()).hexdigest()
    assert [k for k, _ in script.uploads] == [key, key, key]
    assert all(body == path.read_bytes() for _, body in script.uploads)
    assert seen[-1][0] == "upload" and seen[-1][1] == seen[-1][2] == path.stat().st_size


def test_gives_up_after_its_retries_with_a_clear_message(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"x")
    script = Script(*[httpx.ConnectError("refused")] * 3)
    with pytest.raises(SubmitError, match="could not reach .* after 3 attempts.*not sent twice"):
        _client(script, retries=2).submit(path)


def test_a_refusal_is_not_retried_and_carries_problems_and_report(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"x")
    refused = {
        "ok": False,
        "status": 422,
        "report": "http://127.0.0.1/submissions/" + "b" * 32,
        "problem_count": 7,
        "duplicate": False,
        "submission": {**SUB, "status": "refused"},
        "errors": [{"file": "r.csv", "row": 1, "field": "Event_Type", "message": "m", "hint": "h"}],
    }
    script = Script(httpx.Response(422, json=refused))
    result = _client(script).submit(path)
    assert result.outcome == "refused" and result.attempts == 1 and len(script.uploads) == 1
    assert result.problem_count == 7 and result.problems[0]["field"] == "Event_Type"
    assert result.report_url.endswith("b" * 32)


def test_other_errors_become_one_message_from_the_error_shape(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"x")
    body = {
        "ok": False,
        "status": 413,
        "errors": [
            {
                "file": None,
                "row": None,
                "field": None,
                "message": "the file is too large.",
                "hint": "Split it.",
            }
        ],
    }
    with pytest.raises(SubmitError, match="The file is too large. Split it.") as info:
        _client(Script(httpx.Response(413, json=body))).submit(path)
    assert info.value.status == 413


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://landing.example.org", True),
        ("http://127.0.0.1:8000", True),
        ("http://localhost:8000", True),
        ("http://landing.example.org", False),
        ("ftp://x", False),
        ("landing.example.org", False),
    ],
)
def test_plain_http_only_to_this_machine(url, ok):
    if ok:
        assert check_url(url) == url
    else:
        with pytest.raises(UsageError):
            check_url(url)
