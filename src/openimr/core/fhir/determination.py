"""An IMR case as FHIR resources going out: the ClaimResponse that acknowledges a submission, and
for an issued Final Determination the ClaimResponse (one adjudication per item), the letter as a
DocumentReference (the PDF inline) and a Provenance naming the review organization and the
reviewer's qualifications (never the reviewer).

Each item's adjudication carries the PAS reviewAction (X12 306: ``A1`` certified in total for an
Overturned UR decision, ``A3`` not certified for an Upheld one, ``A4`` pended while the review
runs), a coded reason from :data:`DETERMINATION` with the reviewer's rationale as its text, and a
note giving the guideline the reviewer applied.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.provenance import Provenance

from openimr.core.fhir.pas import REVIEW_ACTION, REVIEW_ACTION_CODE, X12_306
from openimr.core.models import Letter

DETERMINATION = "https://openimr.org/fhir/CodeSystem/imr-determination"
CASE_SYSTEM = "https://openimr.org/fhir/sid/imr-case"
ORGANIZATION_ID = "imro"
_ACTION = {"Overturned": "A1", "Upheld": "A3", None: "A4"}
_MEANING = {
    "Overturned": "Overturned: the UR decision is reversed; the treatment is medically necessary",
    "Upheld": "Upheld: the UR decision stands; the treatment is not medically necessary",
}
_CLAIM_TYPE = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]
}


def _adjudication(decision: str | None, rationale: str | None) -> dict[str, Any]:
    adj: dict[str, Any] = {
        "extension": [
            {
                "url": REVIEW_ACTION,
                "extension": [
                    {
                        "url": REVIEW_ACTION_CODE,
                        "valueCodeableConcept": {"coding": [{"system": X12_306, "code": _ACTION[decision]}]},
                    }
                ],
            }
        ],
        "category": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}]
        },
    }
    if decision:
        coding = {"system": DETERMINATION, "code": decision.lower(), "display": _MEANING[decision]}
        adj["reason"] = {"coding": [coding], "text": rationale or _MEANING[decision]}
    return adj


def _sequences(stub: dict[str, Any] | None, texts: list[str]) -> list[int]:
    """Each item's Claim.item.sequence (by its text, from the stored Claim), else its position."""
    known = {i["text"]: i["sequence"] for i in (stub or {}).get("items", [])}
    return [known.get(text, n) for n, text in enumerate(texts, 1)]


def _request(number: str, stub: dict[str, Any] | None) -> dict[str, Any]:
    ref: dict[str, Any] = {"reference": f"Claim/{number}"}
    ids = ((stub or {}).get("claim") or {}).get("identifier") or []
    if ids:
        ref["identifier"] = {k: v for k, v in ids[0].items() if k in ("system", "value")}
    return ref


def _patient(number: str, stub: dict[str, Any] | None, private: bool) -> dict[str, Any]:
    """The claimant: by the submitted Patient's identifier for a reader who may see claimant
    details, else only as the case's injured worker."""
    ref: dict[str, Any] = {"display": f"Injured worker of IMR case {number}"}
    ids = (stub or {}).get("patient") or []
    if private and ids:
        ref["identifier"] = {k: v for k, v in ids[0].items() if k in ("system", "value")}
    return ref


def organization(name: str) -> dict[str, Any]:
    """The review organization as an Organization resource."""
    return Organization.model_validate(
        {"id": ORGANIZATION_ID, "name": name, "type": [{"text": "Independent Review Organization"}]}
    ).model_dump(mode="json")


def acknowledgement(
    number: str, status: str, items: list[str], stub: dict[str, Any] | None, created: dt.date, org: str
) -> dict[str, Any]:
    """The ClaimResponse answering a submission: the IMR case number as ``preAuthRef``, each
    disputed item pended (``A4``) while the case is open; an ineligible case is complete with
    no item, its disposition saying so."""
    ineligible = status == "ineligible"
    resource = {
        "id": number,
        "identifier": [{"system": CASE_SYSTEM, "value": number}],
        "status": "active",
        "type": _CLAIM_TYPE,
        "use": "preauthorization",
        "patient": _patient(number, stub, False),
        "created": created.isoformat(),
        "insurer": {"reference": f"Organization/{ORGANIZATION_ID}", "display": org},
        "request": _request(number, stub),
        "outcome": "complete" if ineligible else "queued",
        "disposition": (
            f"IMR case {number} is not eligible for review; a notice of the reasons follows."
            if ineligible
            else f"IMR case {number} received ({status.replace('_', ' ')}); the determination follows."
        ),
        "preAuthRef": number,
    }
    if not ineligible:
        resource["item"] = [
            {"itemSequence": seq, "adjudication": [_adjudication(None, None)]}
            for seq in _sequences(stub, items)
        ]
    return ClaimResponse.model_validate(resource).model_dump(mode="json")


def determination(
    letter: Letter, pdf: bytes, stub: dict[str, Any] | None, org: str, private: bool, base: str
) -> dict[str, Any]:
    """The issued determination as a searchset Bundle: ClaimResponse, DocumentReference (the PDF),
    Provenance and the Organization they name."""
    number = letter.case_number or letter.file
    decided = letter.decision_date or dt.date.today()
    at = dt.datetime.combine(decided, dt.time(), dt.UTC).isoformat()
    org_ref = {"reference": f"Organization/{ORGANIZATION_ID}", "display": org}
    issues = letter.issues
    overturned = sum(i.decision == "Overturned" for i in issues)
    patient = _patient(number, stub, private)
    response = ClaimResponse.model_validate(
        {
            "id": number,
            "identifier": [{"system": CASE_SYSTEM, "value": number}],
            "status": "active",
            "type": _CLAIM_TYPE,
            "use": "preauthorization",
            "patient": patient,
            "created": at,
            "insurer": org_ref,
            "request": _request(number, stub),
            "outcome": "complete",
            "disposition": (
                f"Final Determination of IMR case {number}: {overturned} of {len(issues)} item(s) overturned "
                f"(medically necessary), {len(issues) - overturned} upheld."
            ),
            "preAuthRef": number,
            "item": [
                {
                    "itemSequence": seq,
                    "noteNumber": [n],
                    "adjudication": [_adjudication(i.decision, i.rationale)],
                }
                for n, (seq, i) in enumerate(
                    zip(_sequences(stub, [i.item for i in issues]), issues, strict=True), 1
                )
            ],
            "processNote": [
                {
                    "number": n,
                    "type": "display",
                    "text": f"{i.item}: {i.decision}. Guideline: {i.imro_guideline or 'not stated'}",
                }
                for n, i in enumerate(issues, 1)
            ],
        }
    )
    document = DocumentReference.model_validate(
        {
            "id": f"{number}-letter",
            "status": "current",
            "docStatus": "final",
            "type": {"text": "IMR Final Determination letter"},
            "subject": patient,
            "date": at,
            "author": [org_ref],
            "description": f"Final Determination letter of IMR case {number}",
            "content": [
                {
                    "attachment": {
                        "contentType": "application/pdf",
                        "data": base64.b64encode(pdf).decode(),
                        "title": f"{number}.pdf",
                        "size": len(pdf),
                        "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode(),  # FHIR: SHA-1
                    }
                }
            ],
            "context": {"related": [{"reference": f"ClaimResponse/{number}"}]},
        }
    )
    qualifications = [
        {"code": {"text": f"Licensed to practise in {s}"}} for s in letter.reviewer.license_states
    ]
    qualifications += [{"code": {"text": f"Specialty: {s}"}} for s in letter.reviewer.specialties]
    provenance = Provenance.model_validate(
        {
            "id": f"{number}-provenance",
            "contained": [
                {"resourceType": "Practitioner", "id": "reviewer", "qualification": qualifications or None}
            ],
            "target": [
                {"reference": f"ClaimResponse/{number}"},
                {"reference": f"DocumentReference/{number}-letter"},
            ],
            "recorded": at,
            "activity": {"text": "Independent Medical Review Final Determination"},
            "agent": [
                {
                    "type": {"coding": [{"system": _PARTICIPANT, "code": "author"}]},
                    "who": org_ref,
                },
                {
                    "type": {"coding": [{"system": _PARTICIPANT, "code": "verifier"}]},
                    "role": [{"text": "Expert reviewer (named only by qualifications)"}],
                    "who": {"reference": "#reviewer", "display": "Expert reviewer"},
                    "onBehalfOf": org_ref,
                },
            ],
        }
    )
    entries = [
        (response, "match"),
        (document, "include"),
        (provenance, "include"),
        (Organization.model_validate(organization(org)), "include"),
    ]
    return Bundle.model_validate(
        {
            "type": "searchset",
            "total": 1,
            "entry": [
                {
                    "fullUrl": f"{base}/{r.get_resource_type()}/{r.id}",
                    "resource": r.model_dump(mode="json"),
                    "search": {"mode": mode},
                }
                for r, mode in entries
            ],
        }
    ).model_dump(mode="json")


_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
