"""The pages: sign-in, dashboard, intake, worklist, case workbench, letter and audit.

Server-rendered with Jinja2; forms post back with the session's CSRF token and answer with a
redirect (post/redirect/get), so reloading never repeats an action.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from openimr.core.case import Application
from openimr.core.guidelines import load_rules
from openimr.core.models import EVIDENCE_STANDARDS, Decision
from openimr.core.process.workflow import Status
from openimr.core.roles import Action, Principal, Role
from openimr.services import accounts as auth
from openimr.services.cases import BUSY, CaseService, Forbidden, NotFound, Unavailable
from openimr.services.corpus.index import sync_index
from openimr.services.corpus.search import Filters, past_decision, search_store
from openimr.services.schemas import CaseCreated, CaseOut, DecisionIn
from openimr.services.stats import By, chart, compute, total
from openimr.web.api import MAX_UPLOAD, read_upload, signs_in_first
from openimr.web.errors import TooLarge, Unauthenticated

# Every template is HTML: everything put into one is escaped unless it is Markup already.
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=True)
)
STATUS_ORDER = list(Status)
_QUOTED = re.compile(r"[\"“']([^\"”']{8,200})[\"”']")
_UNMET = re.compile(r"\b(unmet|not met|not documented|no documentation|missing|exceeds?)\b", re.I)
_MET = re.compile(r"\b(met|documented|satisf\w+)\b", re.I)


def highlight(text: str | None, spans: list[str]) -> Markup:
    """*text*, escaped, with each of *spans* that occurs in it marked."""
    if not text:
        return Markup("")
    marks = sorted({s for s in spans if s and s.lower() in text.lower()}, key=len, reverse=True)
    if not marks:
        return escape(text)
    pattern = re.compile("|".join(re.escape(m) for m in marks), re.I)
    out, last = [], 0
    for m in pattern.finditer(text):
        out += [escape(text[last : m.start()]), Markup("<mark>"), escape(m.group()), Markup("</mark>")]
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def criterion_state(reason: str) -> str:
    """'unmet', 'met' or 'info' for a decision-support reason, from its words."""
    if _UNMET.search(reason):
        return "unmet"
    return "met" if _MET.search(reason) else "info"


def service(request: Request) -> CaseService:
    """The application's case service (its store opened once, at start-up)."""
    return request.app.state.cases


def session(request: Request) -> Principal:
    """The account of the session cookie; without one, the error handler sends the browser to sign in."""
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        with service(request).store.transaction() as s:
            who = auth.from_session(s, cookie)
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


def render(
    request: Request, name: str, who: Principal | None, code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"who": who, "nonce": request.state.nonce, "msg": request.query_params.get("msg"), **context},
        status_code=code,
    )


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html.j2", None, status, status=status, message=message)


def back(path: str, msg: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?msg={quote(msg)}", status_code=303)


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
        auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=auth.secure(request)
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
    cfg = auth.settings(request)
    with cases.store.transaction() as s:
        attempt = auth.sign_in(s, username, password, auth.client_address(request), cfg, "form")
        cookie = auth.open_session(s, attempt.user, cfg) if attempt.user else None
    if attempt.retry_after:
        wait = f"Too many failed sign-ins: try again in {attempt.retry_after} seconds."
        response = _login_page(request, next, wait, 429)
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
        secure=auth.secure(request),
    )
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, who: Poster, cases: Cases) -> Response:
    with cases.store.transaction() as s:
        auth.close_session(s, request.cookies.get(auth.SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, httponly=True, samesite="lax", secure=auth.secure(request))
    return response


@router.get("/")
def home(who: Who) -> Response:
    return RedirectResponse(home_of(who), status_code=303)


# Lists ----------------------------------------------------------------------------------------


@router.get("/dashboard")
def dashboard(request: Request, who: Who, cases: Cases) -> Response:
    """Cases by state, due dates with overdue and at-risk cases marked, assignment with its reasons."""
    if who.role == Role.REVIEWER:
        return RedirectResponse("/worklist", status_code=303)
    today = dt.date.today()
    page = cases.list_cases(who, today, limit=200)
    counts = Counter(c.status for c in page.items)
    return render(
        request,
        "dashboard.html.j2",
        who,
        today=today,
        cases=page.items,
        total=page.total,
        counts=[(s, counts[s]) for s in STATUS_ORDER if counts[s]],
        standing=Counter(c.standing for c in page.items if c.standing),
        can_assign=who.can(Action.ASSIGN),
    )


@router.get("/corpus/stats")
def corpus_stats(request: Request, who: Who, cases: Cases, by: By = By.category) -> Response:
    """Decisions in the letter corpus by a grouping, with overturn rates and Wilson intervals."""
    cases.require(who, Action.SEARCH_CORPUS)
    sync_index(cases.store.engine)
    groups = compute(cases.store.engine, by)
    return render(request, "stats.html.j2", who, by=by, bys=list(By), groups=groups, overall=total(groups))


@router.get("/corpus/stats.svg")
def corpus_stats_chart(who: Who, cases: Cases, by: By = By.category) -> Response:
    """The statistics page's chart (SVG)."""
    cases.require(who, Action.SEARCH_CORPUS)
    sync_index(cases.store.engine)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chart.svg"
        chart(compute(cases.store.engine, by), by, path)
        return Response(path.read_bytes(), media_type="image/svg+xml")


@router.get("/search")
def corpus_search(
    request: Request,
    who: Who,
    cases: Cases,
    q: Annotated[str, Query(max_length=500)] = "",
    decision: Decision | None = None,
    family: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
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


@router.get("/worklist")
def worklist(request: Request, who: Who, cases: Cases) -> Response:
    """The cases assigned to the signed-in reviewer (everyone's for staff)."""
    today = dt.date.today()
    page = cases.list_cases(who, today, limit=200)
    open_cases = [c for c in page.items if c.status in BUSY]
    done = [c for c in page.items if c not in open_cases]
    return render(request, "worklist.html.j2", who, today=today, open_cases=open_cases, done=done)


# Intake ---------------------------------------------------------------------------------------


@router.get("/intake")
def intake_form(request: Request, who: Who, cases: Cases) -> Response:
    cases.require(who, Action.CREATE_CASE)
    return render(request, "intake.html.j2", who, today=dt.date.today(), errors=None, form={})


@router.post("/intake")
async def intake(request: Request, who: Poster, cases: Cases) -> Response:
    cases.require(who, Action.CREATE_CASE)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    uploads = [f for f in form.getlist("documents") if not isinstance(f, str) and f.filename]
    try:
        case = Application.model_validate(_case_from_form(fields))
    except ValueError as exc:
        errors = exc.errors() if hasattr(exc, "errors") else [{"loc": ["form"], "msg": str(exc)}]
        return render(request, "intake.html.j2", who, 422, today=dt.date.today(), errors=errors, form=fields)
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


def _guideline_choices(case: CaseOut, review: dict | None) -> list[str]:
    """Guideline bases to pick from: the governing rules, decision support's, the UR's, every MTUS family."""
    choices = []
    for item in case.items:
        if item.guideline:
            choices.append(f"Decision based on {item.guideline.family}, {item.guideline.citation}.")
    for rec in (review or {}).get("items", []):
        guideline = rec.get("guideline") or {}
        cite = f", {guideline['citation']}" if guideline.get("citation") else ""
        choices.append(f"Decision based on {guideline.get('family')}{cite}.")
    choices += [i.claims_administrator_guideline for i in case.items if i.claims_administrator_guideline]
    choices += sorted({f"Decision based on {r.family}." for r in load_rules().rules})
    return list(dict.fromkeys(choices))


@router.get("/cases/{case_number}")
def workbench(request: Request, case_number: str, who: Who, cases: Cases) -> Response:
    """Summary with evidence marked, documents, and per item the request, guideline and decision form."""
    case = cases.case(who, case_number, dt.date.today())
    review, review_note = None, None
    if who.can(Action.READ_RECOMMENDATIONS):
        try:
            review = cases.recommendations(who, case_number)
        except Unavailable as exc:
            review_note = str(exc)
    recs = (review or {}).get("items", [])
    evidence = [m.group(1) for r in recs for reason in r.get("reasons", []) for m in _QUOTED.finditer(reason)]
    return render(
        request,
        "case.html.j2",
        who,
        case=case,
        recs={i + 1: r for i, r in enumerate(recs)},
        review_note=review_note,
        summary=highlight(case.clinical_summary, evidence),
        marked=any(e.lower() in (case.clinical_summary or "").lower() for e in evidence),
        choices=_guideline_choices(case, review),
        levels=EVIDENCE_STANDARDS,
        criterion_state=criterion_state,
        can_decide=who.can(Action.DECIDE) and case.status in BUSY,
        can=who.can,
        Action=Action,
    )


@router.post("/cases/{case_number}/items/{position}/decide")
def decide(
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
    result = cases.decide(
        who,
        case_number,
        position,
        body.decision,
        body.guideline,
        body.rationale,
        body.evidence_level,
        body.expected_version,
    )
    return back(f"/cases/{case_number}", f"Item {position}: {decision} saved; the case is {result.status}.")


@router.post("/cases/{case_number}/documents")
def upload(
    case_number: str,
    who: Poster,
    cases: Cases,
    file: Annotated[UploadFile, File()],
    doc_type: Annotated[str, Form()] = "medical_records",
) -> Response:
    content = read_upload(file)
    doc = cases.upload(who, case_number, file.filename or "document", content, doc_type, dt.date.today())
    return back(f"/cases/{case_number}", f"Document {doc.name} added.")


@router.post("/cases/assign")
def assign(who: Poster, cases: Cases, case_number: Annotated[str, Form()] = "") -> Response:
    outcomes = cases.assign(who, [case_number] if case_number else None, dt.date.today())
    done = ", ".join(f"{o.case_number} → {o.reviewer or 'nobody qualified'}" for o in outcomes)
    target = f"/cases/{case_number}" if case_number else "/dashboard"
    return back(target, f"Assigned: {done}." if outcomes else "No case was awaiting a reviewer.")


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


@router.get("/cases/{case_number}/audit")
def audit(request: Request, case_number: str, who: Who, cases: Cases, offset: int = 0) -> Response:
    page = cases.audit_log(who, case_number, 200, max(offset, 0))
    return render(request, "audit.html.j2", who, case_number=case_number, page=page)
