"""Every JSON error the service gives has one shape (STYLE.md §2.3):

    {"ok": false, "status": N, "errors": [{"file", "row", "field", "message", "hint"}, ...]}

Each test below sends a request down one error path and checks the shape with `assert_error_shape`.
"""

from __future__ import annotations

import gzip
import hashlib
import secrets

import pytest
from fastapi.testclient import TestClient

from ascld.landing import views

ERROR_KEYS = {"file", "row", "field", "message", "hint"}
# Keys a refusal may add beside the shape (documented in docs/landing.md).
EXTRA_KEYS = {"duplicate", "submission", "report", "problem_count"}


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["ok"] is False
    assert body["status"] == status
    assert set(body) - {"ok", "status", "errors"} <= EXTRA_KEYS
    assert isinstance(body["errors"], list) and body["errors"]
    for item in body["errors"]:
        assert set(item) == ERROR_KEYS
        assert isinstance(item["message"], str) and item["message"].strip()
        assert isinstance(item["hint"], str)
        assert item["row"] is None or isinstance(item["row"], int)
    return body


def test_error_shape_401_without_credentials(landing):
    assert_error_shape(landing.client.get("/api/v1/submissions"), 401)


def test_error_shape_401_with_a_made_up_token(landing):
    fake = f"ascld_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    response = landing.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {fake}"})
    assert_error_shape(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_error_shape_403_wrong_role(landing):
    assert_error_shape(landing.api("analyst").get("/api/v1/overview"), 403)


def test_error_shape_404_unknown_route(landing):
    assert_error_shape(landing.api("processor").get("/api/v1/no-such-thing"), 404)


def test_error_shape_404_unknown_submission(landing):
    assert_error_shape(landing.api("processor").get(f"/api/v1/submissions/{secrets.token_hex(16)}"), 404)


def test_error_shape_405_wrong_method(landing):
    assert_error_shape(landing.api("processor").put("/api/v1/overview"), 405)


def test_error_shape_413_form_body_too_large(landing_factory):
    landing = landing_factory(max_form_bytes=1000)
    response = landing.api("council_a").post(
        "/api/v1/tokens", content=b"{" + b" " * 5000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert_error_shape(response, 413)


def test_error_shape_413_upload_declared_too_large(landing_factory):
    landing = landing_factory(max_upload_bytes=1000)
    response = landing.api("council_a").post(
        "/api/v1/submissions", content=b"x" * 5000, headers={"Content-Type": "text/csv"}
    )
    body = assert_error_shape(response, 413)
    assert "1,000 bytes" in body["errors"][0]["message"]


def test_error_shape_413_gzip_over_its_own_limit(landing_factory):
    landing = landing_factory(max_gzip_upload_bytes=100)
    data = gzip.compress(secrets.token_bytes(400))
    response = landing.api("council_a").post(
        "/api/v1/submissions", content=data, headers={"Content-Type": "application/gzip"}
    )
    body = assert_error_shape(response, 413)
    assert "compressed" in body["errors"][0]["message"]


def test_error_shape_431_request_head_too_large(landing):
    assert_error_shape(landing.client.get("/healthz", headers={"X-Padding": "a" * 20_000}), 431)


def test_error_shape_415_upload_content_type(landing):
    response = landing.api("council_a").post(
        "/api/v1/submissions", content=b"a,b\r\n", headers={"Content-Type": "application/json"}
    )
    assert assert_error_shape(response, 415)["errors"][0]["field"] == "Content-Type"


def test_error_shape_400_bad_idempotency_key(landing):
    response = landing.api("council_a").post(
        "/api/v1/submissions",
        content=b"a,b\r\n",
        headers={"Content-Type": "text/csv", "Idempotency-Key": "nope"},
    )
    assert assert_error_shape(response, 400)["errors"][0]["field"] == "Idempotency-Key"


def test_error_shape_400_body_does_not_match_its_hash(landing):
    wrong = hashlib.sha256(b"something else").hexdigest()
    response = landing.api("council_a").post(
        "/api/v1/submissions",
        content=b"a,b\r\n",
        headers={"Content-Type": "text/csv", "Idempotency-Key": wrong},
    )
    assert_error_shape(response, 400)


def test_error_shape_422_empty_upload(landing):
    response = landing.api("council_a").post(
        "/api/v1/submissions", content=b"", headers={"Content-Type": "text/csv"}
    )
    assert_error_shape(response, 422)


def test_error_shape_422_invalid_query_parameter(landing):
    body = assert_error_shape(landing.api("dpo").get("/api/v1/audit?limit=999999"), 422)
    assert body["errors"][0]["field"] == "limit"


def test_error_shape_422_invalid_json_body(landing):
    response = landing.api("admin").post("/api/v1/users", json={"username": "x"})
    body = assert_error_shape(response, 422)
    assert {e["field"] for e in body["errors"]} >= {"password", "role"}


def test_error_shape_422_refused_file_carries_problems_and_report(landing, bad_return):
    response = landing.api("council_a").post(
        "/api/v1/submissions", content=bad_return.read_bytes(), headers={"Content-Type": "text/csv"}
    )
    body = assert_error_shape(response, 422)
    assert body["report"].endswith(f"/submissions/{body['submission']['id']}")
    assert body["problem_count"] >= len(body["errors"])


def test_error_shape_410_raw_file_gone(landing, good_return):
    up = landing.api("council_a").post(
        "/api/v1/submissions", content=good_return.read_bytes(), headers={"Content-Type": "text/csv"}
    )
    sub_id = up.json()["submission"]["id"]
    (landing.config.raw_dir / f"{sub_id}.enc").unlink()
    response = landing.api("processor").get(f"/api/v1/submissions/{sub_id}/raw?purpose=reprocessing")
    assert_error_shape(response, 410)


def test_error_shape_422_raw_purpose_not_listed(landing):
    response = landing.api("processor").get(
        f"/api/v1/submissions/{secrets.token_hex(16)}/raw?purpose=curiosity"
    )
    assert assert_error_shape(response, 422)["errors"][0]["field"] == "purpose"


def test_error_shape_500_unexpected(landing, monkeypatch):
    def broken(session):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "overview_rows", broken)
    client = TestClient(landing.app, base_url="https://testserver", raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {landing.tokens['processor']}"
    body = assert_error_shape(client.get("/api/v1/overview"), 500)
    assert "boom" not in str(body)


@pytest.mark.parametrize("path", ["/overview", "/submissions/" + "0" * 32])
def test_pages_answer_errors_as_html_not_json(landing, path):
    browser = landing.browser("analyst")
    response = browser.get(path)
    assert response.status_code in (403, 404)
    assert response.headers["content-type"].startswith("text/html")
    assert "There is a problem" in response.text or "Page not found" in response.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("la_code=2020-01-31", "la_code"),  # date-like: the audit trail may not record it
        ("la_code=SW1A1AA", "la_code"),  # postcode-like (letters and digits, as an LA code)
        ("action=01/02/2020", "action"),
        ("action=no_such_action", "action"),
    ],
)
def test_error_shape_422_audit_filter_that_cannot_be_recorded(landing, query, field):
    """An audit filter the audit trail cannot record (it looks identifying, or is not an action at all) is a
    bad request, not a service error (it was a 500 with a logged traceback)."""
    body = assert_error_shape(landing.api("dpo").get(f"/api/v1/audit?{query}"), 422)
    assert body["errors"][0]["field"] == field
    page = landing.browser("dpo").get(f"/audit?{query}")
    assert page.status_code == 422
    assert "text/html" in page.headers["content-type"]


def test_error_shape_422_id_beyond_the_databases_integers(landing):
    """An id larger than a 64-bit integer was passed to the database and answered 500 (SQLite OverflowError)."""
    huge = 10**23
    body = assert_error_shape(landing.api("dpo").get(f"/api/v1/audit?before={huge}"), 422)
    assert body["errors"][0]["field"] == "before"
    assert landing.browser("dpo").get(f"/audit?before={huge}").status_code == 422
    admin = landing.browser("admin")
    page = admin.post(f"/admin/users/{huge}/active", data={"active": "0", "csrf_token": admin.csrf})
    assert page.status_code == 422
