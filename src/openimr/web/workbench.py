"""One case: the workbench (summary with evidence marked, documents, decision support and the
decision form), deciding, uploading, assigning, issuing and the letter."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import Response

from openimr.core.bounds import DOC_TYPE, LINE
from openimr.core.labels import label
from openimr.core.models import EVIDENCE_STANDARDS
from openimr.core.review.assessment import against
from openimr.core.roles import Action, Principal
from openimr.services.cases import (
    BUSY,
    CaseService,
    ConflictError,
    NotFound,
    ProcessError,
)
from openimr.services.schemas import DecisionIn
from openimr.web.api import file_name, read_upload
from openimr.web.base import (
    BASIS_WORDS,
    STATUS_WORDS,
    Cases,
    Poster,
    Who,
    back,
    evidence_spans,
    highlight,
    marked_spans,
    reason_words,
    render,
    router,
)

# One case -------------------------------------------------------------------------------------


@router.get("/cases/{case_number}")
def workbench(request: Request, case_number: str, who: Who, cases: Cases) -> Response:
    """Summary with evidence marked, documents, and per item the request, decision support's review
    (recommendation, guideline, criteria, decisive reason, hints) and the decision form."""
    return _case_page(request, case_number, who, cases)


def _case_page(
    request: Request,
    case_number: str,
    who: Principal,
    cases: CaseService,
    code: int = 200,
    entered: dict[int, DecisionIn] | None = None,
    problems: dict[int, str] | None = None,
) -> Response:
    """The case page; a decision refused shows again in its form (*entered*), with its problem."""
    shown = cases.workbench(who, case_number, dt.date.today())  # the case loaded once
    case, review = shown.case, shown.review
    spans = evidence_spans(review)
    return render(
        request,
        "case.html.j2",
        who,
        code,
        case=case,
        entered=entered or {},
        problems=problems or {},
        recs={i + 1: r for i, r in enumerate(review.items)} if review else {},
        review_note=shown.review_note,
        summary=highlight(case.clinical_summary, spans),
        marked=bool(marked_spans(case.clinical_summary or "", spans)),
        choices=shown.choices,
        levels=EVIDENCE_STANDARDS,
        basis_words=BASIS_WORDS,
        status_words=STATUS_WORDS,
        reason_words=reason_words,
        against=against,
        can_decide=who.can(Action.DECIDE) and case.status in BUSY,
        qualified=shown.qualified,
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
        result = cases.decide(who, case_number, position, **body.model_dump())
    except ConflictError:
        case = cases.case(who, case_number, dt.date.today())
        item = next(i for i in case.items if i.position == position)
        return render(
            request, "conflict.html.j2", who, 409, case=case, item=item, mine=body, levels=EVIDENCE_STANDARDS
        )
    except ProcessError as exc:  # e.g. a rationale shorter than a sentence: the form again, as written
        if isinstance(exc, NotFound):
            raise
        return _case_page(request, case_number, who, cases, 422, {position: body}, {position: str(exc)})
    status = label(result.status, "status").lower()
    return back(f"/cases/{case_number}", f"Item {position}: {decision} saved; the case is {status}.")


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
