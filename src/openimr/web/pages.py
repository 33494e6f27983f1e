"""The pages: sign-in, dashboard, intake, worklist, case workbench, letter and audit.

Server-rendered with Jinja2; forms post back with the session's CSRF token and answer with a
redirect (post/redirect/get), so reloading never repeats an action.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import secrets
from collections.abc import Collection, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape
from pydantic import ValidationError

from openimr.core.bounds import DOC_TYPE, LINE
from openimr.core.case import Application
from openimr.core.guidelines import load_rules
from openimr.core.models import EVIDENCE_STANDARDS, Decision, ReasonCode
from openimr.core.process.data import load as load_process
from openimr.core.process.workflow import TERMINAL, Status
from openimr.core.review.assessment import against
from openimr.core.review.engine import Review
from openimr.core.roles import Action, Principal, Role
from openimr.services import accounts as auth
from openimr.services.audit import fold
from openimr.services.audit import write_csv as write_audit_csv
from openimr.services.cases import (
    BUSY,
    CaseService,
    CaseTally,
    ConflictError,
    Forbidden,
    NotFound,
    Unavailable,
)
from openimr.services.corpus.index import sync_index
from openimr.services.corpus.search import Filters, past_decision, search_store
from openimr.services.guidelines import families_in_force, in_force
from openimr.services.schemas import AuditOut, CaseCreated, CaseOut, CasePage, DecisionIn
from openimr.services.stats import BY_LABELS, SEVERAL_SPECIALTIES, Breakdown, By, breakdown, chart, write_csv
from openimr.web import connection as conn
from openimr.web.api import MAX_UPLOAD, file_name, read_upload, signs_in_first
from openimr.web.api import decide as decide_item
from openimr.web.errors import TooLarge, Unauthenticated
from openimr.web.listing import (
    CASES_PER_PAGE,
    ENTRIES_PER_PAGE,
    SORTS,
    AuditQuery,
    Blank,
    CaseQuery,
    audit_query,
    case_query,
    pages,
)

# Every template is HTML: everything put into one is escaped unless it is Markup already.
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=True)
)
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


# Lists ----------------------------------------------------------------------------------------


DASHBOARD_TITLES = {
    Role.ADMIN: "Administrator dashboard",
    Role.COORDINATOR: "Coordinator dashboard",
    Role.ANALYST: "Analyst overview",
}
ListQuery = Annotated[CaseQuery, Depends(case_query)]


def _case_page(
    cases: CaseService, who: Principal, today: dt.date, f: CaseQuery, statuses: Collection[Status] = ()
) -> CasePage:
    """One page of *who*'s cases as *f* asks, within *statuses* unless *f* names a status."""
    return cases.list_cases(
        who,
        today,
        f.status or statuses or None,
        (f.standing,) if f.standing else (),
        CASES_PER_PAGE,
        (f.page - 1) * CASES_PER_PAGE,
        priority=f.priority,
        reviewer=None if who.role == Role.REVIEWER else f.reviewer,
        search=f.q,
        sort=f.sort,
        descending=f.order == "desc",
    )


def _list_context(page: CasePage, f: CaseQuery, path: str, tally: CaseTally) -> dict[str, Any]:
    """What the case list's filter form, table and pager need."""
    return {
        "page": page,
        "f": f,
        "path": path,
        "pages": pages(page.total, CASES_PER_PAGE),
        "statuses": STATUS_ORDER,
        "sorts": SORTS,
        "reviewers": tally.reviewers,
    }


@router.get("/dashboard")
def dashboard(request: Request, who: Who, cases: Cases, f: ListQuery) -> Response:
    """Cases by state, due dates with overdue and at-risk cases marked, assignment with its reasons;
    the list searched, filtered, ordered and paged as the address asks."""
    if who.role == Role.REVIEWER:
        return RedirectResponse("/worklist", status_code=303)
    today = dt.date.today()
    tally = cases.tally(who, today)
    page = _case_page(cases, who, today, f)
    return render(
        request,
        "dashboard.html.j2",
        who,
        today=today,
        title=DASHBOARD_TITLES[who.role],
        counts=[(s, tally.statuses[s]) for s in STATUS_ORDER if tally.statuses[s]],
        standing=tally.standings,
        waiting=tally.statuses[Status.RECORDS_REQUESTED],
        can_assign=who.can(Action.ASSIGN),
        **_list_context(page, f, "/dashboard", tally),
    )


def _breakdown(cases: CaseService, who: Principal, by: By) -> Breakdown:
    cases.require(who, Action.SEARCH_CORPUS)
    sync_index(cases.store.engine)
    return breakdown(cases.store.engine, by)


@router.get("/corpus/stats")
def corpus_stats(request: Request, who: Who, cases: Cases, by: By = By.category) -> Response:
    """Decisions in the letter corpus by a grouping, with overturn rates and Wilson intervals."""
    result = _breakdown(cases, who, by)
    return render(
        request,
        "stats.html.j2",
        who,
        by=by,
        labels=BY_LABELS,
        groups=result.groups,
        overall=result.overall,
        note=SEVERAL_SPECIALTIES if by is By.specialty else None,
    )


@router.get("/corpus/stats.csv")
def corpus_stats_csv(who: Who, cases: Cases, by: By = By.category) -> Response:
    """The statistics page's table as CSV."""
    out = io.StringIO()
    write_csv(_breakdown(cases, who, by).groups, out)
    name = f"decisions-by-{by.value}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=_attachment(name))


@router.get("/corpus/stats.{fmt}")
def corpus_stats_chart(who: Who, cases: Cases, fmt: Literal["svg", "png"], by: By = By.category) -> Response:
    """The statistics page's chart, as SVG (shown) or PNG (to download)."""
    out = io.BytesIO()
    result = _breakdown(cases, who, by)
    chart(result.groups, by, out, result.overall, fmt=fmt)
    kind = "image/svg+xml" if fmt == "svg" else "image/png"
    return Response(out.getvalue(), media_type=kind)


@router.get("/search")
def corpus_search(
    request: Request,
    who: Who,
    cases: Cases,
    q: Annotated[str, Query(max_length=500)] = "",
    decision: Annotated[Decision | None, Blank] = None,
    family: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    year: Annotated[int | None, Query(ge=1900, le=2200), Blank] = None,
) -> Response:
    """Search past decisions with the command line's filters; each hit links to its decision."""
    cases.require(who, Action.SEARCH_CORPUS)
    filters = Filters(decision=decision, family=family or None, category=category or None, year=year)
    hits = search_store(cases.store, q, filters, 50) if q.strip() else []
    return render(
        request,
        "search.html.j2",
        who,
        q=q,
        hits=hits,
        decision=decision,
        decisions=list(Decision),
        family=family,
        category=category,
        year=year,
    )


@router.get("/guidelines")
def guidelines_page(
    request: Request,
    who: Who,
    cases: Cases,
    on: Annotated[dt.date | None, Blank] = None,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The encoded rules in force on a date of service (all of them without one), each with its
    citation, dates, whether its criteria are encoded, and every limit's source and verification."""
    cases.require(who, Action.READ_GUIDELINES)
    ruleset = load_rules()
    words = q.casefold().split()
    rules = [
        r
        for r in in_force(ruleset, on)
        if all(w in f"{r.id} {r.title} {r.family} {r.citation.section}".casefold() for w in words)
    ]
    return render(
        request,
        "guidelines.html.j2",
        who,
        rules=rules,
        on=on,
        q=q,
        sources=ruleset.sources,
        vocabulary=ruleset.conditions,
        total=len(ruleset.rules),
    )


@router.get("/corpus/letters/{letter}")
def past_letter(
    request: Request, who: Who, cases: Cases, letter: Annotated[str, PathParam(max_length=200)]
) -> Response:
    """One past decision letter of the corpus: its disputed items, decisions and rationales."""
    cases.require(who, Action.SEARCH_CORPUS)
    found = past_decision(cases.store, letter)
    if found is None:
        raise NotFound(f"no letter {letter} in the corpus")
    return render(request, "past_letter.html.j2", who, letter=found)


WORKLIST_TABS: dict[str, tuple[str, Collection[Status]]] = {
    "open": ("To review", BUSY),
    "closed": ("Closed", TERMINAL),
    "all": ("All", ()),
}


@router.get("/worklist")
def worklist(request: Request, who: Who, cases: Cases, f: ListQuery) -> Response:
    """The cases assigned to the signed-in reviewer (everyone's for staff): to review, closed or
    all, searched, filtered, ordered and paged as the address asks."""
    today = dt.date.today()
    tally = cases.tally(who, today)
    show = f.show or "open"
    page = _case_page(cases, who, today, f, WORKLIST_TABS[show][1])
    tabs = [
        (key, label, sum(n for s, n in tally.statuses.items() if not within or s in within))
        for key, (label, within) in WORKLIST_TABS.items()
    ]
    return render(
        request,
        "worklist.html.j2",
        who,
        today=today,
        show=show,
        tabs=tabs,
        **_list_context(page, f, "/worklist", tally),
    )


# Intake ---------------------------------------------------------------------------------------


LABELS = {
    "application_received": "Application received",
    "priority": "Priority",
    "formulary_dispute": "Formulary dispute",
    "ur_decision_date": "UR decision date",
    "ur_decision_served": "UR decision served",
    "date_of_injury": "Date of injury",
    "claimant": "Injured worker",
    "age": "Age",
    "sex": "Sex",
    "parties": "Parties",
    "disputed_items": "Disputed items",
    "clinical_summary": "Clinical summary",
    "claims_administrator_guideline": "Guideline the UR decision cited",
}
PARTY_LABELS = {
    "employer": "Employer",
    "claims_administrator": "Claims administrator",
    "requesting_provider": "Requesting provider",
    "ur_organization": "UR organization",
}


def specialties() -> list[str]:
    """Every specialty the assignment rules know (``specialties.yaml``), sorted."""
    spec = load_process("specialties")
    return sorted({name for names in spec["professions"].values() for name in names})


def _label(loc: tuple[Any, ...] | list[Any], parties: list[dict[str, Any]]) -> str:
    """An intake error's field as the form labels it, e.g. "Disputed items, line 2"."""
    words = []
    for n, part in enumerate(loc):
        if isinstance(part, int):
            if loc[n - 1] == "parties" and part < len(parties):
                words[-1] = PARTY_LABELS.get(parties[part]["role"], "Party")
            else:
                words.append(f"line {part + 1}")
        elif part in LABELS:
            words.append(LABELS[part])
    return ", ".join(words) or "The form"


# Validation errors in the intake form's words (pydantic's own messages speak of types and lists).
_PLAIN = {
    "missing": "required",
    "too_short": "give at least one",
    "date_from_datetime_parsing": "give a date as YYYY-MM-DD",
    "date_parsing": "give a date as YYYY-MM-DD",
    "date_type": "give a date as YYYY-MM-DD",
    "string_pattern_mismatch": "does not look right (a case number reads like CM26-0000001)",
    "string_too_short": "required",
}


def _plain(error: dict[str, Any]) -> str:
    """One validation error as the form says it."""
    return _PLAIN.get(error["type"], error["msg"][:1].lower() + error["msg"][1:])


def _intake_page(request: Request, who: Principal, code: int = 200, **context: Any) -> Response:
    context = {"errors": None, "form": {}, **context}
    return render(
        request, "intake.html.j2", who, code, today=dt.date.today(), specialties=specialties(), **context
    )


@router.get("/intake")
def intake_form(request: Request, who: Who, cases: Cases) -> Response:
    cases.require(who, Action.CREATE_CASE)
    return _intake_page(request, who)


@router.post("/intake")
async def intake(request: Request, who: Poster, cases: Cases) -> Response:
    cases.require(who, Action.CREATE_CASE)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    uploads = [f for f in form.getlist("documents") if not isinstance(f, str) and f.filename]
    data = _case_from_form(fields)
    errors = []
    for role, label in PARTY_LABELS.items():
        if fields.get(f"party_{role}_specialty", "").strip() and not fields.get(f"party_{role}", "").strip():
            errors.append(f"{label}: give the name of the {label.lower()} whose specialty is set")
    try:
        case = Application.model_validate(data)
    except ValidationError as exc:
        errors += [f"{_label(e['loc'], data['parties'])}: {_plain(e)}" for e in exc.errors()]
    except ValueError as exc:
        errors.append(str(exc))
    if errors:
        return _intake_page(request, who, 422, errors=errors, form=fields)
    files = {}
    for upload in uploads:
        content = await upload.read(MAX_UPLOAD + 1)
        if len(content) > MAX_UPLOAD:
            raise TooLarge(f"{upload.filename} is larger than {MAX_UPLOAD // (1024 * 1024)} MB")
        files[upload.filename] = content

    def take_in() -> CaseCreated:
        created = cases.create_case(who, case)
        for name, content in files.items():
            cases.upload(
                who, created.case_number, name, content, "medical_records", case.application_received
            )
        return created

    created = await run_in_threadpool(take_in)
    note = "taken in" if created.created else "already taken in"
    return back(f"/cases/{created.case_number}", f"Case {created.case_number} {note}: {created.status}.")


def _case_from_form(f: dict[str, str]) -> dict[str, Any]:
    """The intake form's fields as a :class:`Application` dict (empty fields left out)."""

    def get(name: str) -> str | None:
        return (f.get(name) or "").strip() or None

    parties = [
        {"role": role, "name": get(f"party_{role}"), "specialty": get(f"party_{role}_specialty")}
        for role in ("employer", "claims_administrator", "requesting_provider", "ur_organization")
        if get(f"party_{role}")
    ]
    items = [line.strip() for line in (f.get("items") or "").splitlines() if line.strip()]
    age = get("claimant_age")
    return {
        "priority": get("priority") or "Standard",
        "formulary_dispute": f.get("formulary_dispute") == "on",
        "application_received": get("application_received"),
        "date_of_injury": get("date_of_injury"),
        "ur_decision_date": get("ur_decision_date"),
        "ur_decision_served": get("ur_decision_served"),
        "claimant": {"age": int(age) if age and age.isdigit() else age, "sex": get("claimant_sex")},
        "parties": [{k: v for k, v in p.items() if v is not None} for p in parties],
        "clinical_summary": f.get("clinical_summary") or "",
        "disputed_items": [
            {"item": item, "claims_administrator_guideline": get("claims_administrator_guideline")}
            for item in items
        ],
    }


# One case -------------------------------------------------------------------------------------


def _guideline_choices(case: CaseOut, review: Review | None) -> list[str]:
    """Guideline bases to pick from, one per family and citation: decision support's governing
    guidelines, the UR's, then each family in force on the case's date (the UR decision's) not
    named yet."""
    picked: dict[tuple[str, str], str] = {}
    for rec in review.items if review else []:
        family, citation = rec.guideline.family.strip().rstrip("."), (rec.guideline.citation or "").strip()
        if family:
            cite = f", {citation.rstrip('.')}" if citation else ""
            picked.setdefault((_key(family), _key(citation)), f"Decision based on {family}{cite}.")
    choices = list(picked.values())
    choices += [i.claims_administrator_guideline for i in case.items if i.claims_administrator_guideline]
    named = {family for family, _ in picked}
    choices += [
        f"Decision based on {f}."
        for f in families_in_force(case.ur_decision_date or case.application_received)
        if _key(f) not in named
    ]
    return list(dict.fromkeys(" ".join(c.split()) for c in choices))


def _key(text: str) -> str:
    """*text* for telling near-duplicates apart: lower case, words only."""
    return " ".join(re.findall(r"[a-z0-9]+", text.casefold()))


@router.get("/cases/{case_number}")
def workbench(request: Request, case_number: str, who: Who, cases: Cases) -> Response:
    """Summary with evidence marked, documents, and per item the request, decision support's review
    (recommendation, guideline, criteria, decisive reason, hints) and the decision form."""
    case = cases.case(who, case_number, dt.date.today())
    review, review_note = None, None
    if who.can(Action.READ_RECOMMENDATIONS):
        try:
            review = cases.recommendations(who, case_number)
        except Unavailable as exc:
            review_note = str(exc)
    spans = evidence_spans(review)
    return render(
        request,
        "case.html.j2",
        who,
        case=case,
        recs={i + 1: r for i, r in enumerate(review.items)} if review else {},
        review_note=review_note,
        summary=highlight(case.clinical_summary, spans),
        marked=bool(marked_spans(case.clinical_summary or "", spans)),
        choices=_guideline_choices(case, review),
        levels=EVIDENCE_STANDARDS,
        basis_words=BASIS_WORDS,
        status_words=STATUS_WORDS,
        reason_words=reason_words,
        against=against,
        can_decide=who.can(Action.DECIDE) and case.status in BUSY,
        qualified=cases.qualified(who, case_number, dt.date.today())
        if who.can(Action.ASSIGN) and case.status in (Status.ASSIGNED, Status.IN_REVIEW)
        else {},
        can=who.can,
        Action=Action,
    )


@router.post("/cases/{case_number}/items/{position}/decide")
def decide(
    request: Request,
    case_number: str,
    position: int,
    who: Poster,
    cases: Cases,
    decision: Annotated[str, Form()],
    guideline: Annotated[str, Form()],
    rationale: Annotated[str, Form()],
    evidence_level: Annotated[str, Form()] = "",
    expected_version: Annotated[int, Form()] = 0,
) -> Response:
    body = DecisionIn.model_validate(
        {
            "decision": decision,
            "guideline": guideline,
            "rationale": rationale,
            "evidence_level": evidence_level or None,
            "expected_version": expected_version,
        }
    )
    try:
        result = decide_item(case_number, position, body, who, cases)  # the API's own step
    except ConflictError:
        case = cases.case(who, case_number, dt.date.today())
        item = next(i for i in case.items if i.position == position)
        return render(
            request, "conflict.html.j2", who, 409, case=case, item=item, mine=body, levels=EVIDENCE_STANDARDS
        )
    return back(f"/cases/{case_number}", f"Item {position}: {decision} saved; the case is {result.status}.")


@router.post("/cases/{case_number}/documents")
def upload(
    case_number: str,
    who: Poster,
    cases: Cases,
    file: Annotated[UploadFile, File()],
    doc_type: Annotated[str, Form(min_length=1, max_length=DOC_TYPE, pattern=LINE)] = "medical_records",
) -> Response:
    name = file_name(file, "file")  # the API's checks: no folders, control characters or bidi tricks
    doc = cases.upload(who, case_number, name, read_upload(file), doc_type, dt.date.today())
    return back(f"/cases/{case_number}", f"Document {doc.name} added.")


@router.post("/cases/assign")
def assign(who: Poster, cases: Cases, case_number: Annotated[str, Form()] = "") -> Response:
    outcomes = cases.assign(who, [case_number] if case_number else None, dt.date.today())
    target = f"/cases/{case_number}" if case_number else "/dashboard"
    if not outcomes:
        return back(target, "No case was awaiting a reviewer.")
    done = [f"{o.case_number} → {o.reviewer}" for o in outcomes if o.reviewer]
    failed = [f"{o.case_number}: {unassigned(o)}" for o in outcomes if not o.reviewer]
    said = (f"Assigned: {', '.join(done)}. " if done else "") + (
        f"Not assigned: {'; '.join(failed)}." if failed else ""
    )
    return back(target, said.strip(), "warning" if failed else "ok")


def unassigned(outcome: Any) -> str:
    """Why a case got no reviewer, from each reviewer's reason (or the assigner's, with no roster)."""
    if not outcome.others:
        return "the roster has no reviewer"
    return "; ".join(f"{code} {why}" for code, why in outcome.others.items())


@router.post("/cases/{case_number}/issue")
def issue(case_number: str, who: Poster, cases: Cases) -> Response:
    cases.issue(who, case_number, dt.date.today())
    return back(f"/cases/{case_number}/letter", "The Final Determination letter is issued.")


@router.get("/cases/{case_number}/letter")
def letter(request: Request, case_number: str, who: Who, cases: Cases) -> Response:
    record, issued = cases.letter(who, case_number, dt.date.today())
    case = cases.case(who, case_number, dt.date.today())
    return render(
        request, "letter.html.j2", who, case=case, letter=record, issued=issued, can=who.can, Action=Action
    )


LogQuery = Annotated[AuditQuery, Depends(audit_query)]


def _audit_rows(cases: CaseService, who: Principal, number: str | None, f: AuditQuery) -> list[AuditOut]:
    return cases.audit_log(who, number, None, 0, f.actor or None, f.action or None).items


def _audit_page(
    request: Request, who: Principal, cases: CaseService, number: str | None, f: AuditQuery
) -> Response:
    """The audit log (of one case, or the site's, newest first) with reads folded, filtered and paged."""
    rows = _audit_rows(cases, who, number, f)
    entries = fold(rows)
    if number is None:
        entries.reverse()
    start = (f.page - 1) * ENTRIES_PER_PAGE
    return render(
        request,
        "audit.html.j2",
        who,
        case_number=number,
        f=f,
        path=f"/cases/{number}/audit" if number and not f.case else "/audit",
        entries=entries[start : start + ENTRIES_PER_PAGE],
        total=len(entries),
        rows=len(rows),
        pages=pages(len(entries), ENTRIES_PER_PAGE),
        csv=f.link("/audit.csv", case=number or ""),
        actors=sorted({r.actor for r in rows}),
        actions=sorted({r.action for r in rows}),
    )


@router.get("/audit")
def site_audit(request: Request, who: Who, cases: Cases, f: LogQuery) -> Response:
    """Every read and change on the site (of one case if asked), newest first; staff only."""
    return _audit_page(request, who, cases, f.case or None, f)


@router.get("/audit.csv")
def audit_csv(who: Who, cases: Cases, f: LogQuery) -> Response:
    """The audit log's rows (one case's if asked), filtered as the page is, none folded, as CSV."""
    out = io.StringIO()
    write_audit_csv(_audit_rows(cases, who, f.case or None, f), out)
    name = f"audit-{f.case}.csv" if f.case else "audit.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=_attachment(name))


@router.get("/cases/{case_number}/audit")
def audit(request: Request, case_number: str, who: Who, cases: Cases, f: LogQuery) -> Response:
    """Every read and change of the case, oldest first, reads folded."""
    return _audit_page(request, who, cases, case_number, replace(f, case=""))


def _attachment(name: str) -> dict[str, str]:
    """The header that has a browser save a download as *name* (made of letters, digits, - and .)."""
    return {"Content-Disposition": f'attachment; filename="{name}"'}
