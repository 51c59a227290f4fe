"""The authorisation matrix: every endpoint x every role (and no one) x own / other council, through an API
token and through a web session, on SQLite and PostgreSQL.

The expected answers are written here from the issue's rules, not read from the service's own policy table:

- a council submitter uploads and sees its own council's submissions and reports only; another council's
  submission answers exactly like an id that does not exist (404), so ids cannot be probed;
- the processor sees every council's submissions, the overview and (with a purpose) raw files;
- the national analyst sees the national store's imports only; the DPO the audit trail; the administrator
  accounts; the DPO and administrator may run the retention schedule;
- everyone signed in manages their own API tokens; no one else's.

`test_matrix_covers_every_route` fails when a route is added without a row here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from support.landing import ACCOUNTS, LA_A, LA_B

ROLES = ("council_a", "processor", "analyst", "dpo", "admin", None)  # None: not signed in
COUNCIL_ONLY = {"council_a"}
READERS = {"council_a", "processor"}
EVERYONE = {"council_a", "processor", "analyst", "dpo", "admin"}


@dataclass(frozen=True)
class Row:
    """One endpoint: who may use it, what success looks like, and what its ids refer to.

    Attributes:
        allowed: accounts that may call it at all (others get 403; no one signed in gets 401 or a redirect).
        ok: status codes of success.
        scoped: "submission" or "token": the path carries an id that belongs to someone; for the other council
            (or another user) the answer is 404, as for an id that does not exist.
        public: needs no sign-in.
    """

    method: str
    path: str
    allowed: frozenset[str]
    ok: tuple[int, ...]
    scoped: str | None = None
    public: bool = False


def row(method: str, path: str, allowed: set[str], ok: tuple[int, ...] = (200,), **kw: Any) -> Row:
    return Row(method, path, frozenset(allowed), ok, **kw)


MATRIX = [
    # JSON API
    row("GET", "/api/v1/whoami", EVERYONE),
    row("POST", "/api/v1/submissions", COUNCIL_ONLY, (200, 201)),
    row("GET", "/api/v1/submissions", READERS),
    row("GET", "/api/v1/submissions/{sub_id}", READERS, scoped="submission"),
    row("GET", "/api/v1/submissions/{sub_id}/report", READERS, scoped="submission"),
    row("GET", "/api/v1/submissions/{sub_id}/files/{name}", READERS, scoped="submission"),
    row("GET", "/api/v1/submissions/{sub_id}/raw", {"processor"}, scoped="submission"),
    row("GET", "/api/v1/overview", {"processor"}),
    row("GET", "/api/v1/national/imports", {"analyst"}),
    row("GET", "/api/v1/audit", {"dpo"}),
    row("POST", "/api/v1/retention/run", {"dpo", "admin"}),
    row("GET", "/api/v1/tokens", EVERYONE),
    row("POST", "/api/v1/tokens", EVERYONE, (201,)),
    row("DELETE", "/api/v1/tokens/{token_id}", EVERYONE, scoped="token"),
    row("GET", "/api/v1/users", {"admin"}),
    row("POST", "/api/v1/councils", {"admin"}, (201,)),
    row("POST", "/api/v1/users", {"admin"}, (201,)),
    # web pages
    row("GET", "/", EVERYONE, (303,), public=True),
    row("GET", "/login", EVERYONE, (200,), public=True),
    row("GET", "/healthz", EVERYONE, (200,), public=True),
    row("POST", "/logout", EVERYONE, (303,)),
    row("GET", "/submissions", READERS),
    row("GET", "/upload", COUNCIL_ONLY),
    row("POST", "/upload", COUNCIL_ONLY, (303,)),
    row("GET", "/submissions/{sub_id}", READERS, scoped="submission"),
    row("GET", "/submissions/{sub_id}/files/{name}", READERS, scoped="submission"),
    row("GET", "/overview", {"processor"}),
    row("GET", "/national", {"analyst"}),
    row("GET", "/audit", {"dpo"}),
    row("POST", "/retention", {"dpo", "admin"}),
    row("GET", "/tokens", EVERYONE),
    row("POST", "/tokens", EVERYONE, (201,)),
    row("POST", "/tokens/{token_id}/revoke", EVERYONE, (303,), scoped="token"),
    row("GET", "/admin", {"admin"}),
    row("POST", "/admin/councils", {"admin"}, (201,)),
    row("POST", "/admin/users", {"admin"}, (201,)),
    row("POST", "/admin/users/{user_id}/active", {"admin"}, (303,)),
]
NOT_MATRIX = {"/login"}  # POST /login: the public log-in form, tested in test_auth.py


def app_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every endpoint, including those of included routers."""
    found: set[tuple[str, str]] = set()

    def walk(routes) -> None:
        for r in routes:
            if isinstance(r, APIRoute):
                found.update((m, r.path) for m in r.methods)
            elif hasattr(r, "original_router"):  # FastAPI's wrapper around an included router
                walk(r.original_router.routes)

    walk(app.routes)
    return found


def test_matrix_covers_every_route(landing):
    routes = app_routes(landing.app)
    assert len(routes) > 30
    covered = {(r.method, r.path) for r in MATRIX} | {("POST", p) for p in NOT_MATRIX}
    assert routes - covered == set(), "add these routes to MATRIX"
    assert covered - routes == set(), "MATRIX names routes that no longer exist"


class World:
    """The seeded service with one submission per council and callers for every role both ways."""

    def __init__(self, landing, good_return, good_return_b) -> None:
        self.landing = landing
        self.files = {LA_A: good_return.read_bytes(), LA_B: good_return_b.read_bytes()}
        self.subs = {}
        for user, la in (("council_a", LA_A), ("council_b", LA_B)):
            r = landing.api(user).post(
                "/api/v1/submissions", content=self.files[la], headers={"Content-Type": "text/csv"}
            )
            assert r.status_code == 201, r.text
            self.subs[la] = r.json()["submission"]["id"]
        self.token_clients = {u: landing.api(u) for u in ACCOUNTS}
        self.browsers = {u: landing.browser(u) for u in ACCOUNTS}
        self.anonymous = TestClient(landing.app, base_url="https://testserver")

    def client(self, user: str | None, via: str) -> TestClient:
        if user is None:
            return self.anonymous
        return self.token_clients[user] if via == "token" else self.browsers[user]

    def own_la(self, user: str | None) -> str:
        return LA_B if user == "council_b" else LA_A

    def token_of(self, user: str) -> str:
        """A fresh token id belonging to `user` (so revoking it disturbs nothing else)."""
        r = self.landing.api(user).post("/api/v1/tokens", json={"name": "matrix"})
        return r.json()["id"]

    def request(self, r: Row, user: str | None, scope: str, via: str):
        own = scope == "own"
        path = r.path
        if "{sub_id}" in path:
            la = self.own_la(user) if own else (LA_B if self.own_la(user) == LA_A else LA_A)
            path = path.replace("{sub_id}", self.subs[la])
        path = path.replace("{name}", "summary.json")
        if "{token_id}" in path:
            owner = (user or "council_a") if own else ("council_b" if user != "council_b" else "council_a")
            path = path.replace("{token_id}", self.token_of(owner))
        if "{user_id}" in path:
            path = path.replace("{user_id}", str(self.landing.user_ids["analyst"]))
        client = self.client(user, via)
        csrf = getattr(client, "csrf", None) if via == "session" else None
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        form = {"csrf_token": csrf} if csrf else {}
        params = {}
        kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
        unique = secrets.token_hex(3)
        if path.endswith("/raw"):
            params["purpose"] = "reprocessing"
        if r.method == "POST" and path == "/api/v1/submissions":
            # "other": a council sending another council's file is refused (422), never stored as theirs.
            la = self.own_la(user) if own else LA_B
            kwargs["content"] = self.files[la]
            headers["Content-Type"] = "text/csv"
        elif r.method == "POST" and path == "/upload":
            la = self.own_la(user) if own else LA_B
            kwargs["data"] = form
            kwargs["files"] = {"file": ("q.csv", self.files[la], "text/csv")}
        elif path == "/api/v1/tokens" and r.method == "POST":
            kwargs["json"] = {"name": "matrix"}
        elif path == "/api/v1/councils":
            kwargs["json"] = {"la_code": f"9{unique}", "name": "New council"}
        elif path == "/api/v1/users":
            kwargs["json"] = {
                "username": f"u{unique}",
                "password": "another-long-password",
                "role": "data_protection_officer",
            }
        elif path == "/tokens" and r.method == "POST":
            kwargs["data"] = {**form, "name": "matrix", "days": "10"}
        elif path == "/admin/councils":
            kwargs["data"] = {**form, "la_code": f"8{unique}", "name": "Another council"}
        elif path == "/admin/users":
            kwargs["data"] = {
                **form,
                "username": f"w{unique}",
                "password": "another-long-password",
                "role": "data_protection_officer",
            }
        elif path.endswith("/active"):
            kwargs["data"] = {**form, "active": "1"}
        elif r.method == "POST":
            kwargs["data"] = form
        if path == "/logout" and via == "session" and user is not None:
            client = self.landing.browser(user)  # a session of its own, so the others stay signed in
            kwargs["data"] = {"csrf_token": client.csrf}
        return client.request(r.method, path, params=params, **kwargs)


@pytest.fixture(scope="module")
def world(shared_landing, good_return, good_return_b) -> World:
    """One service per backend with a submission from each council, shared by this module's tests."""
    return World(shared_landing, good_return, good_return_b)


def expected(r: Row, user: str | None, scope: str) -> set[int]:
    if r.public:
        return set(r.ok)
    if user is None:
        return {401} if r.path.startswith("/api/") else {303}  # pages send you to the log-in page
    if user not in r.allowed:
        return {403}
    if r.path in ("/api/v1/submissions", "/upload") and r.method == "POST" and scope == "other":
        return {422} if r.path.startswith("/api/") else {303}
    if scope == "other" and r.scoped == "submission" and user.startswith("council"):
        return {404}
    if scope == "other" and r.scoped == "token" and not (user == "admin" and r.path.startswith("/tokens/")):
        return {404}
    return set(r.ok)


@pytest.mark.slow
@pytest.mark.parametrize("via", ["token", "session"])
def test_authorisation_matrix(world, via):
    failures = []
    for r in MATRIX:
        for user in ROLES:
            for scope in ("own", "other"):
                if via == "session" and r.path.startswith("/api/") and user is None:
                    continue  # the same anonymous request as via == "token"
                response = world.request(r, user, scope, via)
                want = expected(r, user, scope)
                if response.status_code not in want:
                    failures.append(
                        f"{r.method} {r.path} as {user or 'no one'} ({scope}, {via}): "
                        f"{response.status_code}, expected {sorted(want)}"
                    )
                if response.status_code == 303 and user is None and not r.public:
                    assert response.headers["location"].startswith("/login?next="), r.path
    assert not failures, "\n".join(failures)


def test_other_council_ids_answer_exactly_like_made_up_ids(world):
    client = world.client("council_a", "token")
    for template in (
        "/api/v1/submissions/{}",
        "/api/v1/submissions/{}/report",
        "/api/v1/submissions/{}/files/summary.json",
        "/submissions/{}",
    ):
        other = client.get(template.format(world.subs[LA_B]))
        guessed = client.get(template.format(secrets.token_hex(16)))
        assert other.status_code == guessed.status_code == 404
        assert other.content == guessed.content


def test_lists_only_show_own_council(world):
    client = world.client("council_a", "token")
    subs = client.get("/api/v1/submissions").json()["submissions"]
    assert {s["la_code"] for s in subs} == {LA_A}
    assert world.subs[LA_B] not in client.get("/submissions").text
    assert world.subs[LA_B] not in world.client("council_a", "session").get("/submissions").text
    # Asking by the other council's file hash finds nothing of theirs (only, if any, this council's own
    # refused attempt at sending that file).
    import hashlib

    sha_b = hashlib.sha256(world.files[LA_B]).hexdigest()
    found = client.get(f"/api/v1/submissions?sha256={sha_b}").json()["submissions"]
    assert world.subs[LA_B] not in {s["id"] for s in found}
    assert all(s["la_code"] == LA_A and s["status"] == "refused" for s in found)
    both = world.client("processor", "token").get("/api/v1/submissions").json()["submissions"]
    assert {s["la_code"] for s in both} == {LA_A, LA_B}


def test_a_council_cannot_submit_another_councils_file(world):
    response = world.client("council_a", "token").post(
        "/api/v1/submissions", content=world.files[LA_B], headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["submission"]["la_code"] == LA_A and body["submission"]["status"] == "refused"
    assert any(e["field"] == "LA_Code" for e in body["errors"])
