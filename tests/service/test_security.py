"""Security basics: CSRF on forms, cookie flags, the content security policy, file names never used as paths,
oversized and malformed requests refused, tokens and passwords never stored in clear."""

from __future__ import annotations

import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text

from ascld.landing.models import ApiToken, Submission, User
from support.landing import PASSWORD, login


def _csrf_of(page_html: str) -> str:
    return page_html.split('name="csrf_token" value="')[1].split('"')[0]


# --- CSRF ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,data",
    [
        ("/tokens", {"name": "laptop", "days": "30"}),
        ("/logout", {}),
    ],
)
def test_csrf_forms_refused_without_or_with_a_wrong_token(landing, path, data):
    browser = landing.browser("council_a")
    assert browser.post(path, data=data, follow_redirects=False).status_code == 403
    assert browser.post(path, data={**data, "csrf_token": "x" * 43}, follow_redirects=False).status_code == 403
    ok = browser.post(path, data={**data, "csrf_token": browser.csrf}, follow_redirects=False)
    assert ok.status_code in (201, 303)


def test_csrf_admin_form_refused_without_token_and_nothing_created(landing):
    browser = landing.browser("admin")
    response = browser.post("/admin/users", data={"username": "sneaky", "password": PASSWORD, "role": "dpo"})
    assert response.status_code == 403
    with landing.state.db.tx() as s:
        assert s.scalar(select(User).where(User.username == "sneaky")) is None


def test_csrf_json_api_with_cookie_needs_the_header(landing):
    browser = landing.browser("council_a")
    assert browser.post("/api/v1/tokens", json={"name": "x"}).status_code == 403
    ok = browser.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": browser.csrf})
    assert ok.status_code == 201


@pytest.mark.parametrize(
    "origin,allowed",
    [
        ("https://evil.example", False),
        ("https://testserver.evil.example", False),
        ("null", False),  # sandboxed frames, and browsers under Referrer-Policy: no-referrer
        ("https://testserver", True),
        ("http://testserver", True),  # the service behind a TLS proxy sees http; the host is what counts
    ],
)
def test_csrf_origin_must_be_this_site_even_with_the_token(landing, origin, allowed):
    browser = landing.browser("council_a")
    response = browser.post("/tokens", data={"name": "x", "csrf_token": browser.csrf}, headers={"Origin": origin})
    assert response.status_code == (201 if allowed else 403)


def test_csrf_not_needed_with_a_bearer_token(landing):
    assert landing.api("council_a").post("/api/v1/tokens", json={"name": "x"}).status_code == 201


def test_csrf_login_form_needs_its_own_token(landing):
    client = TestClient(landing.app, base_url="https://testserver")
    response = client.post("/login", data={"username": "council_a", "password": PASSWORD, "csrf_token": "abc"})
    assert response.status_code == 403
    assert "ascld_session" not in response.cookies


def test_csrf_upload_form_refused_before_the_file_is_stored(landing, good_return):
    browser = landing.browser("council_a")
    files = {"file": ("q.csv", good_return.read_bytes(), "text/csv")}
    response = browser.post("/upload", data={"csrf_token": "wrong"}, files=files, follow_redirects=False)
    assert response.status_code == 403
    with landing.state.db.tx() as s:
        assert s.scalars(select(Submission)).all() == []
    assert list(landing.state.tmp.path.iterdir()) == []


# --- cookies ------------------------------------------------------------------------------------------------


def test_session_cookie_flags(landing):
    client = TestClient(landing.app, base_url="https://testserver")
    response = login(client, "council_a")
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("ascld_session="))
    flags = {p.strip().lower() for p in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags


def test_session_cookie_secure_flag_can_be_turned_off_for_loopback(landing_factory):
    landing = landing_factory(cookie_secure=False)
    client = TestClient(landing.app, base_url="http://testserver")
    response = login(client, "council_a")
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("ascld_session="))
    assert "secure" not in cookie.lower() and "httponly" in cookie.lower()
    assert "strict-transport-security" not in response.headers


def test_logout_revokes_the_session_server_side(landing):
    browser = landing.browser("council_a")
    cookie = browser.cookies["ascld_session"]
    browser.post("/logout", data={"csrf_token": browser.csrf})
    replay = TestClient(landing.app, base_url="https://testserver")
    replay.cookies.set("ascld_session", cookie)
    assert replay.get("/api/v1/whoami").status_code == 401


# --- headers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/api/v1/whoami", "/static/app.css", "/no-such-page", "/healthz"])
def test_content_security_policy_has_no_external_sources(landing, path):
    response = landing.client.get(path)
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert not re.search(r"https?:|\*|data:.*script", csp)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


def test_pages_load_nothing_from_other_sites(landing):
    browser = landing.browser("council_a")
    for path in ("/login", "/upload", "/submissions", "/tokens"):
        html = browser.get(path).text
        assert not re.search(r"(src|href)=\"(https?:)?//", html), path
    assert "http" not in landing.client.get("/static/app.css").text


def test_pages_are_not_cached(landing):
    assert landing.browser("council_a").get("/submissions").headers["cache-control"] == "no-store"


# --- file names and paths -----------------------------------------------------------------------------------


NASTY_NAMES = [
    "../../../../etc/passwd",
    "..\\..\\windows\\system32\\evil.csv",
    "/absolute/path.csv",
    "q1.csv%00.exe",
    "ok name (1).csv",
    "....//....//x.csv",
    "CON",
    "",
]


def test_uploaded_file_names_are_never_used_as_paths(landing, good_return, bad_return, tmp_path):
    before = set(tmp_path.rglob("*"))
    for i, name in enumerate(NASTY_NAMES):
        # One accepted file (it reaches raw/), then refused ones (fast to check; they still get a report).
        data = good_return.read_bytes() if i == 0 else bad_return.read_bytes() + b"\r\n" * i
        response = landing.api("council_a").post(
            "/api/v1/submissions", content=data, headers={"Content-Type": "text/csv", "X-Filename": name}
        )
        assert response.status_code in (201, 422), response.text
        shown = response.json()["submission"]["file_name"]
        assert re.fullmatch(r"[A-Za-z0-9._ -]{1,100}", shown), shown
        assert "/" not in shown and "\\" not in shown and not shown.startswith(".")
    new = {p for p in set(tmp_path.rglob("*")) - before if p.is_file()}
    assert any(p.suffix == ".enc" for p in new)
    for path in new:
        rel = path.relative_to(tmp_path).as_posix()
        assert re.fullmatch(
            r"store/raw/[0-9a-f]{32}\.enc|store/reports/[0-9a-f]{32}/[a-z_]+\.(json|csv|html)"
            r"|landing\.sqlite.*|store/tmp/.*",
            rel,
        ), rel


def test_multipart_file_name_is_not_a_path_either(landing, bad_return):
    browser = landing.browser("council_a")
    files = {"file": ("../../../outside.csv", bad_return.read_bytes(), "text/csv")}
    response = browser.post("/upload", data={"csrf_token": browser.csrf}, files=files, follow_redirects=False)
    assert response.status_code == 303
    assert not (landing.config.store_dir.parent / "outside.csv").exists()
    with landing.state.db.tx() as s:
        assert s.scalar(select(Submission.display_name)) == "outside.csv"


# --- oversized and malformed requests -----------------------------------------------------------------------


def test_chunked_form_body_over_the_limit_is_refused(landing_factory):
    landing = landing_factory(max_form_bytes=2000)

    def body():
        yield b'{"name": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    response = landing.api("council_a").post(
        "/api/v1/tokens", content=body(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_chunked_upload_over_the_limit_is_refused_and_not_kept(landing_factory):
    landing = landing_factory(max_upload_bytes=10_000)

    def body():
        for _ in range(50):
            yield b"a," * 500

    response = landing.api("council_a").post(
        "/api/v1/submissions", content=body(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 413
    assert list(landing.state.tmp.path.iterdir()) == []


def test_malformed_multipart_is_refused(landing):
    browser = landing.browser("council_a")
    response = browser.post("/upload", content=b"not multipart at all", headers={"Content-Type": "multipart/form-data"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b"no boundary here at all",  # the parser raised: a 500
        b"--XYZ\r\nno colon in this header line\r\n\r\nx\r\n--XYZ--\r\n",  # the parser raised: a 500
        # a file part that never closes (the body ends early): was landed as a whole file
        b'--XYZ\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'
        b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="q1.csv"\r\n\r\nLA Code,Rep',
    ],
)
def test_broken_or_unfinished_multipart_is_a_400_and_nothing_lands(landing, body):
    browser = landing.browser("council_a")
    with landing.state.db.tx() as s:
        before = len(s.scalars(select(Submission)).all())
    response = browser.post(
        "/upload",
        content=body.replace(b"{csrf}", browser.csrf.encode()),
        headers={"Content-Type": "multipart/form-data; boundary=XYZ"},
        follow_redirects=False,
    )
    assert response.status_code == 400
    with landing.state.db.tx() as s:
        assert len(s.scalars(select(Submission)).all()) == before
    assert list(landing.state.tmp.path.iterdir()) == []


def test_multipart_without_a_file_part_is_refused(landing):
    browser = landing.browser("council_a")
    response = browser.post("/upload", data={"csrf_token": browser.csrf}, files={"other": ("a", b"b")})
    assert response.status_code == 422


def test_malformed_json_is_refused(landing):
    response = landing.api("council_a").post(
        "/api/v1/tokens", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


# --- secrets at rest ----------------------------------------------------------------------------------------


def _dump_database(landing) -> str:
    parts = []
    with landing.state.db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                parts.append(" ".join(str(v) for v in row))
    return "\n".join(parts)


def test_tokens_and_passwords_are_never_stored_in_clear(landing, caplog):
    caplog.set_level("DEBUG")
    browser = landing.browser("council_a")
    session_cookie = browser.cookies["ascld_session"]
    made = landing.api("council_a").post("/api/v1/tokens", json={"name": "laptop"}).json()["token"]
    dump = _dump_database(landing)
    secrets_in_clear = [PASSWORD, session_cookie, made, *landing.tokens.values()]
    for secret in secrets_in_clear:
        assert secret not in dump
        assert secret not in caplog.text
        for path in landing.config.store_dir.rglob("*"):
            if path.is_file() and not path.name.startswith("landing.sqlite"):
                assert secret.encode() not in path.read_bytes()
    with landing.state.db.tx() as s:
        for user in s.scalars(select(User)):
            assert user.password_hash.startswith("$argon2id$")
        stored = {t.token_hash for t in s.scalars(select(ApiToken))}
    assert hashlib.sha256(made.encode()).hexdigest() in stored


def test_listing_tokens_never_shows_the_token(landing):
    made = landing.api("council_a").post("/api/v1/tokens", json={"name": "laptop"}).json()["token"]
    listing = landing.api("council_a").get("/api/v1/tokens").text
    assert made not in listing and landing.tokens["council_a"] not in listing
    assert made not in landing.browser("council_a").get("/tokens").text
