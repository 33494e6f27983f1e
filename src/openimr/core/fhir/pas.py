"""Reading the parts of a PAS request Bundle: references, names, codes, the UR's review actions,
the disputed items, the parties, the clinical summary and the attached documents. Each reader
records what is missing or wrong on the :class:`Reader`, named by its FHIRPath."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from openimr.core.fhir.outcome import Problem

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
REVIEW_ACTION = PAS + "extension-reviewAction"
REVIEW_ACTION_CODE = PAS + "extension-reviewActionCode"
X12_306 = "https://codesystem.x12.org/005010/306"
# X12 306 (HCR01 Action Code, the value set PAS binds reviewActionCode to) -> the UR outcome IMR
# knows; any other code (C cancelled, CT contact payer, NA no action) is refused. The codes' names
# (A1 certified in total, A2 certified partial, A3 not certified, A4 pended, A6 modified) are from
# a secondary source (signaledi.com/pa-resources/x12-278/hcr-action-codes), not the licensed TR3.
UR_OUTCOMES = {"A1": "approved", "A2": "modified", "A3": "denied", "A4": "delayed", "A6": "modified"}
CODE_SYSTEMS = {  # a coding system -> how an item's text names it
    "http://www.ama-assn.org/go/cpt": "CPT",
    "urn:oid:2.16.840.1.113883.6.285": "HCPCS",
    "https://bluebutton.cms.gov/resources/codesystem/hcpcs": "HCPCS",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "HCPCS",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
}
DRUG_SYSTEMS = {"NDC", "RxNorm"}


class Reader:
    """One Bundle being read: its resources by reference, and the problems found so far."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.problems: list[Problem] = []
        self.by_ref: dict[str, tuple[int, Any]] = {}
        for n, entry in enumerate(bundle.entry or []):
            res = entry.resource
            if entry.fullUrl:
                self.by_ref[str(entry.fullUrl)] = (n, res)
            if res.id:
                self.by_ref[f"{res.get_resource_type()}/{res.id}"] = (n, res)

    def at(self, n: int) -> str:
        return f"Bundle.entry[{n}].resource"

    def problem(self, where: str, message: str, code: str = "required") -> None:
        self.problems.append(Problem(where, message, code))

    def of_type(self, kind: str) -> list[tuple[int, Any]]:
        return [
            (n, e.resource)
            for n, e in enumerate(self.bundle.entry or [])
            if e.resource.get_resource_type() == kind
        ]

    def resolve(self, ref: Any) -> tuple[int, Any] | None:
        """The entry a Reference points to (relative, absolute ending in Type/id, or urn:uuid)."""
        target = getattr(ref, "reference", None)
        if not target:
            return None
        if target in self.by_ref:
            return self.by_ref[target]
        tail = "/".join(str(target).rstrip("/").split("/")[-2:])
        return self.by_ref.get(tail)


def name_of(res: Any) -> str | None:
    """A person's or organization's name as one line."""
    name = getattr(res, "name", None)
    if isinstance(name, str):
        return name.strip() or None
    for human in name or []:
        if human.text:
            return human.text.strip()
        words = [*(human.prefix or []), *(human.given or []), human.family or "", *(human.suffix or [])]
        joined = " ".join(w for w in words if w).strip()
        if joined:
            return joined
    return None


def concept_text(concept: Any) -> str | None:
    if concept is None:
        return None
    if concept.text:
        return concept.text.strip()
    return next((c.display.strip() for c in concept.coding or [] if c.display), None)


def codes_of(concept: Any) -> list[tuple[str, str]]:
    """(system name, code) of each coding of a known system (CPT, HCPCS, NDC, RxNorm)."""
    return [
        (CODE_SYSTEMS[str(c.system)], c.code)
        for c in (concept.coding if concept else None) or []
        if c.code and str(c.system) in CODE_SYSTEMS
    ]


def review_action(adjudication: Any) -> str | None:
    """The X12 306 code of an adjudication's PAS reviewAction (or bare reviewActionCode)."""
    for ext in adjudication.extension or []:
        inner = [ext] if str(ext.url) == REVIEW_ACTION_CODE else ext.extension or []
        for sub in inner if str(ext.url) in (REVIEW_ACTION, REVIEW_ACTION_CODE) else []:
            if str(sub.url).endswith("reviewActionCode") and sub.valueCodeableConcept:
                return next((c.code for c in sub.valueCodeableConcept.coding or [] if c.code), None)
    return None


def answers(claim: Any, claim_url: str | None, response: Any) -> bool:
    """Whether *response* is for *claim*: by reference, or by the Claim's identifier."""
    req = response.request
    if req is None:
        return False
    if req.reference:
        ref = str(req.reference)
        return ref == claim_url or (claim.id is not None and ref.rstrip("/").endswith(f"Claim/{claim.id}"))
    ident = req.identifier
    return ident is not None and any(
        i.value == ident.value and (i.system == ident.system or not ident.system)
        for i in claim.identifier or []
    )


def as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value if isinstance(value, dt.date) else None


def _filename_of(title: str | None, kind: str | None, n: int) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", (title or "").strip())[:80].strip("._") or "document"
    ext = {"application/pdf": ".pdf", "text/plain": ".txt"}.get(kind or "", "")
    if ext and not stem.lower().endswith(ext):
        stem += ext
    return f"{n:02d}-{stem}"


def priority_of(claim: Any) -> str | None:
    return next((c.code for c in (claim.priority.coding if claim.priority else None) or [] if c.code), None)


def items_of(r: Reader, claim: Any, cpath: str, response: Any, rpath: str) -> tuple[list, list, list]:
    """Disputed items, UR items and each Claim item's codes (for the answer), from the ClaimResponse."""
    by_seq = {it.sequence: (j, it) for j, it in enumerate(claim.item or [])}
    outcomes: dict[int, tuple[str, str | None]] = {}
    for k, answer in enumerate(response.item or []):
        where = f"{rpath}.item[{k}]"
        if answer.itemSequence not in by_seq:
            r.problem(
                f"{where}.itemSequence", f"no Claim.item has sequence {answer.itemSequence}", "business-rule"
            )
            continue
        actions = [(review_action(a), a) for a in answer.adjudication or []]
        found = [(code, a) for code, a in actions if code]
        if not found:
            r.problem(f"{where}.adjudication", "no PAS reviewAction (X12 306 code) says what UR decided")
            continue
        code, adjudication = found[0]
        if code not in UR_OUTCOMES:
            r.problem(
                f"{where}.adjudication",
                f"reviewAction {code!r} is no UR outcome IMR reviews (A1, A2, A3, A4, A6)",
                "value",
            )
            continue
        reason = concept_text(adjudication.reason)
        outcomes[answer.itemSequence] = (UR_OUTCOMES[code], reason)
    if not response.item:
        r.problem(f"{rpath}.item", "the ClaimResponse decides no item")
    disputed, ur_items, codes = [], [], []
    for seq, (j, it) in sorted(by_seq.items()):
        label = concept_text(it.productOrService)
        found = codes_of(it.productOrService)
        if not label and not found and seq in outcomes:
            r.problem(
                f"{cpath}.item[{j}].productOrService",
                "names no service: text, display or a CPT/HCPCS/NDC/RxNorm code",
            )
            continue
        text = label or ", ".join(f"{s} {c}" for s, c in found)
        if label and found:
            text += " (" + "; ".join(f"{s} {c}" for s, c in found) + ")"
        if it.quantity is not None and it.quantity.value is not None and it.quantity.value != 1:
            text += f", quantity {it.quantity.value:g}"
        outcome, reason = outcomes.get(seq, (None, None))
        is_disputed = outcome in ("denied", "modified", "delayed")
        codes.append(
            {"sequence": seq, "text": text, "codes": [[s, c] for s, c in found], "disputed": is_disputed}
        )
        if outcome:
            ur_items.append({"item": text, "outcome": outcome})
        if is_disputed:
            item = {"item": text}
            if reason:
                item["claims_administrator_guideline"] = reason
            disputed.append(item)
    if outcomes and not disputed:
        r.problem(
            f"{rpath}.item",
            "no item was denied, modified or pended: there is nothing for IMR to review",
            "business-rule",
        )
    return disputed, ur_items, codes


def parties_of(
    r: Reader, claim: Any, cpath: str, response: Any, patient: tuple[int, Any] | None
) -> tuple[list, str | None]:
    parties: list[dict[str, Any]] = []
    specialty = None

    def add(role: str, res: Any, spec: str | None = None) -> None:
        name = name_of(res)
        if name and not any(p["role"] == role and p["name"] == name for p in parties):
            parties.append({"role": role, "name": name, **({"specialty": spec} if spec else {})})

    if patient and patient[1].get_resource_type() == "Patient":
        add("employee", patient[1])
    provider = r.resolve(claim.provider)
    if provider is None:
        r.problem(
            f"{cpath}.provider",
            "must reference a Practitioner, PractitionerRole or Organization in the Bundle",
        )
    else:
        res = provider[1]
        if res.get_resource_type() == "PractitionerRole":
            specialty = next((t for t in (concept_text(s) for s in res.specialty or []) if t), None)
            person = r.resolve(res.practitioner)
            res = person[1] if person else res
        if res.get_resource_type() == "Practitioner" and specialty is None:
            specialty = next((t for t in (concept_text(q.code) for q in res.qualification or []) if t), None)
        add("requesting_provider", res, specialty)
    insurer = r.resolve(claim.insurer)
    if insurer:
        add("claims_administrator", insurer[1])
    ur = r.resolve(response.insurer)
    if ur and (not insurer or name_of(ur[1]) != name_of(insurer[1])):
        add("ur_organization", ur[1])
    for insurance in claim.insurance or []:
        coverage = r.resolve(insurance.coverage)
        if coverage and coverage[1].get_resource_type() == "Coverage":
            holder = r.resolve(coverage[1].policyHolder)
            if holder and holder[1].get_resource_type() == "Organization":
                add("employer", holder[1])
    return parties, specialty


def summary_of(claim: Any) -> str:
    parts = [
        str(s.valueString).strip()
        for s in claim.supportingInfo or []
        if s.valueString and str(s.valueString).strip()
    ]
    diagnoses = []
    for d in claim.diagnosis or []:
        concept = d.diagnosisCodeableConcept
        if concept:
            code = next((c.code for c in concept.coding or [] if c.code), None)
            words = concept_text(concept)
            diagnoses.append(" ".join(x for x in (code, words) if x))
    if diagnoses:
        parts.append("Diagnoses: " + "; ".join(d for d in diagnoses if d) + ".")
    return "\n\n".join(parts)


def documents_of(r: Reader, received: dt.date) -> tuple[list, dict[str, bytes]]:
    documents, contents = [], {}
    for n, doc in r.of_type("DocumentReference"):
        for content in doc.content or []:
            att = content.attachment
            if att is None or att.data is None:
                continue
            data = att.data if isinstance(att.data, bytes) else base64.b64decode(att.data)
            name = _filename_of(att.title or doc.description, att.contentType, len(documents) + 1)
            kind = (concept_text(doc.type) or "medical_records")[:40]
            day = as_date(doc.date) or received
            if day > received:
                r.problem(f"{r.at(n)}.date", f"{day} is after the application", "value")
            documents.append({"path": name, "type": kind, "received": str(min(day, received))})
            contents[name] = data
    return documents, contents
