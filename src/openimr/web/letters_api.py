"""The API's letters: issue a case's Final Determination, read it (its record, HTML and tagged PDF,
as sent to the parties or in the published form) and an ineligible case's notice (on the API's
router, :data:`openimr.web.api.router`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from openimr.core.models import Letter
from openimr.services.options import LetterForm
from openimr.web.api import LETTER_CSP, CaseNumber, Cases, Who, _attachment, _today, router

# A letter's or notice's document, as the API describes it.
HTML = {200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "HTML"}}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
PDF = {200: {"content": {"application/pdf": _BINARY}, "description": "PDF"}}


def letter_response(body: str | bytes, name: str = "") -> Response:
    """A letter or notice: its HTML (text) under the letters' own policy (their inline styles, no
    script), or its PDF (bytes) downloaded as *name*."""
    if isinstance(body, str):
        return Response(body, media_type="text/html", headers={"Content-Security-Policy": LETTER_CSP})
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": _attachment(name)})


Form = Annotated[
    LetterForm,
    Query(
        description="sent: the letter the parties receive (letterhead, addressees, appeal rights, "
        "signature); published: the redacted form of the published letters, which parses back."
    ),
]


@router.post("/cases/{case_number}/letter", response_model=Letter, tags=["letters"])
def issue_letter(case_number: CaseNumber, who: Who, cases: Cases) -> Letter:
    """Issue the Final Determination letter (frozen from then on); again: the same letter."""
    return cases.issue(who, case_number, _today())[0]


@router.get("/cases/{case_number}/letter", response_model=Letter, tags=["letters"])
def read_letter(case_number: CaseNumber, who: Who, cases: Cases) -> Letter:
    """The issued letter's record, else a draft from the decisions so far."""
    return cases.letter(who, case_number, _today())[0]


@router.get(
    "/cases/{case_number}/letter.html",
    response_class=Response,
    responses=HTML,
    tags=["letters"],
)
def letter_html(case_number: CaseNumber, who: Who, cases: Cases, form: Form = "sent") -> Response:
    """The letter as HTML (a draft until issued): as sent to the parties, or in the published form."""
    return letter_response(cases.rendered(who, case_number, "html", _today(), form))


@router.get(
    "/cases/{case_number}/letter.pdf",
    response_class=Response,
    responses=PDF,
    tags=["letters"],
)
def letter_pdf(case_number: CaseNumber, who: Who, cases: Cases, form: Form = "sent") -> Response:
    """The issued letter as a tagged PDF: as sent to the parties, or in the published form."""
    return letter_response(cases.rendered(who, case_number, "pdf", _today(), form), f"{case_number}.pdf")


@router.get(
    "/cases/{case_number}/notice.html",
    response_class=Response,
    responses=HTML,
    tags=["letters"],
)
def notice_html(case_number: CaseNumber, who: Who, cases: Cases) -> Response:
    """The ineligibility notice of an ineligible case, as the letter the parties receive."""
    return letter_response(cases.notice_letter(who, case_number, "html"))


@router.get(
    "/cases/{case_number}/notice.pdf",
    response_class=Response,
    responses=PDF,
    tags=["letters"],
)
def notice_pdf(case_number: CaseNumber, who: Who, cases: Cases) -> Response:
    """The ineligibility notice of an ineligible case as a tagged PDF."""
    return letter_response(cases.notice_letter(who, case_number, "pdf"), f"{case_number}-notice.pdf")
