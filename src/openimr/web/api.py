"""The HTTP API under ``/api``: JSON in and out, a Bearer token (or the pages' session) to act."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from openimr.core import bounds as b
from openimr.core.case import Application
from openimr.core.process.workflow import Status
from openimr.core.review.engine import Review
from openimr.core.roles import Principal
from openimr.services import accounts as auth
from openimr.services import schemas as out
from openimr.services.cases import CaseService, Forbidden
from openimr.services.corpus.service import Corpus
from openimr.services.documents import KINDS
from openimr.services.guidelines import Guidelines
from openimr.web import connection as conn
from openimr.web.errors import TooLarge, Unauthenticated

MAX_UPLOAD = 20 * 1024 * 1024
MAX_INT = 2**31 - 1  # what every database's INTEGER holds
# A rendered letter may style itself but run nothing, and only our pages may frame it.
LETTER_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="An API token from POST /api/tokens.")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of an operation: 400 a control character in the address, 413 a body over
    the limit, 503 the database away (with Retry-After), the others as their handlers say."""
    return {code: {"model": out.ErrorOut} for code in codes}


def service(request: Request) -> CaseService:
    """The application's case service (its store opened once, at start-up)."""
    return request.app.state.cases


def corpus_service(request: Request) -> Corpus:
    """The application's letter corpus service."""
    return request.app.state.openimr.corpus


def guidelines_service(request: Request) -> Guidelines:
    """The application's guidelines service (its rules loaded once)."""
    return request.app.state.openimr.guidelines


CorpusDep = Annotated[Corpus, Depends(corpus_service)]
GuidelinesDep = Annotated[Guidelines, Depends(guidelines_service)]


def principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None, cases: CaseService
) -> Principal:
    """The account of the request's Bearer token, else of its session cookie (CSRF-checked)."""
    users = request.app.state.users
    if credentials is not None:
        who = users.by_token(credentials.credentials)
        if who is None:
            raise Unauthenticated("the API token is not valid (expired, revoked, or its account disabled)")
        return who
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        who = users.by_session(cookie)
        if who is not None:
            if request.method not in SAFE_METHODS and not auth.same(
                request.headers.get("x-csrf-token"), who.csrf
            ):
                raise Forbidden("a request from a signed-in page needs its CSRF token (X-CSRF-Token)")
            return who
    raise Unauthenticated("sign in first: send 'Authorization: Bearer TOKEN' (get one from POST /api/tokens)")


async def _sign_in(request: Request) -> Principal:
    return await run_in_threadpool(principal, request, await _bearer(request), service(request))


async def account(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The account :func:`principal` found before the body was read (the Bearer parameter puts the
    scheme in the OpenAPI document)."""
    return request.state.who


def signs_in_first(
    marker: Callable[..., Awaitable[Principal]], sign_in: Callable[[Request], Awaitable[Principal]]
) -> type[APIRoute]:
    """A route class: a route that depends on *marker* is signed in by *sign_in* before its body is
    read (an anonymous upload is refused unread); *marker* then gives the account."""

    def needs(dependant: Dependant) -> bool:
        return any(d.call is marker or needs(d) for d in dependant.dependencies)

    class SignsInFirst(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            if not needs(self.dependant):
                return handler

            async def signed_in_first(request: Request) -> Response:
                request.state.who = await sign_in(request)
                return await handler(request)

            return signed_in_first

    return SignsInFirst


Who = Annotated[Principal, Depends(account)]
Cases = Annotated[CaseService, Depends(service)]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="How many to skip.")]
ItemNumber = Annotated[int, Path(ge=1, le=10_000, description="The item's number (1 = first).")]
DocumentId = Annotated[int, Path(ge=1, le=MAX_INT)]
CaseNumber = Annotated[
    str, Path(min_length=1, max_length=200, pattern=b.LINE, description="The case number.")
]
Label = Annotated[str | None, Query(min_length=1, max_length=80, pattern=b.LINE)]

ERRORS = _errors(400, 401, 403, 404, 409, 413, 422, 503)  # what any signed-in operation may answer
router = APIRouter(
    prefix="/api",
    responses=ERRORS,
    route_class=signs_in_first(account, _sign_in),
)
public = APIRouter(prefix="/api", responses=_errors(400, 401, 413, 422, 503))


def read_upload(upload: UploadFile) -> bytes:
    """The upload's bytes (FastAPI spooled them to a temporary file), at most :data:`MAX_UPLOAD`."""
    content = upload.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise TooLarge(f"{upload.filename} is larger than {MAX_UPLOAD // (1024 * 1024)} MB")
    return content


def file_name(upload: UploadFile, *loc: str | int) -> str:
    """The upload's file name without folders; 422 naming the field at *loc* unless it is a usable
    name (:func:`openimr.core.bounds.plain_file_name`: not empty, ``.`` or ``..``, at most 255
    bytes, no control or format character such as NUL or U+202E)."""
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    if not b.plain_file_name(name):
        problem = {
            "loc": ("body", *loc),
            "msg": f"the file name {(upload.filename or '')[:60]!r} is not a usable file name "
            "(it must be a plain name of at most 255 bytes)",
            "type": "value_error",
        }
        raise RequestValidationError([problem])
    return name


def _today() -> dt.date:
    return dt.date.today()


# Accounts -------------------------------------------------------------------------------------


_THROTTLED = {
    429: {
        "model": out.ErrorOut,
        "description": "Too many failed sign-ins, or too many at once: wait the Retry-After seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
    }
}


@public.post("/tokens", response_model=out.TokenOut, status_code=201, tags=["accounts"], responses=_THROTTLED)
def create_token(body: out.TokenIn, request: Request, cases: Cases) -> out.TokenOut | JSONResponse:
    """Trade a username and password for an API token (shown this once; send it as a Bearer token).

    It lasts ``OPENIMR_TOKEN_DAYS`` (30) days. After repeated failures for the account or from
    the client's address, every attempt is refused with 429 for a while, growing with each failure;
    so is one that finds ``OPENIMR_LOGIN_CONCURRENCY`` sign-ins checking a password already.
    """
    attempt = request.app.state.users.sign_in(
        body.username,
        body.password,
        conn.client_address(request),
        conn.settings(request),
        conn.gate(request),
        token_name=body.name,
    )
    return _token(attempt, "wrong username or password")


def _token(attempt: auth.Attempt, wrong: str) -> out.TokenOut | JSONResponse:
    """What a password check answers: its new token; 429 with Retry-After when throttled or busy;
    else 401 saying *wrong*."""
    if attempt.retry_after:
        return JSONResponse(
            {"error": "busy" if attempt.busy else "throttled", "message": attempt.refusal, "detail": None},
            status_code=429,
            headers={"Retry-After": str(attempt.retry_after)},
        )
    if attempt.result is None:
        raise Unauthenticated(wrong)
    return out.TokenOut(token=attempt.result)


@router.get("/tokens", response_model=list[out.TokenInfo], tags=["accounts"])
def list_tokens(request: Request, who: Who) -> list[out.TokenInfo]:
    """Your API tokens that are not revoked (expired ones too), oldest first."""
    return request.app.state.users.tokens(who)


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response, tags=["accounts"])
def revoke_token(token_id: Annotated[int, Path(ge=1, le=MAX_INT)], request: Request, who: Who) -> Response:
    """Revoke one of your API tokens: from now on it answers 401."""
    request.app.state.users.revoke_token(who, token_id, conn.settings(request).clock())
    return Response(status_code=204)


@router.get("/me", response_model=out.UserOut, tags=["accounts"])
def me(who: Who) -> out.UserOut:
    """The account this request acts for."""
    return out.UserOut(username=who.username, role=who.role, reviewer_code=who.reviewer_code)


@router.put("/me/password", response_model=out.TokenOut, tags=["accounts"], responses=_THROTTLED)
def change_password(body: out.PasswordChangeIn, request: Request, who: Who) -> out.TokenOut | JSONResponse:
    """Change your own password. ``old_password`` is checked as a sign-in would be (401 when wrong,
    429 when throttled or busy, and a wrong one counts as a failed sign-in). Every session and API
    token of the account ends, the token of this request included; the answer is a new token
    (named ``name``) to go on with."""
    address, cfg, slots = conn.client_address(request), conn.settings(request), conn.gate(request)
    users = request.app.state.users
    attempt = users.change_password(who, body.old_password, body.new_password, address, cfg, slots, body.name)
    return _token(attempt, "old_password: that is not your current password; nothing was changed")


@router.post("/users", response_model=out.UserOut, status_code=201, tags=["accounts"])
def create_user(body: out.UserIn, request: Request, who: Who) -> out.UserOut:
    """Create an account (admin only): 409 when the username is taken, 422 for any other problem
    (a reviewer account's code must be on the roster)."""
    return request.app.state.users.create(who, body.username, body.password, body.role, body.reviewer_code)


@router.put("/users/{username}/password", status_code=204, response_class=Response, tags=["accounts"])
def reset_password(
    username: Annotated[str, Path(min_length=1, max_length=b.USERNAME, pattern=b.LINE)],
    body: out.PasswordResetIn,
    request: Request,
    who: Who,
) -> Response:
    """Set a temporary password for someone else's account (admin only; your own: PUT
    /api/me/password). Every session and API token of that account ends; audited."""
    request.app.state.users.reset_password(who, username, body.password)
    return Response(status_code=204)


# Cases ----------------------------------------------------------------------------------------


@router.get("/cases", response_model=out.CasePage, tags=["cases"])
def list_cases(
    who: Who,
    cases: Cases,
    status: Status | None = None,
    standing: Literal["overdue", "at_risk", "on_time"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> out.CasePage:
    """Cases by due date, with each open case's standing; a reviewer sees only their own."""
    return cases.list_cases(who, _today(), status, (standing,) if standing else (), limit, offset)


@router.post("/cases", response_model=out.CaseCreated, status_code=201, tags=["cases"])
def create_case(body: Application, who: Who, cases: Cases) -> out.CaseCreated:
    """Take a case in (case.schema.json plus parties and UR items): eligibility and due date follow.

    The same submission again returns the same case with ``created`` false. Upload documents
    with ``POST /api/cases/{case_number}/documents``.
    """
    return cases.create_case(who, body)


@router.get("/cases/{case_number}", response_model=out.CaseOut, tags=["cases"])
def read_case(case_number: CaseNumber, who: Who, cases: Cases) -> out.CaseOut:
    """The case in full: items with parsed request, assignment, decisions (the governing guideline
    and its criteria are decision support's: ``GET /api/cases/{case_number}/recommendations``)."""
    return cases.case(who, case_number, _today())


@router.get("/cases/{case_number}/items", response_model=list[out.ItemOut], tags=["cases"])
def read_items(case_number: CaseNumber, who: Who, cases: Cases) -> list[out.ItemOut]:
    """The disputed items, each with its version (pass it back when deciding)."""
    return cases.items(who, case_number)


@router.post("/cases/{case_number}/withdraw", response_model=out.CaseCreated, tags=["cases"])
def withdraw(case_number: CaseNumber, body: out.WithdrawIn, who: Who, cases: Cases) -> out.CaseCreated:
    """Close an open case without a determination."""
    status = cases.withdraw(who, case_number, body.reason)
    return out.CaseCreated(case_number=case_number, created=False, status=status)


@router.get("/cases/{case_number}/audit", response_model=out.AuditPage, tags=["cases"])
def read_audit(
    case_number: CaseNumber, who: Who, cases: Cases, limit: Limit = 100, offset: Offset = 0
) -> out.AuditPage:
    """Every read and change of the case, oldest first."""
    return cases.audit_log(who, case_number, limit, offset)


# Documents ------------------------------------------------------------------------------------


@router.get("/cases/{case_number}/documents", response_model=list[out.DocumentOut], tags=["documents"])
def list_documents(case_number: CaseNumber, who: Who, cases: Cases) -> list[out.DocumentOut]:
    return cases.documents(who, case_number)


@router.post(
    "/cases/{case_number}/documents",
    response_model=out.DocumentOut,
    status_code=201,
    tags=["documents"],
    responses=_errors(413),
)
def upload_document(
    case_number: CaseNumber,
    who: Who,
    cases: Cases,
    file: Annotated[UploadFile, File(description="The document (20 MB at most).")],
    doc_type: Annotated[str, Form(min_length=1, max_length=b.DOC_TYPE, pattern=b.LINE)] = "medical_records",
    received: Annotated[dt.date | None, Form(ge=b.FIRST_DATE, le=b.LAST_DATE)] = None,
) -> out.DocumentOut:
    """Add a document to the case record; the same file again changes nothing."""
    name = file_name(file, "file")
    return cases.upload(who, case_number, name, read_upload(file), doc_type, received or _today())


_DOWNLOAD = {
    200: {
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}}
            for kind in [*dict.fromkeys(KINDS.values()), "application/octet-stream"]
        },
        "description": "The document, shown in the browser (an unchecked older upload: downloaded).",
    }
}
# A served document runs nothing and loads nothing but itself; only our pages may frame it.
DOCUMENT_CSP = "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'self'"


@router.get(
    "/cases/{case_number}/documents/{document_id}",
    response_class=Response,
    responses=_DOWNLOAD,
    tags=["documents"],
)
def download_document(case_number: CaseNumber, document_id: DocumentId, who: Who, cases: Cases) -> Response:
    """The document with its media type, to view in the browser (inline)."""
    name, kind, content = cases.document(who, case_number, document_id)
    how = "attachment" if kind == "application/octet-stream" else "inline"
    headers = {"Content-Disposition": _attachment(name, how), "Content-Security-Policy": DOCUMENT_CSP}
    return Response(content, media_type=kind, headers=headers)


def _attachment(name: str, how: str = "attachment") -> str:
    """A Content-Disposition (*how*: attachment or inline) for *name*: an ASCII fallback, and the
    name itself as RFC 5987 UTF-8."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return f"{how}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# Reviewers and assignment ---------------------------------------------------------------------


@router.get("/reviewers", response_model=out.ReviewerPage, tags=["reviewers"])
def list_reviewers(who: Who, cases: Cases, limit: Limit = 50, offset: Offset = 0) -> out.ReviewerPage:
    """The roster, with each reviewer's open cases."""
    return cases.reviewers(who, limit, offset)


@router.post("/reviewers", response_model=out.ImportCounts, tags=["reviewers"])
def import_reviewers(
    body: Annotated[list[out.RosterEntry], Body(max_length=b.MAX_ROSTER)], who: Who, cases: Cases
) -> out.ImportCounts:
    """Create or update reviewers by code; the same roster again changes nothing."""
    return cases.import_reviewers(who, body)


@router.post("/assignments", response_model=list[out.OutcomeOut], tags=["assignments"])
def assign(body: out.AssignIn, who: Who, cases: Cases) -> list[out.OutcomeOut]:
    """Assign cases (or every case awaiting a reviewer) as one optimized batch, each with why."""
    return cases.assign(who, body.case_numbers, _today())


@router.get(
    "/cases/{case_number}/assignment/candidates", response_model=list[out.CandidateOut], tags=["assignments"]
)
def reassignment_candidates(case_number: CaseNumber, who: Who, cases: Cases) -> list[out.CandidateOut]:
    """Each other reviewer, by code: whether they may take the case now, their workload, why not."""
    return cases.candidates(who, case_number, _today())


@router.put("/cases/{case_number}/assignment", response_model=out.OutcomeOut, tags=["assignments"])
def reassign(case_number: CaseNumber, body: out.ReassignIn, who: Who, cases: Cases) -> out.OutcomeOut:
    """Give an assigned case with no decision yet to ``reviewer`` (null: the best other qualified
    one), with why; 422 saying why when not on the roster, not qualified, or nobody else may."""
    return cases.reassign(who, case_number, body.reviewer, _today())


# Decisions and recommendations ----------------------------------------------------------------


@router.put(
    "/cases/{case_number}/items/{position}/decision", response_model=out.DecisionResult, tags=["decisions"]
)
def decide(
    case_number: CaseNumber, position: ItemNumber, body: out.DecisionIn, who: Who, cases: Cases
) -> out.DecisionResult:
    """Decide one item (the assigned reviewer only). 409 when someone decided it since you read it."""
    return cases.decide(who, case_number, position, **body.model_dump())


@router.get(
    "/cases/{case_number}/recommendations",
    response_model=Review,
    tags=["decisions"],
    responses=_errors(503),
)
def recommendations(case_number: CaseNumber, who: Who, cases: Cases) -> Review:
    """Decision support's review (review.schema.json), per item: the recommendation and its basis,
    p_overturn, the governing guideline and rule, the decisive reason, the hints, and each criterion
    with its status and evidence (character offsets into the clinical summary). 503 "decision
    support unavailable" without a review engine, or when it fails or answers malformed."""
    return cases.recommendations(who, case_number)
