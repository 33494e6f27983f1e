"""A PAS-shaped request Bundle plus the UR organization's ClaimResponse -> an IMR application.

The Bundle (``type`` collection, PAS ``profile-pas-request-bundle``) holds one Claim (``use``
preauthorization), the resources it references (Patient, Practitioner or PractitionerRole,
Organizations, Coverage), DocumentReference attachments, and the ClaimResponse in which the
utilization review organization denied, modified or pended items of that Claim. The mapping:

- application received: ``Bundle.timestamp``; UR decision date: ``ClaimResponse.created``;
  date of injury: ``Claim.accident.date``; priority: ``Claim.priority`` ``stat`` is Expedited.
- claimant: ``Patient.birthDate`` (age on the application date) and ``gender``; parties: the
  Patient (employee), ``Claim.provider`` (requesting provider, with its specialty),
  ``Claim.insurer`` (claims administrator), ``ClaimResponse.insurer`` (UR organization, when
  another), ``Coverage.policyHolder`` (employer).
- UR outcome per item: the PAS reviewAction (X12 306 code) on ``ClaimResponse.item.adjudication``;
  every item not certified in total is disputed, named by ``Claim.item.productOrService`` (its
  text or display, then its CPT/HCPCS, NDC, RxNorm codes), the UR reason as the claims
  administrator's guideline.
- clinical summary: ``Claim.supportingInfo.valueString``, then the diagnoses.
- documents: each DocumentReference attachment with inline ``data`` (one with only a ``url`` is
  not fetched), plus ``fhir-claim.json``, the Claim's identifiers and item codes for the answer.

Every problem is collected, named by its FHIRPath, before anything is stored.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from openimr.core.case import Application
from openimr.core.fhir.outcome import FhirError, Problem, path
from openimr.core.fhir.pas import (
    DRUG_SYSTEMS,
    Reader,
    answers,
    as_date,
    documents_of,
    items_of,
    parties_of,
    priority_of,
    summary_of,
)

MAX_BUNDLE_BYTES = 20 * 2**20  # the largest Bundle read (the web also holds JSON bodies to its limit)
MAX_ENTRIES = 500
MAX_DEPTH = 64  # JSON nesting
CLAIM_DOCUMENT = "fhir-claim.json"
CLAIM_DOCUMENT_TYPE = "fhir_claim"
_STATUS = ("active", "cancelled", "draft", "entered-in-error")
_USE = ("claim", "preauthorization", "predetermination")
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {  # R4 required bindings of the elements read
    "Bundle": {
        "type": ("document", "message", "transaction", "transaction-response", "batch", "batch-response",
                 "history", "searchset", "collection"),
    },
    "Claim": {"status": _STATUS, "use": _USE},
    "ClaimResponse": {"status": _STATUS, "use": _USE, "outcome": ("queued", "complete", "error", "partial")},
    "Patient": {"gender": ("male", "female", "other", "unknown")},
    "DocumentReference": {"status": ("current", "superseded", "entered-in-error")},
}  # fmt: skip


@dataclass(frozen=True)
class Submission:
    """What a Bundle asks: the application, the bytes of its documents by path, and the Claim's
    identifiers and item codes (stored with the case as :data:`CLAIM_DOCUMENT`)."""

    application: Application
    contents: dict[str, bytes]
    claim: dict[str, Any]


def _loads(raw: bytes) -> Any:
    if len(raw) > MAX_BUNDLE_BYTES:
        raise FhirError(413, [Problem("Bundle", f"larger than {MAX_BUNDLE_BYTES // 2**20} MB", "too-long")])
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FhirError(
            400,
            [Problem("Bundle", f"not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}", "structure")],
        ) from None
    except (UnicodeDecodeError, RecursionError, ValueError):
        raise FhirError(
            400, [Problem("Bundle", "not JSON (UTF-8 text, nested at most 64 deep)", "structure")]
        ) from None
    if _depth(data) > MAX_DEPTH:
        raise FhirError(400, [Problem("Bundle", f"nested more than {MAX_DEPTH} deep", "structure")])
    return data


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def _structure(data: Any) -> Bundle:
    """*data* as an R4 Bundle, or FhirError 400 naming each structural problem."""
    if not isinstance(data, dict):
        raise FhirError(400, [Problem("Bundle", "a Bundle must be a JSON object", "structure")])
    if data.get("resourceType") != "Bundle":
        found = str(data.get("resourceType"))[:40]
        raise FhirError(400, [Problem("Bundle.resourceType", f"must be Bundle, not {found!r}", "structure")])
    entries = data.get("entry")
    if isinstance(entries, list) and len(entries) > MAX_ENTRIES:
        raise FhirError(413, [Problem("Bundle.entry", f"more than {MAX_ENTRIES} entries", "too-long")])
    problems = []
    for n, entry in enumerate(entries if isinstance(entries, list) else []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(kind, str) or not _known(kind):
            problems.append(
                Problem(
                    f"Bundle.entry[{n}].resource.resourceType", f"{str(kind)[:40]!r} is no R4 resource type"
                )
            )
        elif isinstance(kind, str):
            problems += _bindings(resource, kind, f"Bundle.entry[{n}].resource")
    problems += _bindings(data, "Bundle", "Bundle")
    if problems:
        raise FhirError(400, problems)
    try:
        return Bundle.model_validate(data)
    except ValidationError as exc:
        raise FhirError(
            400, [Problem(path(e["loc"]), e["msg"][:300], "structure") for e in exc.errors()]
        ) from None


def _bindings(resource: dict, kind: str, where: str) -> list[Problem]:
    """The codes of the elements read here that R4 binds to a required value set, checked (the
    models check their type, not their value set)."""
    return [
        Problem(
            f"{where}.{element}",
            f"{str(resource[element])[:40]!r} is not one of {', '.join(codes)}",
            "code-invalid",
        )
        for element, codes in REQUIRED.get(kind, {}).items()
        if element in resource and resource[element] not in codes
    ]


def _known(kind: str) -> bool:
    try:
        get_fhir_model_class(kind)
    except (KeyError, ValueError, AttributeError, ImportError):
        return False
    return kind != "Bundle"


def read_bundle(raw: bytes, today: dt.date) -> Submission:
    """The IMR application a PAS request Bundle (JSON bytes) asks for, or :class:`FhirError`: 400
    for what is not an R4 Bundle, 422 for one that lacks what an IMR case needs, 413 when too big."""
    bundle = _structure(_loads(raw))
    r = Reader(bundle)
    if bundle.type != "collection":
        r.problem("Bundle.type", f"a PAS request Bundle is a collection, not {bundle.type!r}", "value")
    if bundle.timestamp is None:
        r.problem("Bundle.timestamp", "required: when the application was sent (the IMR application date)")
    claims = r.of_type("Claim")
    if len(claims) != 1:
        r.problem("Bundle.entry", f"one Claim is required, found {len(claims)}")
        raise FhirError(422, r.problems)
    c_n, claim = claims[0]
    cpath = r.at(c_n)
    claim_url = bundle.entry[c_n].fullUrl and str(bundle.entry[c_n].fullUrl)
    if claim.use != "preauthorization":
        r.problem(f"{cpath}.use", f"must be preauthorization, not {claim.use!r}", "value")
    responses = r.of_type("ClaimResponse")
    mine = [(n, cr) for n, cr in responses if answers(claim, claim_url, cr)]
    if not mine:
        for n, _ in responses:
            r.problem(f"{r.at(n)}.request", "this ClaimResponse is for another Claim", "business-rule")
        r.problem("Bundle.entry", "no ClaimResponse of the UR organization for the Claim")
        raise FhirError(422, r.problems)
    if len(mine) > 1:
        r.problem(f"{r.at(mine[1][0])}", "more than one ClaimResponse for the Claim", "business-rule")
    r_n, response = mine[0]
    rpath = r.at(r_n)
    received = as_date(bundle.timestamp)
    ur_date = as_date(response.created)
    if ur_date is None:
        r.problem(f"{rpath}.created", "required: the date of the UR decision")
    injury = as_date(claim.accident.date) if claim.accident else None
    for where, day in (
        (f"{rpath}.created", ur_date),
        ("Bundle.timestamp", received),
        (f"{cpath}.accident.date", injury),
    ):
        if day and day > today:
            r.problem(where, f"{day} is in the future", "value")
    if received and ur_date and ur_date > received:
        r.problem(
            f"{rpath}.created", f"the UR decision ({ur_date}) is after the application ({received})", "value"
        )
    if injury and ur_date and injury > ur_date:
        r.problem(
            f"{cpath}.accident.date", f"the injury ({injury}) is after the UR decision ({ur_date})", "value"
        )

    patient = r.resolve(claim.patient)
    if patient is None or patient[1].get_resource_type() != "Patient":
        r.problem(f"{cpath}.patient", "must reference a Patient in the Bundle")
    items, ur_items, codes = items_of(r, claim, cpath, response, rpath)
    parties, specialty = parties_of(r, claim, cpath, response, patient)
    summary = summary_of(claim)
    if not summary:
        r.problem(
            f"{cpath}.supportingInfo", "no clinical summary: a supportingInfo valueString or a diagnosis"
        )
    documents, contents = documents_of(r, received or today)
    claimant: dict[str, Any] = {}
    if patient and patient[1].get_resource_type() == "Patient":
        p = patient[1]
        if p.birthDate and received:
            born = p.birthDate if isinstance(p.birthDate, dt.date) else None
            if born and born > (injury or received):
                r.problem(
                    f"{r.at(patient[0])}.birthDate", f"{born} is after the injury or application", "value"
                )
            elif born:
                claimant["age"] = (
                    received.year - born.year - ((received.month, received.day) < (born.month, born.day))
                )
        if p.gender in ("male", "female"):
            claimant["sex"] = p.gender
    if r.problems:
        raise FhirError(422, r.problems)
    stub = {
        "bundle": {
            "system": bundle.identifier and bundle.identifier.system,
            "value": bundle.identifier and bundle.identifier.value,
        },
        "claim": {
            "id": claim.id,
            "fullUrl": claim_url,
            "identifier": [i.model_dump(mode="json") for i in claim.identifier or []],
        },
        "patient": [i.model_dump(mode="json") for i in (patient[1].identifier or [])] if patient else [],
        "items": codes,
    }
    stub_bytes = json.dumps(stub, sort_keys=True).encode()
    contents[CLAIM_DOCUMENT] = stub_bytes
    documents.append({"path": CLAIM_DOCUMENT, "type": CLAIM_DOCUMENT_TYPE, "received": str(received)})
    drugs = [c for c in codes if c["disputed"]]
    fields = {
        "priority": "Expedited" if priority_of(claim) == "stat" else "Standard",
        "formulary_dispute": bool(drugs) and all(DRUG_SYSTEMS & {s for s, _ in c["codes"]} for c in drugs),
        "application_received": str(received),
        "date_of_injury": injury and str(injury),
        "ur_decision_date": str(ur_date),
        "ur_items": ur_items,
        "claimant": claimant,
        "condition_specialty": specialty,
        "parties": parties,
        "clinical_summary": summary,
        "disputed_items": items,
        "documents": documents,
    }
    try:
        application = Application.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        origin = {
            "disputed_items": f"{cpath}.item",
            "ur_items": f"{rpath}.item",
            "clinical_summary": f"{cpath}.supportingInfo",
            "parties": "Bundle.entry",
            "claimant": f"{cpath}.patient",
            "documents": "Bundle.entry",
            "condition_specialty": f"{cpath}.provider",
        }
        problems = [
            Problem(
                origin.get(str(e["loc"][0]), "Bundle") if e["loc"] else "Bundle",
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}",
                "value",
            )
            for e in exc.errors()
        ]
        raise FhirError(422, problems) from None
    return Submission(application, contents, stub)
