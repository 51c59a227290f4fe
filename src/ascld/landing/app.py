"""The landing service application: `create_app(config)` gives the FastAPI app that `ascld serve` runs.

Start-up removes temporary folders left by dead processes (so no plaintext outlives a crash), makes this
process's own temporary folder, and starts the worker. Two pure-ASGI middlewares wrap everything: one refuses
oversized bodies before they are read (uploads by the national portal's limits, everything else by
`max_form_bytes`), one adds the security headers (a content security policy with no external sources, no
framing, no sniffing, no referrer, no caching of pages).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ascld import __version__
from ascld.landing import api, web
from ascld.landing.access import ApiError, ErrorItem, error_body, resolve_principal
from ascld.landing.db import Database, require_current_schema
from ascld.landing.settings import LandingConfig
from ascld.landing.uploads import Lander, ProcessTmp
from ascld.landing.worker import Worker

log = logging.getLogger(__name__)

UPLOAD_PATHS = frozenset({"/api/v1/submissions", "/upload"})
MAX_HEAD_BYTES = 16 * 1024
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@dataclass
class LandingState:
    """What request handlers reach through `request.app.state.landing`."""

    config: LandingConfig
    db: Database
    tmp: ProcessTmp | None = None
    lander: Lander | None = None
    worker: Worker | None = None


def _json_error(status: int, message: str, hint: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, [ErrorItem(message, hint).as_dict()]), status_code=status, headers=headers)


class RequestLimits:
    """Refuse oversized requests before handling them: request heads over `MAX_HEAD_BYTES` (431), bodies over
    the limit for their path, early from Content-Length, else as the bytes arrive (413)."""

    def __init__(self, app: ASGIApp, state: LandingState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.state.config.settings
        if sum(len(k) + len(v) + 4 for k, v in scope["headers"]) > MAX_HEAD_BYTES:
            await _json_error(
                431,
                "the request's headers are too large.",
                "Send fewer or shorter headers.",
                {"Connection": "close"},
            )(scope, receive, send)
            return
        is_upload = scope["path"] in UPLOAD_PATHS and scope["method"] == "POST"
        # Multipart framing around the file may add a little to the file's own limit.
        limit = settings.max_upload_bytes + 1024 * 1024 if is_upload else settings.max_form_bytes
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await _json_error(400, "the Content-Length header is not a number.", "Send a well-formed request.")(
                    scope, receive, send
                )
                return
            if int(length) > limit:
                await self._too_large(scope, receive, send, is_upload)
                return
        seen = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._too_large(scope, receive, send, is_upload)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, is_upload: bool) -> None:
        settings = self.state.config.settings
        if is_upload:
            message = (
                f"the file is larger than {settings.max_upload_bytes:,} bytes, the most the landing platform accepts."
            )
            hint = f"Compress it with gzip (up to {settings.max_gzip_upload_bytes:,} bytes) or split the return."
        else:
            message, hint = "the request is too large.", "Send a smaller request."
        await _json_error(413, message, hint, {"Connection": "close"})(scope, receive, send)


class _BodyTooLarge(BaseException):  # noqa: N818
    """Raised from `receive`; a BaseException, so no `except Exception` turns it into another error."""


class SecurityHeaders:
    """Adds the security headers to every response (a route may set its own, stricter, CSP)."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app, self.hsts = app, hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = {
                    b"content-security-policy": CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"cross-origin-resource-policy": b"same-origin",
                    b"permissions-policy": b"camera=(), microphone=(), geolocation=(), interest-cohort=()",
                    b"cache-control": b"public, max-age=3600" if static else b"no-store",
                }
                if self.hsts:
                    extra[b"strict-transport-security"] = b"max-age=31536000"
                headers += [(k, v) for k, v in extra.items() if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _is_api(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or ("application/json" in accept and "text/html" not in accept)


def _error_response(request: Request, error: ApiError) -> Response:
    if _is_api(request):
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
    if error.status == 401:
        return web.login_redirect(request)
    principal = resolve_principal(request) if error.status != 400 else None
    return web.render(request, "error.html", principal, status=error.status, error=error)


def create_app(config: LandingConfig, *, own_process: bool = False) -> FastAPI:
    """The landing service application for `config`.

    Args:
        config: database URL, store folder and key, national store, settings.
        own_process: the app has the process to itself (`ascld serve`): Python's default temporary folder
            then becomes the process's private folder in the store, so whatever the validator or the national
            ingest write there is removed with it after a crash.

    Raises:
        UsageError: (at start-up) the database schema is missing or old; run `ascld serve --init` or
        `--migrate`.
    """
    state = LandingState(config, Database(config.db_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        require_current_schema(state.db)
        removed = ProcessTmp.sweep(config.tmp_dir)
        if removed:
            log.warning("removed %d temporary folder(s) left by a stopped process", removed)
        state.tmp = ProcessTmp(config.tmp_dir)
        previous_tempdir = tempfile.tempdir
        if own_process:
            tempfile.tempdir = str(state.tmp.path)
            from ascld.quality.validate import MEMORY_LIMIT_ENV

            # The validator reads its DuckDB memory limit from the environment on every check.
            os.environ[MEMORY_LIMIT_ENV] = f"{config.settings.check_memory_mb}MB"
        state.lander = Lander(config, state.db, state.tmp)
        state.worker = Worker(config, state.db, state.tmp)
        state.worker.start()
        try:
            yield
        finally:
            state.worker.stop()
            state.lander.close()
            tempfile.tempdir = previous_tempdir
            state.tmp.close()
            state.db.dispose()

    app = FastAPI(
        title="ascld landing service",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.landing = state

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return _error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            404: ("there is no such page.", "Check the address."),
            405: ("this address does not accept that method.", "Check the API documentation."),
        }
        message, hint = messages.get(exc.status_code, (str(exc.detail).rstrip(".").lower() + ".", ""))
        return _error_response(request, ApiError(exc.status_code, message, hint, headers=dict(exc.headers or {})))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        items = []
        for err in exc.errors():
            loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "form", "header")]
            items.append(
                ErrorItem(
                    f"{err.get('msg', 'invalid value')}.".replace("..", "."),
                    "Correct this value and send the request again.",
                    field=".".join(loc) or None,
                )
            )
        return _error_response(
            request, ApiError(422, items[0].message if items else "invalid request.", errors=items or None)
        )

    @app.exception_handler(ClientDisconnect)
    async def _disconnected(request: Request, exc: ClientDisconnect) -> Response:
        # An everyday event (a council's network drops, a laptop closes), not a fault of the service: the
        # handler that raised it has already discarded what had arrived. No one is left to read an answer.
        log.warning(
            "%s %s: the client disconnected before the whole request arrived; nothing was kept",
            request.method,
            request.url.path,
        )
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return _error_response(
            request,
            ApiError(
                500,
                "the service hit an unexpected error.",
                "Try again; if it keeps happening, tell the processor.",
            ),
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    app.include_router(api.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    app.add_middleware(RequestLimits, state=state)
    app.add_middleware(SecurityHeaders, hsts=config.settings.cookie_secure)
    return app
