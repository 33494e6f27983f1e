"""Signing in and out, and the home page that sends each account to its own."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from openimr.services import accounts as auth
from openimr.services.cases import (
    Forbidden,
)
from openimr.web import connection as conn
from openimr.web.base import (
    Cases,
    Poster,
    Who,
    home_of,
    local,
    render,
    router,
)

# Signing in and out ---------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return _login_page(request, local(next), None)


def _login_page(request: Request, next: str, error: str | None, code: int = 200) -> Response:
    """The sign-in form, with a fresh CSRF token in its cookie."""
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html.j2", None, code, next=next, csrf=token, error=error)
    response.set_cookie(
        auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=conn.secure(request)
    )
    return response


@router.post("/login")
def login(
    request: Request,
    cases: Cases,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    if not auth.same(csrf_token, request.cookies.get(auth.LOGIN_CSRF_COOKIE)):
        raise Forbidden("the sign-in form is out of date: reload the page and try again")
    cfg = conn.settings(request)
    attempt = request.app.state.users.sign_in(
        username, password, conn.client_address(request), cfg, conn.gate(request)
    )
    cookie = attempt.result
    if attempt.retry_after:
        wait = attempt.refusal
        response = _login_page(request, next, wait[:1].upper() + wait[1:] + ".", 429)
        response.headers["Retry-After"] = str(attempt.retry_after)
        return response
    if cookie is None:
        return _login_page(request, next, "Wrong username or password.", 401)
    target = local(next)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        cookie,
        max_age=int(cfg.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=conn.secure(request),
    )
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, who: Poster, cases: Cases) -> Response:
    request.app.state.users.sign_out(request.cookies.get(auth.SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, httponly=True, samesite="lax", secure=conn.secure(request))
    return response


@router.get("/")
def home(who: Who) -> Response:
    return RedirectResponse(home_of(who), status_code=303)
