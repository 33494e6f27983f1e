"""The FHIR R4 endpoint under ``/fhir``: ``Claim/$submit`` takes a dispute in, ``ClaimResponse``
gives a determination out, ``metadata`` says what is supported. Same accounts, roles, audit and
redaction as the API; every error is an OperationOutcome (``application/fhir+json``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import ValidationError

import openimr
from openimr.core.fhir.capability import capability
from openimr.core.fhir.outcome import FhirError, Problem, outcome, path
from openimr.core.roles import Principal
from openimr.services import fhir
from openimr.web import api
from openimr.web.errors import STATUS, classify

FHIR_JSON = "application/fhir+json"
PUBLIC = frozenset({"/fhir/metadata"})
_bearer = HTTPBearer(auto_error=False)
_ISSUE_TYPE = {
    401: "login",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "too-long",
    503: "transient",
}


def _answer(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def _refusal(exc: Exception, where: str) -> JSONResponse:
    """The OperationOutcome for an exception the API knows, or a FhirError's problems."""
    if isinstance(exc, FhirError):
        return _answer(outcome(exc.problems), exc.status)
    if isinstance(exc, RequestValidationError):
        problems = [
            Problem(path(e.get("loc", ())[1:], where), str(e.get("msg")), "value") for e in exc.errors()
        ]
        return _answer(outcome(problems), 400)
    status, _ = classify(exc)
    if isinstance(exc, ValidationError):
        problems = [Problem(path(e["loc"], where), e["msg"], "invalid") for e in exc.errors()]
    else:
        problems = [Problem(where, str(exc), _ISSUE_TYPE.get(status, "invalid"))]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _answer(outcome(problems), status, headers)


class FhirRoute(APIRoute):
    """A route that signs the caller in before reading the body (but ``metadata``) and answers
    every refusal as an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        public = self.path in PUBLIC
        where = self.name

        async def run(request: Request) -> Response:
            try:
                if not public:
                    request.state.who = await run_in_threadpool(
                        api.principal, request, await _bearer(request), api.service(request)
                    )
                return await handler(request)
            except (FhirError, RequestValidationError, *STATUS) as exc:
                return _refusal(exc, where)

        return run


def _fhir(description: str, *types: str) -> dict[str, Any]:
    return {"description": description, "content": {kind: {"schema": {"type": "object"}} for kind in types}}


# Every answer is FHIR JSON; an error the app answers before or beside FHIR (an address with a
# control character, the database away) is the API's JSON error.
_OUTCOMES: dict[int | str, dict[str, Any]] = {
    code: _fhir("An OperationOutcome (or the API's JSON error).", FHIR_JSON, "application/json")
    for code in (400, 401, 403, 404, 409, 413, 422, 503)
}
_RESOURCE = {200: _fhir("A FHIR resource.", FHIR_JSON)}
router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute, responses=_OUTCOMES)
Who = Annotated[Principal, Depends(api.account)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


@router.get("/metadata", name="CapabilityStatement", response_class=JSONResponse, responses=_RESOURCE)
def metadata(request: Request) -> JSONResponse:
    """The CapabilityStatement: what this endpoint supports."""
    return _answer(capability(openimr.__version__, _base(request), dt.date.today()))


@router.post(
    "/Claim/$submit",
    name="Bundle",
    response_class=JSONResponse,
    responses={**_RESOURCE, 201: _fhir("The acknowledging Bundle.", FHIR_JSON)},
    openapi_extra={"requestBody": {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "required": True}},
)
async def submit(request: Request, who: Who) -> JSONResponse:
    """Take a dispute in: a Da Vinci PAS request Bundle with the UR organization's ClaimResponse for
    its Claim. 201 with a Bundle holding the acknowledging ClaimResponse (its ``preAuthRef`` is the
    case number), 200 for the same Bundle again; 400/422/413 with an OperationOutcome naming each
    problem by FHIRPath, nothing stored."""
    raw = await request.body()
    done = await run_in_threadpool(fhir.submit, api.service(request), who, raw, dt.date.today())
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "entry": [
            {"fullUrl": f"{_base(request)}/ClaimResponse/{done.case_number}", "resource": done.response}
        ],
    }
    location = f"{_base(request)}/ClaimResponse?request=Claim/{done.case_number}"
    return _answer(bundle, 201 if done.created else 200, {"Location": location})


@router.get("/ClaimResponse", name="ClaimResponse", response_class=JSONResponse, responses=_RESOURCE)
def claim_response(
    request: Request,
    who: Who,
    claim: Annotated[
        str,
        Query(
            alias="request",
            min_length=1,
            max_length=300,
            pattern=r"^[^\x00-\x1f\x7f]*$",
            description="The Claim: Claim/CMyy-nnnnnnn (the IMR case number).",
        ),
    ],
) -> JSONResponse:
    """The issued Final Determination of the case: a searchset Bundle of its ClaimResponse (one
    adjudication per item), the letter as a DocumentReference (PDF) and a Provenance. Read like
    the letter: a role that may read letters, a reviewer their own cases only; audited."""
    return _answer(fhir.claim_response(api.service(request), who, claim, dt.date.today(), _base(request)))
