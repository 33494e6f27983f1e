"""The application: the API, the pages, static files, error answers and security headers."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import openimr
from openimr.services import accounts as auth
from openimr.services.app import OpenIMR
from openimr.services.settings import BodyLimits, Settings
from openimr.web import admin, api, corpus_api, fhir, letters_api, metrics, pages  # noqa: F401  (*_api: their routes)
from openimr.web import connection as conn
from openimr.web.errors import STATUS, Problem, classify, plain

HERE = Path(__file__).resolve().parent
DB_RETRY_S = 5  # what a request that found the database away is told to wait
# Pages run only our own scripts (by nonce) and styles; no page may be framed by another site.
CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/fhir/"))  # /fhir: a machine's errors too


def _error(request: Request, status: int, code: str, message: str, detail: list | None = None) -> Response:
    if _is_api(request):
        body = {"error": code, "message": message, "detail": detail}
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return pages.error_page(request, status, message)


def _invalid(request: Request, status: int, code: str, problems: list[Problem]) -> Response:
    """A validation refusal: each problem in people's words, naming its field."""
    detail = [{"loc": list(p.loc), "msg": str(p), "type": p.type} for p in problems]
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    message = "; ".join(str(p) for p in problems[:5]) + more
    return _error(request, status, code, message or "the request is not valid", detail)


def _harden(request: Request, response: Response) -> Response:
    """*response* with the security headers (and a page's Content-Security-Policy)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    if conn.secure(request):  # OPENIMR_HTTPS=1, or the request came over https
        response.headers.setdefault("Strict-Transport-Security", auth.HSTS)
    if response.headers.get("content-type", "").startswith("text/html") and not request.url.path.startswith(
        ("/docs", "/redoc")
    ):
        response.headers.setdefault("Content-Security-Policy", CSP.format(nonce=request.state.nonce))
    if _is_api(request) or request.url.path != "/login":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


class BodyLimit:
    """Refuses (413) a request body over its limit before the app reads any of it: by its
    Content-Length up front, else (a chunked body) by counting the bytes as they arrive."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, declared = self.limits.other, None
        for key, value in scope["headers"]:
            if key == b"content-length":
                declared = value
            elif key == b"content-type" and value[:19].lower() == b"multipart/form-data":
                limit = self.limits.uploads
        if declared is not None:  # the server holds the body to its Content-Length
            if declared.isdigit() and int(declared) > limit:
                response = _error(Request(scope), 413, "too_large", _over(limit))
                await response(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, _over(limit))
            return message

        await self.app(scope, counted, send)


class PlainUrl:
    """Refuses (400) a URL whose path holds a control character or whose query holds NUL: no page
    or operation takes one, and the database would refuse NUL anyway."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            any(ord(c) < 32 or ord(c) == 127 for c in scope["path"])
            or b"\x00" in unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" "))
        ):
            response = _error(Request(scope), 400, "bad_request", "the address holds a control character")
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


def _over(limit: int) -> str:
    size = f"{limit / 2**20:g} MB" if limit >= 2**20 else f"{limit} bytes"
    return f"the request body is larger than the limit of {size}"


def proxy_options(source: Settings | Mapping[str, str] = os.environ) -> dict[str, object]:
    """uvicorn's options for proxies: ``X-Forwarded-For`` and ``-Proto`` are believed only from
    the settings' trusted proxies (``OPENIMR_TRUSTED_PROXIES`` of *source*, an environment); by
    default from none, so a client cannot choose the address it is throttled and audited by."""
    proxies = (source if isinstance(source, Settings) else Settings.from_env(source)).trusted_proxies
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": list(proxies) or ""}


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route of *app* takes at the request's path (for a 405's ``Allow``)."""
    return [m for m in METHODS if any(r.matches({**scope, "method": m})[0] == Match.FULL for r in app.routes)]


def create_app(settings: Settings | str | None = None) -> FastAPI:
    """The OpenIMR web application with *settings* (default: the environment's; a string is the
    database URL, the rest from the environment), as the command line builds it.

    The store is opened here, once, upgraded to the newest schema: each server worker upgrades at
    start-up (a store already there is only read), never per request. ``app.state.store`` is
    closed by whoever ends the application. A malformed setting stops the server here.
    """
    settings = Settings.of(settings)
    app = FastAPI(
        title="OpenIMR",
        version=openimr.__version__,
        description=(
            "Independent Medical Review for California workers' compensation: cases, documents, "
            "reviewers, assignment, decisions, letters, decision support and the letter corpus. "
            "Authenticate with `Authorization: Bearer TOKEN` (POST /api/tokens)."
        ),
    )
    app.state.openimr = OpenIMR.open(settings)
    app.state.openimr.warm()  # the pool's connections open before the first request needs them
    app.state.store = app.state.openimr.store
    app.state.cases = app.state.openimr.cases
    app.state.users = app.state.openimr.users
    app.state.sign_in = settings.sign_in

    async def known(request: Request, exc: Exception) -> Response:
        status, code = classify(exc)
        if isinstance(exc, ValidationError):
            return _invalid(request, status, code, plain(exc.errors()))
        return _error(request, status, code, str(exc))

    for cls in STATUS:
        app.add_exception_handler(cls, known)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _invalid(request, 422, "invalid", plain(exc.errors(), exc.body))

    @app.exception_handler(HTTPException)
    async def http(request: Request, exc: HTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 413: "too_large"}
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing at {request.url.path}"
        if exc.status_code == 405:
            allowed = allowed_methods(app, request.scope)
            message = f"{request.method} is not allowed here: use {', '.join(allowed)}"
            response = _error(request, 405, "method_not_allowed", message)
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return _error(request, exc.status_code, codes.get(exc.status_code, "error"), message)

    async def crashed(request: Request, exc: Exception) -> Response:
        """Anything unexpected: JSON or a page saying so, never a traceback (the server logs it)."""
        return _harden(request, _error(request, 500, "internal", "an unexpected error on the server"))

    async def away(request: Request, exc: Exception) -> Response:
        """The database is away (down, restarting, unreachable, out of connections): 503 with
        Retry-After, JSON or a page; any other database error is :func:`crashed`'s."""
        lost = isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout)
        if not lost and not (isinstance(exc, DBAPIError) and exc.connection_invalidated):
            return await crashed(request, exc)
        response = _error(request, 503, "unavailable", "the database is not answering: try again shortly")
        response.headers["Retry-After"] = str(DB_RETRY_S)
        return response

    for cls in (DBAPIError, DisconnectionError, PoolTimeout):
        app.add_exception_handler(cls, away)
    app.add_exception_handler(Exception, crashed)
    app.add_middleware(BodyLimit, limits=settings.body_limits)
    app.add_middleware(PlainUrl)

    @app.middleware("http")
    async def headers(request: Request, call_next) -> Response:
        request.state.nonce = secrets.token_urlsafe(16)
        return _harden(request, await call_next(request))

    app.include_router(api.public)
    app.include_router(api.router)  # with the routes corpus_api and letters_api add to it
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.include_router(fhir.router)
    app.include_router(metrics.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
