"""FHIR in and out through the one case service: a PAS request Bundle becomes a case
(:meth:`CaseService.create_case`), an issued determination becomes a ClaimResponse Bundle (read
with the same permission checks, redaction and audit as the letter and the documents)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from openimr.core.fhir import determination as out
from openimr.core.fhir.intake import CLAIM_DOCUMENT_TYPE, read_bundle
from openimr.core.fhir.outcome import FhirError, Problem
from openimr.core.letters.layout import DEFAULT_ORGANIZATION
from openimr.core.roles import Action, Principal
from openimr.services.cases import CaseService, ConflictError, NotFound

RETRIES = 3
_CASE = re.compile(r"^(?:.*/)?(?:Claim/)?(CM\d{2}-\d{7})$")


@dataclass(frozen=True)
class Submitted:
    """A Bundle taken in: its case, whether it is new, and the acknowledging ClaimResponse."""

    case_number: str
    created: bool
    status: str
    response: dict[str, Any]


def submit(
    cases: CaseService, who: Principal, raw: bytes, today: dt.date, org: str = DEFAULT_ORGANIZATION
) -> Submitted:
    """Take a PAS request Bundle (JSON bytes) in as an IMR case; the same Bundle again is the same
    case (``created`` false). :class:`FhirError` for a Bundle that cannot be a case: nothing stored."""
    cases.require(who, Action.CREATE_CASE, None, "fhir")  # a refusal comes before the body is judged
    sub = read_bundle(raw, today)
    for attempt in range(RETRIES + 1):
        try:
            made = cases.create_case(who, sub.application, sub.contents)
            break
        except IntegrityError:
            # Another transaction took the case number first (the same Bundle sent twice at once,
            # or another case): again, the same Bundle is found, another gets the next number.
            if attempt == RETRIES:
                raise ConflictError("the case could not be taken in: try again") from None
    items = [i.item for i in sub.application.disputed_items]
    response = out.acknowledgement(made.case_number, made.status, items, sub.claim, today, org)
    return Submitted(made.case_number, made.created, made.status, response)


def case_number(request: str) -> str:
    """The case a ClaimResponse search's ``request`` names: ``Claim/CM26-0000001``, a full URL
    ending so, or the bare case number."""
    found = _CASE.match(request.strip())
    if not found:
        raise FhirError(
            400,
            [
                Problem(
                    "ClaimResponse.request",
                    "name the Claim as Claim/CMyy-nnnnnnn (the IMR case number)",
                    "value",
                )
            ],
        )
    return found.group(1)


def _stub(cases: CaseService, who: Principal, number: str) -> dict[str, Any] | None:
    """The Claim's identifiers and item codes stored at intake, for a reader of the documents."""
    if not who.can(Action.READ_DOCUMENT):
        return None
    doc = next((d for d in cases.documents(who, number) if d.doc_type == CLAIM_DOCUMENT_TYPE), None)
    if doc is None:
        return None
    _, _, content = cases.document(who, number, doc.id)
    try:
        return json.loads(content)
    except ValueError:
        return None


def claim_response(
    cases: CaseService,
    who: Principal,
    request: str,
    today: dt.date,
    base: str,
    org: str = DEFAULT_ORGANIZATION,
) -> dict[str, Any]:
    """The issued determination of the case *request* names, as a searchset Bundle
    (:func:`openimr.core.fhir.determination.determination`); read like the letter (``READ_LETTER``,
    a reviewer's own cases only, audited). A case without an issued letter is :class:`NotFound`."""
    number = case_number(request)
    letter, issued = cases.letter(who, number, today)
    if not issued:
        raise NotFound(f"case {number} has no issued Final Determination yet")
    pdf = cases.rendered(who, number, "pdf", today)
    pdf = pdf if isinstance(pdf, bytes) else pdf.encode()
    private = who.can(Action.SEE_CLAIMANT)
    return out.determination(letter, pdf, _stub(cases, who, number), org, private, base)
