"""People's words for the codes the system stores: case statuses, request categories, drug classes,
audit actions and fields, and the values an audit entry logged.

The one place these labels live; the web pages reach them through one Jinja filter each
(``label``, ``logged``, ``group_label``), and anything else that shows a code to a person calls :func:`label`.
A code with no entry of its own reads as its words in sentence case ("home_health" → "Home
health"), with the abbreviations people write in capitals ("ur_items" → "UR items").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATUSES = {
    "received": "Received",
    "eligibility": "Eligibility check",
    "records_requested": "Records requested",
    "assigned": "Assigned",
    "in_review": "In review",
    "decided": "Decided",
    "letter_issued": "Letter issued",
    "ineligible": "Ineligible",
    "withdrawn": "Withdrawn",
}
CATEGORIES = {
    "drug": "Medication",
    "physical_therapy": "Physical therapy",
    "occupational_therapy": "Occupational therapy",
    "dme": "Durable medical equipment",
    "diagnostic_test": "Diagnostic test",
    "lab": "Laboratory test",
    "consultation": "Consultation or referral",
    "psychological": "Psychological treatment",
    "program": "Treatment program",
    "facility": "Facility stay",
    "home_health": "Home health care",
    "evaluation": "Evaluation",
    "other": "Other",
}
DRUG_CLASSES = {
    "nsaid": "NSAID",
    "nmda": "NMDA antagonist",
    "h": "H2 blocker",
    "proton": "Proton pump inhibitor",
}
ACTIONS = {
    "create": "Created",
    "transition": "Status changed",
    "eligibility": "Eligibility checked",
    "decide": "Decided",
    "issue": "Issued",
    "withdraw": "Withdrawn",
    "reassign": "Reassigned",
    "upload": "Uploaded",
    "signed_in": "Signed in",
    "signed_out": "Signed out",
    "read": "Read",
    "denied": "Refused",
    "update": "Changed",
    "delete": "Deleted",
}
ENTITIES = {
    "case_tally": "Case counts",
    "case_list": "Case list",
    "sign_in": "Sign-in",
    "recommendations": "Decision support",
    "access": "Access",
}
FIELDS = {
    "sha256": "SHA-256 fingerprint",
    "via": "Signed in through",
    "why": "Why",
    "wanted": "Asked to",
}
LABELS: dict[str, Mapping[str, str]] = {
    "status": STATUSES,
    "category": CATEGORIES,
    "drug_class": DRUG_CLASSES,
    "action": ACTIONS,
    "entity": ENTITIES,
    "field": FIELDS,
}
# The statistics groupings (``By`` values) whose group names are codes, and their kind of label.
GROUPINGS = {"category": "category", "drug-class": "drug_class"}
# Abbreviations written in capitals wherever they stand in a code.
CAPITALS = {"ur": "UR", "imr": "IMR", "id": "ID", "mtus": "MTUS", "pdf": "PDF", "csv": "CSV", "dme": "DME"}


def words(code: str) -> str:
    """*code* ("ur_decision_date") as words in sentence case ("UR decision date")."""
    parts = [CAPITALS.get(p, p) for p in code.split("_") if p]
    if not parts:
        return code
    first = parts[0]
    return " ".join([first if first.isupper() else first[:1].upper() + first[1:], *parts[1:]])


def label(code: Any, kind: str) -> str:
    """The label of *code* among the *kind* of codes ("status", "category", "drug_class", "action",
    "field"), else its words; None reads as an empty string."""
    if code is None:
        return ""
    text = str(getattr(code, "value", code))
    return LABELS[kind].get(text) or words(text)


def group_label(name: str, grouping: str) -> str:
    """A statistics group's *name* as people read it: the groupings by a code (category, drug
    class) by its label, the others (family, specialty, year) as they are."""
    kind = GROUPINGS.get(grouping)
    return label(name, kind) if kind else name


def _number(value: float) -> str:
    return f"{round(value, 2):g}"


def logged(value: Any, field: str = "") -> str:
    """A value an audit entry logged, as text a person reads: a mapping as "Age: 38; Sex: male",
    a list as its values joined, yes/no for a flag, a status or category by its label."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return label(value, field) if field in ("status", "category") else value
    if isinstance(value, Mapping):
        return "; ".join(
            f"{label(k, 'field')}: {_nested(v, str(k))}"
            for k, v in value.items()
            if v not in (None, "", [], {})
        )
    if isinstance(value, list | tuple):
        if any(isinstance(v, Mapping) for v in value):
            return " ".join(f"({n}) {logged(v, field)}" for n, v in enumerate(value, 1))
        return ", ".join(logged(v, field) for v in value)
    return str(value)


def _nested(value: Any, field: str) -> str:
    """A value within a mapping: a mapping or list of mappings in brackets, so its parts stay its own."""
    text = logged(value, field)
    return f"({text})" if isinstance(value, Mapping) else text
