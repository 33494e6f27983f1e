"""The administration pages: the reviewer roster, the accounts, and a case's withdrawal,
reassignment and ineligibility notice.

Each page checks its action in the case service, which audits every refusal; forms post with the
session's CSRF token and answer with a redirect, as in :mod:`openimr.web.pages`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError

from openimr.core.process.roster import csv_row
from openimr.core.roles import ROLE_NAMES, Action, Role
from openimr.services.access import Forbidden, NotFound, ProcessError
from openimr.services.schemas import PasswordResetIn, RosterEntry, UserIn
from openimr.web.api import read_upload, signs_in_first
from openimr.web.errors import plain
from openimr.web.letters_api import letter_response
from openimr.web.pages import Cases, Poster, Who, _sign_in, back, render, signed_in

router = APIRouter(include_in_schema=False, route_class=signs_in_first(signed_in, _sign_in))
MAX_ROWS = 500
ROLES = [(r.value, ROLE_NAMES[r]) for r in Role]


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "row"


def parse_roster(name: str, content: bytes) -> tuple[list[RosterEntry], list[str]]:
    """The reviewers of an uploaded roster (.csv, or .json: a list), and one line per bad row."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [f"{name} is not UTF-8 text"]
    if name.lower().endswith(".json"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            return [], [f"{name} is not JSON: {exc.msg} at line {exc.lineno}"]
        if not isinstance(raw, list):
            return [], [f"{name} must hold a list of reviewers"]
        rows = list(enumerate(raw, 1))
    elif name.lower().endswith(".csv"):
        rows = [(n, csv_row(row)) for n, row in enumerate(csv.DictReader(io.StringIO(text)), 2)]
    else:
        return [], [f"{name}: upload a .csv or a .json roster"]
    if len(rows) > MAX_ROWS:
        return [], [f"{name} has {len(rows)} reviewers; at most {MAX_ROWS} at once"]
    good, errors = [], []
    for number, row in rows:
        what = "line" if name.lower().endswith(".csv") else "reviewer"
        try:
            good.append(RosterEntry.model_validate(row))
        except ValidationError as exc:
            errors += [f"{what} {number}, {_where(e['loc'])}: {e['msg']}" for e in exc.errors()]
    if not rows:
        errors.append(f"{name} lists no reviewer")
    return good, errors


# The roster -----------------------------------------------------------------------------------


def _roster_page(request: Request, who: Any, cases: Any, code: int = 200, **context: Any) -> Response:
    page = cases.reviewers(who, 500, 0)
    return render(
        request,
        "reviewers.html.j2",
        who,
        code,
        reviewers=page.items,
        total=page.total,
        can_write=who.can(Action.WRITE_REVIEWERS),
        **{"errors": None, "counts": None, **context},
    )


@router.get("/admin/reviewers")
def reviewers(request: Request, who: Who, cases: Cases) -> Response:
    """The roster: each reviewer's specialties, licences, practice, capacity and open cases."""
    return _roster_page(request, who, cases)


@router.post("/admin/reviewers")
def import_reviewers(
    request: Request, who: Poster, cases: Cases, roster: Annotated[UploadFile, File()]
) -> Response:
    """Import a roster file; any bad row and nothing is imported, every bad row listed."""
    cases.require(who, Action.WRITE_REVIEWERS)
    entries, errors = parse_roster(roster.filename or "roster", read_upload(roster))
    if errors:
        return _roster_page(request, who, cases, 422, errors=errors, filename=roster.filename)
    counts = cases.import_reviewers(who, entries)
    done = ", ".join(f"{n} {what}" for what, n in counts.model_dump().items())
    return back("/admin/reviewers", f"Roster imported: {done}.")


# Accounts -------------------------------------------------------------------------------------


def _users_page(request: Request, who: Any, cases: Any, code: int = 200, **context: Any) -> Response:
    rows = request.app.state.users.accounts(who)
    return render(
        request,
        "users.html.j2",
        who,
        code,
        users=rows,
        roles=ROLES,
        codes=[r.code for r in cases.reviewers(who, 500, 0).items],
        **{"errors": None, "form": {}, "reset": {}, **context},
    )


@router.get("/admin/users")
def users(request: Request, who: Who, cases: Cases) -> Response:
    """Every account, with a form to create one and one to reset a password (administrators only)."""
    return _users_page(request, who, cases)


@router.post("/admin/users")
def create_user(
    request: Request,
    who: Poster,
    cases: Cases,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    reviewer_code: Annotated[str, Form()] = "",
) -> Response:
    """Create an account: its role is a required choice, and a reviewer's code must be on the roster."""
    cases.require(who, Action.MANAGE_USERS)
    form = {"username": username, "role": role, "reviewer_code": reviewer_code}
    if not role:
        return _users_page(
            request, who, cases, 422, errors=["Role: choose what the account may do"], form=form
        )
    try:
        body = UserIn(username=username, password=password, role=role, reviewer_code=reviewer_code or None)
        request.app.state.users.create(who, body.username, body.password, body.role, body.reviewer_code)
    except ValidationError as exc:
        errors = [str(problem) for problem in plain(exc.errors(), form=True)]
        return _users_page(request, who, cases, 422, errors=errors, form=form)
    except ProcessError as exc:  # a name taken, a code not on the roster: the form's 422 too
        return _users_page(request, who, cases, 422, errors=[str(exc)], form=form)
    return back("/admin/users", f"Account {body.username} created ({body.role}).")


@router.post("/admin/users/password")
def reset_password(
    request: Request,
    who: Poster,
    cases: Cases,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """Set a temporary password for someone's account; their sessions and API tokens end."""
    cases.require(who, Action.MANAGE_USERS)
    reset = {"username": username}
    try:
        body = PasswordResetIn(password=password)
        request.app.state.users.reset_password(who, username, body.password)
    except ValidationError as exc:
        errors = [f"Temporary password: {problem.text}" for problem in plain(exc.errors(), form=True)]
        return _users_page(request, who, cases, 422, errors=errors, reset=reset)
    except ProcessError as exc:
        return _users_page(request, who, cases, 422, errors=[str(exc)], reset=reset)
    done = f"Password of {username} reset: their sessions and API tokens have ended. Tell them the"
    return back("/admin/users", f"{done} temporary password in person, and to change it once signed in.")


@router.post("/admin/users/{user_id}/active")
def set_active(
    request: Request, user_id: int, who: Poster, cases: Cases, active: Annotated[bool, Form()]
) -> Response:
    try:
        name = request.app.state.users.set_active(who, user_id, active)
    except ProcessError as exc:
        return _users_page(request, who, cases, 422, errors=[str(exc)])
    return back("/admin/users", f"Account {name} {'enabled' if active else 'disabled'}.")


# A case: withdrawal, reassignment, the ineligibility notice ----------------------------------


@router.post("/cases/{case_number}/withdraw")
def withdraw(case_number: str, who: Poster, cases: Cases, reason: Annotated[str, Form()] = "") -> Response:
    cases.withdraw(who, case_number, reason)
    return back(f"/cases/{case_number}", f"Case {case_number} withdrawn.")


@router.post("/cases/{case_number}/reassign")
def reassign(case_number: str, who: Poster, cases: Cases, reviewer: Annotated[str, Form()] = "") -> Response:
    """Give the case to the chosen reviewer (none chosen: the best other qualified one); a refusal
    comes back to the case page as a warning saying why."""
    try:
        outcome = cases.reassign(who, case_number, reviewer.strip() or None, dt.date.today())
    except (Forbidden, NotFound):
        raise
    except ProcessError as exc:
        return back(f"/cases/{case_number}", f"Not reassigned: {exc}.", "warning")
    return back(f"/cases/{case_number}", f"Reassigned to {outcome.reviewer}.")


@router.get("/cases/{case_number}/notice")
def notice(request: Request, case_number: str, who: Who, cases: Cases) -> Response:
    """The ineligibility notice of an ineligible case: the letter, with its HTML and PDF."""
    cases.notice(who, case_number)  # refused unless the case is ineligible and the reader may read it
    case = cases.case(who, case_number, dt.date.today())
    return render(request, "notice.html.j2", who, case=case)


@router.get("/cases/{case_number}/notice.html")
def notice_html(case_number: str, who: Who, cases: Cases) -> Response:
    """The ineligibility notice as a letter in HTML (its own styles: the letters' policy)."""
    return letter_response(cases.notice_letter(who, case_number, "html"))


@router.get("/cases/{case_number}/notice.pdf")
def notice_pdf(case_number: str, who: Who, cases: Cases) -> Response:
    """The ineligibility notice as a tagged PDF letter."""
    return letter_response(cases.notice_letter(who, case_number, "pdf"), f"{case_number}-notice.pdf")
