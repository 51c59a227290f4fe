"""Log-in, sessions, lock-out and API tokens."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from ascld.landing.models import ApiToken, AuditEvent, User, WebSession
from support.landing import PASSWORD, login


def _client(landing) -> TestClient:
    return TestClient(landing.app, base_url="https://testserver")


def test_login_with_the_right_password_opens_the_role_home(landing):
    client = _client(landing)
    response = login(client, "processor")
    assert response.status_code == 303 and response.headers["location"] == "/overview"
    assert client.get("/api/v1/whoami").json()["role"] == "processor_operator"


def test_login_follows_only_same_site_next(landing):
    client = _client(landing)
    page = client.get("/login?next=//evil.example/x")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert 'value="/"' in page.text
    response = client.post(
        "/login",
        data={"username": "dpo", "password": PASSWORD, "csrf_token": token, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/audit"


def test_wrong_password_and_unknown_user_get_the_same_answer(landing):
    wrong = login(_client(landing), "council_a", "not-the-password")
    unknown = login(_client(landing), "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401

    def message(html: str) -> str:
        return html.split('<div class="error-summary"')[1].split("</div>")[0]

    assert message(wrong.text) == message(unknown.text)
    assert "ascld_session" not in wrong.cookies


def test_failed_logins_are_audited_without_the_attempted_name(landing):
    login(_client(landing), "typed-my-password-here", "whatever")
    login(_client(landing), "council_a", "wrong-password-0")
    with landing.state.db.tx() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")).all()
    assert [e.actor for e in events] == ["unknown", "council_a"]
    assert all("typed-my-password-here" not in (e.detail or "") for e in events)


def test_account_locks_after_repeated_failures(landing_factory):
    landing = landing_factory(login_lockout_failures=3)
    for _ in range(3):
        assert login(_client(landing), "council_a", "wrong-password-0").status_code == 401
    assert login(_client(landing), "council_a").status_code == 401  # right password, but locked
    with landing.state.db.tx() as s:
        user = s.scalar(select(User).where(User.username == "council_a"))
        user.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert login(_client(landing), "council_a").status_code == 303


def test_expired_session_is_refused(landing):
    browser = landing.browser("council_a")
    with landing.state.db.tx() as s:
        for row in s.scalars(select(WebSession)):
            row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert browser.get("/api/v1/whoami").status_code == 401
    page = browser.get("/submissions", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=%2Fsubmissions")


def test_every_login_and_logout_is_audited(landing):
    browser = landing.browser("dpo")
    browser.post("/logout", data={"csrf_token": browser.csrf})
    with landing.state.db.tx() as s:
        actions = [(e.actor, e.action) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert ("dpo", "login") in actions and ("dpo", "logout") in actions


def test_token_lifetime_is_limited(landing):
    api = landing.api("council_a")
    assert api.post("/api/v1/tokens", json={"name": "x", "days": 10000}).status_code == 422
    made = api.post("/api/v1/tokens", json={"name": "x", "days": 7}).json()
    expires = dt.datetime.fromisoformat(made["expires_at"].replace("Z", "+00:00"))
    assert dt.timedelta(days=6.99) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)


def test_the_token_page_offers_the_configured_lifetime(landing_factory):
    """The form showed and sent 90 days whatever `token_days` and `max_token_days` said: with a 60-day
    maximum the form as shown was refused, and a form without days was given 90, not `token_days`."""
    landing = landing_factory(token_days=30, max_token_days=60)
    browser = landing.browser("council_a")
    page = browser.get("/tokens").text
    assert 'name="days" type="number" min="1" max="60" value="30"' in page
    for days in ({"days": "30"}, {"days": ""}, {}):
        made = browser.post("/tokens", data={"name": "web", "csrf_token": browser.csrf, **days})
        assert made.status_code == 201, days
    with landing.state.db.tx() as s:
        rows = s.query(ApiToken).filter_by(user_id=landing.user_ids["council_a"], name="web").all()
        assert len(rows) == 3
        assert all(dt.timedelta(days=29.99) < r.expires_at - r.created_at <= dt.timedelta(days=30) for r in rows)


def test_a_token_cannot_make_a_token_that_outlives_it(landing):
    """Otherwise a token (a leaked one, say) renews itself for ever by making new ones, and expiry means
    nothing. A token made in a web session may have the full lifetime."""
    short = landing.api("council_a").post("/api/v1/tokens", json={"name": "short", "days": 1}).json()
    short_expires = dt.datetime.fromisoformat(short["expires_at"].replace("Z", "+00:00"))
    client = TestClient(
        landing.app, base_url="https://testserver", headers={"Authorization": f"Bearer {short['token']}"}
    )
    child = client.post("/api/v1/tokens", json={"name": "renewed", "days": 366})
    assert child.status_code == 201
    assert dt.datetime.fromisoformat(child.json()["expires_at"].replace("Z", "+00:00")) <= short_expires
    assert client.post("/tokens", data={"name": "renewed", "days": "366"}).status_code == 201
    with landing.state.db.tx() as s:
        newest = max(s.query(ApiToken).filter_by(user_id=landing.user_ids["council_a"]), key=lambda r: r.created_at)
        assert newest.name == "renewed" and newest.expires_at <= short_expires
    browser = landing.browser("council_a")
    made = browser.post("/api/v1/tokens", json={"name": "long", "days": 366}, headers={"X-CSRF-Token": browser.csrf})
    expires = dt.datetime.fromisoformat(made.json()["expires_at"].replace("Z", "+00:00"))
    assert expires - dt.datetime.now(dt.UTC) > dt.timedelta(days=365)


def test_a_user_cannot_revoke_another_users_token(landing):
    other = landing.tokens["council_b"][6:18]
    assert landing.api("council_a").delete(f"/api/v1/tokens/{other}").status_code == 404
    assert landing.api("council_b").get("/api/v1/whoami").status_code == 200


def test_malformed_bearer_values_are_refused(landing):
    for value in ("Bearer", "Bearer ", "Basic abc", "Bearer ascld_zz_zz", "Bearer " + "a" * 5000):
        response = landing.client.get("/api/v1/whoami", headers={"Authorization": value})
        assert response.status_code == 401, value


def test_expired_revoked_tokens_and_disabled_accounts_lose_access(landing):
    new = landing.api("council_a").post("/api/v1/tokens", json={"name": "short"}).json()
    client = TestClient(landing.app, base_url="https://testserver", headers={"Authorization": f"Bearer {new['token']}"})
    assert client.get("/api/v1/whoami").status_code == 200
    with landing.state.db.tx() as s:
        s.get(ApiToken, new["id"]).expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert client.get("/api/v1/whoami").status_code == 401
    own_id = landing.tokens["council_a"][6:18]
    assert landing.api("council_a").delete(f"/api/v1/tokens/{own_id}").status_code == 200
    assert landing.api("council_a").get("/api/v1/whoami").status_code == 401
    council_b = landing.browser("council_b")
    admin = landing.browser("admin")
    admin.post(f"/admin/users/{landing.user_ids['council_b']}/active", data={"active": "0", "csrf_token": admin.csrf})
    assert landing.api("council_b").get("/api/v1/whoami").status_code == 401
    assert council_b.get("/api/v1/whoami").status_code == 401
