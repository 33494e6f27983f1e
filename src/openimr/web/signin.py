"""Signing in and out, changing your own password, and the home page that sends each account to its own."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from openimr.services import accounts as auth
from openimr.services.cases import (
    Forbidden,
)
from openimr.services.schemas import PasswordChangeIn
from openimr.web import connection as conn
from openimr.web.base import (
    Cases,
    Poster,
    Who,
    back,
    home_of,
    local,
    render,
    router,
)
from openimr.web.errors import plain

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
    response = _signed_in(request, RedirectResponse(local(next), status_code=303), cookie)
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE)
    return response


def _signed_in(request: Request, response: Response, cookie: str) -> Response:
    """*response* with the session cookie *cookie* set."""
    response.set_cookie(
        auth.SESSION_COOKIE,
        cookie,
        max_age=int(conn.settings(request).session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=conn.secure(request),
    )
    return response


@router.post("/logout")
def logout(request: Request, who: Poster, cases: Cases) -> Response:
    request.app.state.users.sign_out(request.cookies.get(auth.SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, httponly=True, samesite="lax", secure=conn.secure(request))
    return response


# Your own password ---------------------------------------------------------------------------


@router.get("/account/password")
def password_form(request: Request, who: Who) -> Response:
    """The form to change your own password."""
    return render(request, "password.html.j2", who, error=None)


@router.post("/account/password")
def change_password(
    request: Request,
    who: Poster,
    old_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    """Change your own password: the current one is checked as a sign-in would be (a wrong one counts
    as a failed sign-in). Every session and API token of the account ends, this browser's session
    included, and this browser is signed in again at once with a new session."""

    def again(error: str, code: int = 422) -> Response:
        return render(request, "password.html.j2", who, code, error=error)

    if new_password != confirm_password:
        return again("New password and its confirmation differ: type the same password twice.")
    try:
        body = PasswordChangeIn(old_password=old_password, new_password=new_password)
    except ValidationError as exc:
        field = {("old_password",): "Current password", ("new_password",): "New password"}
        return again(
            "; ".join(f"{field.get(p.loc, p.label)}: {p.text}" for p in plain(exc.errors(), form=True))
        )
    attempt = request.app.state.users.change_password(
        who,
        body.old_password,
        body.new_password,
        conn.client_address(request),
        conn.settings(request),
        conn.gate(request),
    )
    if attempt.retry_after:
        wait = attempt.refusal
        response = again(wait[:1].upper() + wait[1:] + ".", 429)
        response.headers["Retry-After"] = str(attempt.retry_after)
        return response
    if attempt.result is None:
        return again("Current password: that is not your current password. Nothing was changed.", 401)
    done = "Password changed. Every other session and API token of your account has ended."
    return _signed_in(request, back("/account/password", done), attempt.result)


@router.get("/")
def home(who: Who) -> Response:
    return RedirectResponse(home_of(who), status_code=303)


@router.get("/cases")
def case_list(request: Request, who: Who) -> Response:
    """The list of cases where people look for it: the account's own list (the dashboard, or a
    reviewer's worklist), with the same filters."""
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(home_of(who) + query, status_code=303)
