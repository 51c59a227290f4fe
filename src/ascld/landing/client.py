"""The council's upload client behind `ascld submit RETURN --to URL`.

It hashes the file first (the SHA-256 is the idempotency key), asks the service whether those bytes have
already landed, and if not streams the file with a progress callback. Network failures and server errors are
retried with back-off using the same key, so a retry after a lost answer never makes a second submission. A
refusal comes back in the service's one error shape; `SubmitResult` carries its first problems and the address
of the full report.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ascld.errors import AscldError, UsageError

CHUNK = 1024 * 1024
RETRY_STATUSES = frozenset({429, 502, 503, 504})
FINAL_STATUSES = frozenset({"refused", "ingested", "failed"})

Progress = Callable[[str, int, int], None]  # (stage, done bytes, total bytes)


class SubmitError(AscldError):
    """The service could not be reached or refused the request itself (not the data)."""

    def __init__(self, message: str, status: int | None = None, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []


@dataclass
class SubmitResult:
    """The answer to one submission.

    Attributes:
        outcome: `accepted` (new), `duplicate` (these bytes had already landed) or `refused`.
        submission: the service's description of the submission (id, status, counts, links).
        problems: for a refused file, the first problems (Problem-shaped dicts).
        problem_count: how many problems the full report lists.
        report_url: where the full report is.
        attempts: HTTP attempts the upload took.
    """

    outcome: str
    submission: dict[str, Any]
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int | None = None
    report_url: str | None = None
    attempts: int = 1


def file_sha256(path: Path, progress: Progress | None = None) -> str:
    """SHA-256 of the file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    total, done = path.stat().st_size, 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
            done += len(block)
            if progress:
                progress("hash", done, total)
    return digest.hexdigest()


def check_url(url: str, allow_http: bool = False) -> str:
    """The service's base URL; plain http is refused except to this machine (or with `allow_http`).

    Raises:
        UsageError: not an http(s) URL, or plain http to another machine.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--to must be the service's address, like https://landing.example.org (got {url!r}).")
    if parts.scheme == "http" and not allow_http:
        host = parts.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise UsageError(
                "refusing to send a return over plain http to another machine: use https "
                "(or --allow-http on a network you trust)."
            )
    return url.rstrip("/")


def header_file_name(name: str) -> str:
    """The file's name as the `X-Filename` header can carry it: ASCII only (accents dropped, any other letter
    outside ASCII `_`; the service shows letters, digits and `._- ` and turns the rest into `_` anyway).

    Examples:
        >>> header_file_name("Council’s Q2 – Données.csv")
        'Council_s Q2 _ Donnees.csv'
    """
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return "".join(c if " " <= c <= "~" else "_" for c in plain)


class SubmitClient:
    """Talks to one landing service with one API token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 60.0,
        allow_http: bool = False,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = check_url(base_url, allow_http)
        self.retries, self.backoff = retries, backoff
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, read=None),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SubmitClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        url: str,
        *,
        body_factory: Callable[[], Any] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[httpx.Response, int]:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(
                    method,
                    url,
                    headers=headers,
                    params=params,
                    content=body_factory() if body_factory else None,
                )
            except httpx.TransportError as exc:
                if attempt > self.retries:
                    raise SubmitError(
                        f"could not reach {self.base_url} after {attempt} attempts "
                        f"({type(exc).__name__}). Check the address and your connection, then run "
                        "the same command again: a file that already arrived is not sent twice."
                    ) from None
            else:
                if response.status_code not in RETRY_STATUSES or attempt > self.retries:
                    return response, attempt
            time.sleep(self.backoff * 2 ** (attempt - 1))

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        """The answer's JSON object.

        Raises:
            SubmitError: the answer is not JSON (another web server, or a proxy's page, answers at that address).
        """
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise SubmitError(
                f"the answer from {self.base_url} is not the landing service's (HTTP {response.status_code}, "
                f"{kind}). Check the address given to --to: it is the service's own address, like "
                "https://landing.example.org.",
                response.status_code,
            )
        return body

    @staticmethod
    def _error(response: httpx.Response) -> SubmitError:
        try:
            body = response.json()
            errors = list(body.get("errors", []))
        except (ValueError, AttributeError):
            errors = []
        first = errors[0] if errors else {}
        message = str(first.get("message") or f"the service answered HTTP {response.status_code}")
        hint = str(first.get("hint") or "")
        return SubmitError(f"{message[:1].upper()}{message[1:]} {hint}".strip(), response.status_code, errors)

    # --- calls ----------------------------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        response, _ = self._request("GET", "/api/v1/whoami")
        if response.status_code != 200:
            raise self._error(response)
        return self._json(response)

    def find(self, sha256: str) -> dict[str, Any] | None:
        """The caller's submission with these bytes, if any."""
        response, _ = self._request("GET", "/api/v1/submissions", params={"sha256": sha256})
        if response.status_code != 200:
            raise self._error(response)
        found = self._json(response).get("submissions", [])
        return found[0] if found else None

    def get(self, sub_id: str) -> dict[str, Any]:
        response, _ = self._request("GET", f"/api/v1/submissions/{sub_id}")
        if response.status_code != 200:
            raise self._error(response)
        return self._json(response)["submission"]

    def report(self, sub_id: str) -> dict[str, Any]:
        response, _ = self._request("GET", f"/api/v1/submissions/{sub_id}/report")
        if response.status_code != 200:
            raise self._error(response)
        return self._json(response)["report"]

    def submit(self, path: str | Path, progress: Progress | None = None) -> SubmitResult:
        """Upload one return (or recognise that it has already landed).

        Raises:
            UsageError: the file does not exist.
            SubmitError: the service could not be reached, or refused the request (not the data).
        """
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"{path}: no such file. Give the path of the return to submit.")
        sha256 = file_sha256(path, progress)
        size = path.stat().st_size
        existing = self.find(sha256)
        if existing is not None:
            return self._known(existing)

        def body() -> Iterator[bytes]:
            sent = 0
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(CHUNK), b""):
                    sent += len(block)
                    if progress:
                        progress("upload", sent, size)
                    yield block

        headers = {
            "Content-Type": "application/octet-stream",
            "Idempotency-Key": sha256,
            "X-Filename": header_file_name(path.name),
            "Content-Length": str(size),
        }
        response, attempts = self._request("POST", "/api/v1/submissions", body_factory=body, headers=headers)
        return self._result(response, attempts)

    def _known(self, submission: dict[str, Any]) -> SubmitResult:
        if submission["status"] == "refused":
            report = self.report(submission["id"])
            return SubmitResult(
                "refused",
                submission,
                list(report.get("first_problems", [])),
                submission.get("problems"),
                submission["links"]["page"],
                0,
            )
        return SubmitResult("duplicate", submission, report_url=submission["links"]["page"], attempts=0)

    def _result(self, response: httpx.Response, attempts: int) -> SubmitResult:
        status = response.status_code
        if status in (200, 201):
            body = self._json(response)
            sub = body["submission"]
            return SubmitResult(
                "duplicate" if body.get("duplicate") else "accepted",
                sub,
                report_url=sub["links"]["page"],
                attempts=attempts,
            )
        body = self._json(response) if status == 422 else {}
        if body.get("submission"):
            return SubmitResult(
                "refused",
                body["submission"],
                list(body.get("errors", [])),
                body.get("problem_count"),
                body.get("report"),
                attempts,
            )
        raise self._error(response)

    def wait(self, sub_id: str, timeout: float = 3600, poll: float = 2.0) -> dict[str, Any]:
        """Poll until the submission is ingested, refused or failed (or `timeout` seconds pass)."""
        deadline = time.monotonic() + timeout
        while True:
            sub = self.get(sub_id)
            if sub["status"] in FINAL_STATUSES or time.monotonic() > deadline:
                return sub
            time.sleep(poll)
