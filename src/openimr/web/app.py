"""The application: the API, the pages, static files, error answers and security headers."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from openimr.web import api, pages
from openimr.web.desk import Desk
from openimr.web.errors import STATUS, classify

HERE = Path(__file__).resolve().parent
# Pages run only our own scripts (by nonce) and styles; no page may be framed by another site.
CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, code: str, message: str, detail: list | None = None) -> Response:
    if _is_api(request):
        body = {"error": code, "message": message, "detail": detail}
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return pages.error_page(request, status, message)


def create_app(url: str | None = None) -> FastAPI:
    """The OpenIMR web application on the store at *url* (default: $OPENIMR_DB or ./openimr.db)."""
    app = FastAPI(
        title="OpenIMR",
        version="0.1.0",
        description=(
            "Independent Medical Review for California workers' compensation: cases, documents, "
            "reviewers, assignment, decisions, letters, decision support and the letter corpus. "
            "Authenticate with `Authorization: Bearer TOKEN` (POST /api/tokens)."
        ),
    )
    app.state.desk = Desk(url)

    async def known(request: Request, exc: Exception) -> Response:
        status, code = classify(exc)
        if isinstance(exc, ValidationError):
            detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
            return _error(
                request, status, code, f"the data is not valid: {exc.error_count()} problem(s)", detail
            )
        return _error(request, status, code, str(exc))

    for cls in STATUS:
        app.add_exception_handler(cls, known)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))}
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in detail[:5])
        return _error(request, 422, "invalid", f"the request is not valid: {where}", detail)

    @app.exception_handler(HTTPException)
    async def http(request: Request, exc: HTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing at {request.url.path}"
        return _error(request, exc.status_code, codes.get(exc.status_code, "error"), message)

    @app.middleware("http")
    async def headers(request: Request, call_next) -> Response:
        request.state.nonce = secrets.token_urlsafe(16)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if response.headers.get("content-type", "").startswith(
            "text/html"
        ) and not request.url.path.startswith(("/docs", "/redoc")):
            response.headers.setdefault("Content-Security-Policy", CSP.format(nonce=request.state.nonce))
        if _is_api(request) or request.url.path != "/login":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.include_router(api.public)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
