"""What every page shares: the templates, the signed-in account (session cookie, CSRF-checked
forms), rendering, flashed messages, redirects, and the words the case page shows a review in."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from openimr.core.labels import group_label, label, logged
from openimr.core.models import ReasonCode
from openimr.core.process.workflow import TERMINAL, Status
from openimr.core.review.engine import Review
from openimr.core.roles import Principal, Role
from openimr.services import accounts as auth
from openimr.services.cases import (
    CaseService,
    Forbidden,
)
from openimr.web.api import signs_in_first
from openimr.web.errors import Unauthenticated

# Every template is HTML: everything put into one is escaped unless it is Markup already.
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=True)
)
# People's words for stored codes, on every page: ``{{ case.status | label("status") }}``,
# ``{{ value | logged(field) }}`` (see :mod:`openimr.core.labels`).
templates.env.filters.update(label=label, logged=logged, group_label=group_label)
templates.env.globals["CLOSED"] = TERMINAL  # statuses with no deadline running
STATUS_ORDER = list(Status)
# The engine's typed review in plain words (REASONS.md codes, criterion statuses, the basis).
BASIS_WORDS = {
    "guideline": "follows the guideline's criteria",
    "statistical": "statistical estimate: no encoded MTUS rule decides this item",
}
STATUS_WORDS = {
    "met": "met",
    "unmet": "not met",
    "not_documented": "not documented",
    "not_assessed": "not assessed",
}
REASON_WORDS = {
    ReasonCode.ASSOCIATED_WITH_DENIED: "serves a service that is not certified",
    ReasonCode.ASSOCIATED_WITH_CERTIFIED: "serves a service that is certified",
    ReasonCode.OTHER_UPHELD: "another reason against the request",
    ReasonCode.OTHER_OVERTURNED: "another reason for the request",
}


def reason_words(code: ReasonCode) -> str:
    """A decisive reason's code in plain words, e.g. "indications not documented"."""
    return REASON_WORDS.get(code, code.value.replace("_", " "))


def marked_spans(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """*spans* (start, end character offsets) that lie within *text*, sorted, overlapping ones merged."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((s, e) for s, e in spans if 0 <= s < e <= len(text)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str | None, spans: Iterable[tuple[int, int]]) -> Markup:
    """*text*, escaped, with the characters at each of *spans* (start, end offsets) marked;
    overlapping spans are marked once, spans outside the text are ignored."""
    if not text:
        return Markup("")
    out, last = [], 0
    for start, end in marked_spans(text, spans):
        out += [escape(text[last:start]), Markup("<mark>"), escape(text[start:end]), Markup("</mark>")]
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def evidence_spans(review: Review | None) -> list[tuple[int, int]]:
    """Where in the clinical summary the evidence of every item's criteria is."""
    if review is None:
        return []
    return [(e.start, e.end) for item in review.items for c in item.criteria for e in c.evidence]


def service(request: Request) -> CaseService:
    """The application's case service (its store opened once, at start-up)."""
    return request.app.state.cases


def session(request: Request) -> Principal:
    """The account of the session cookie; without one, the error handler sends the browser to sign in."""
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        who = request.app.state.users.by_session(cookie)
        if who is not None:
            return who
    raise Unauthenticated("sign in first")


async def _sign_in(request: Request) -> Principal:
    return await run_in_threadpool(session, request)


async def signed_in(request: Request) -> Principal:
    """The account :func:`session` found before the form was read."""
    return request.state.who


def checked(
    who: Annotated[Principal, Depends(signed_in)], csrf_token: Annotated[str, Form()] = ""
) -> Principal:
    """The account, for a form post that carries the session's CSRF token."""
    if not auth.same(csrf_token, who.csrf):
        raise Forbidden("the form is out of date or came from another site: reload the page and try again")
    return who


Who = Annotated[Principal, Depends(signed_in)]
Poster = Annotated[Principal, Depends(checked)]
Cases = Annotated[CaseService, Depends(service)]

# Every page's route, whichever module declares it (openimr.web.pages gathers them in order).
router = APIRouter(include_in_schema=False, route_class=signs_in_first(signed_in, _sign_in))
FLASH_COOKIE = "openimr_flash"
FLASH_MAX = 1000  # characters of a flashed message (a cookie holds about 4 KB)


def render(
    request: Request, name: str, who: Principal | None, code: int = 200, **context: Any
) -> HTMLResponse:
    """The page *name*; for a signed-in account, with the message :func:`back` left for it."""
    warning, msg = _flash(request) if who is not None else (False, None)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "who": who,
            "nonce": request.state.nonce,
            "msg": msg,
            "msg_kind": "warning" if warning else "ok",
            **context,
        },
        status_code=code,
    )
    if msg is not None:
        response.delete_cookie(FLASH_COOKIE, httponly=True, samesite="strict")
    return response


def _flash(request: Request) -> tuple[bool, str | None]:
    """(is it a warning, the message) of the flash cookie, or (False, None)."""
    try:
        warning, msg = json.loads(base64.urlsafe_b64decode(request.cookies.get(FLASH_COOKIE) or ""))
    except (ValueError, TypeError):
        return False, None
    return (warning is True, msg) if isinstance(msg, str) else (False, None)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """The error page, with the menu of the account signed in (if any)."""
    try:
        who = session(request)
    except Exception:  # not signed in, or the store itself failed: the page without a menu
        who = None
    return render(request, "error.html.j2", who, status, status=status, message=message)


def back(path: str, msg: str, kind: str = "ok") -> RedirectResponse:
    """Post/redirect/get to *path*, flashing *msg* (*kind* "warning": something did not happen).

    The message travels in a short-lived cookie the server sets, never in the address: a link
    cannot put words of its own on our pages."""
    response = RedirectResponse(path, status_code=303)
    value = base64.urlsafe_b64encode(json.dumps([kind == "warning", msg[:FLASH_MAX]]).encode()).decode()
    response.set_cookie(FLASH_COOKIE, value, max_age=60, httponly=True, samesite="strict")
    return response


def local(path: str) -> str:
    """*path* if it is a path on this site (``/...``), else ``/``: a sign-in never sends elsewhere."""
    parts = urlsplit(path)
    same_site = not (parts.scheme or parts.netloc) and path.startswith("/") and not path.startswith("//")
    return path if same_site and path.isprintable() and "\\" not in path else "/"


def home_of(who: Principal) -> str:
    return "/worklist" if who.role == Role.REVIEWER else "/dashboard"


def attachment(name: str) -> dict[str, str]:
    """The header that has a browser save a download as *name* (made of letters, digits, - and .)."""
    return {"Content-Disposition": f'attachment; filename="{name}"'}
