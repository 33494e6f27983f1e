"""Intake: the form that takes a case in, each problem said beside its field in the form's words."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from openimr.core import bounds as b
from openimr.core import labels
from openimr.core.case import Application
from openimr.core.process.data import load as load_process
from openimr.core.roles import Action, Principal
from openimr.core.validation import PARTY_ROLES, Problem, plain
from openimr.services.documents import NotADocument, media_type
from openimr.services.schemas import CaseCreated
from openimr.web.api import MAX_UPLOAD
from openimr.web.base import (
    Cases,
    Poster,
    Who,
    back,
    render,
    router,
)
from openimr.web.errors import TooLarge

# Intake ---------------------------------------------------------------------------------------

PARTIES = ("employer", "claims_administrator", "requesting_provider", "ur_organization", "employee_attorney")
OUTCOMES = {"denied": "Denied", "modified": "Modified", "delayed": "Delayed", "approved": "Approved"}
ITEM_ROWS = 5  # disputed-item rows a new form offers; a refused one offers one more than it had
# An item row's fields: the suffix of its form names, the case's field, and its label.
ITEM_FIELDS = (
    ("", "item", ""),
    ("_outcome", "ur_outcome", "UR outcome"),
    ("_authorized", "authorized", "authorized portion"),
    ("_guideline", "claims_administrator_guideline", "guideline the UR decision cited"),
)
LABELS = {
    "application_received": "Application received",
    "priority": "Priority",
    "formulary_dispute": "Formulary dispute",
    "claim_number": "Claim number",
    "ur_decision_date": "UR decision date",
    "ur_decision_served": "UR decision served",
    "date_of_injury": "Date of injury",
    "documents_received": "Records received",
    "condition_specialty": "Specialty that treats the condition",
    "claimant_name": "Injured worker's name",
    "claimant_age": "Age",
    "claimant_sex": "Sex",
    "party_employee_address": "Injured worker's address",
    **{f"party_{role}": PARTY_ROLES[role] for role in PARTIES},
    **{f"party_{role}_address": f"{PARTY_ROLES[role]}'s address" for role in PARTIES},
    "party_requesting_provider_specialty": "Requesting provider's specialty",
    "clinical_summary": "Clinical summary",
    "documents": "Medical records",
}


def specialties() -> list[str]:
    """Every specialty the assignment rules know (``specialties.yaml``), sorted."""
    spec = load_process("specialties")
    return sorted({name for names in spec["professions"].values() for name in names})


def label(name: str) -> str:
    """The form's label of the field *name* (an item row's too: "Disputed item 2, UR outcome")."""
    if name.startswith("item_"):
        row, _, suffix = name.removeprefix("item_").partition("_")
        words = next((w for s, _, w in ITEM_FIELDS if s == f"_{suffix}" or s == suffix), "")
        return f"Disputed item {row}" + (f", {words}" if words else "")
    return LABELS.get(name) or labels.words(name)


def _rows(fields: dict[str, str]) -> int:
    """How many item rows the form shows: :data:`ITEM_ROWS`, or one past the last filled in."""
    filled = [int(k[5:]) for k in fields if k.startswith("item_") and k[5:].isdigit() and fields[k].strip()]
    return min(max([ITEM_ROWS, *(n + 1 for n in filled)]), b.MAX_ITEMS)


def _intake_page(request: Request, who: Principal, code: int = 200, **context: Any) -> Response:
    context = {"errors": None, "field_errors": {}, "form": {}, **context}
    return render(
        request,
        "intake.html.j2",
        who,
        code,
        today=dt.date.today(),
        specialties=specialties(),
        parties=PARTIES,
        outcomes=OUTCOMES,
        rows=_rows(context["form"]),
        label=label,
        **context,
    )


@router.get("/intake")
def intake_form(request: Request, who: Who, cases: Cases) -> Response:
    cases.require(who, Action.CREATE_CASE)
    return _intake_page(request, who)


@router.post("/intake")
async def intake(request: Request, who: Poster, cases: Cases) -> Response:
    cases.require(who, Action.CREATE_CASE)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    uploads = [f for f in form.getlist("documents") if not isinstance(f, str) and f.filename]
    data, rows = _case_from_form(fields)
    errors: list[tuple[str, str]] = []  # (form field, problem)
    for role in ("employee", *PARTIES):
        named = "claimant_name" if role == "employee" else f"party_{role}"
        for detail in ("address", "specialty"):
            if fields.get(f"party_{role}_{detail}", "").strip() and not fields.get(named, "").strip():
                whose = PARTY_ROLES[role].lower() if role != "employee" else "injured worker"
                errors.append((named, f"give the name of the {whose} whose {detail} is set"))
    files: dict[str, bytes] = {}
    for upload in uploads:
        content = await upload.read(MAX_UPLOAD + 1)
        if len(content) > MAX_UPLOAD:
            raise TooLarge(f"{upload.filename} is larger than {MAX_UPLOAD // (1024 * 1024)} MB")
        try:
            await run_in_threadpool(media_type, upload.filename, content)
        except NotADocument as exc:
            errors.append(("documents", str(exc)))
        files[upload.filename] = content
    try:
        case = Application.model_validate(data)
    except ValidationError as exc:
        errors += [(_form_name(p, rows), _text(p)) for p in plain(exc.errors(), data, form=True)]
    if errors:
        if files and not any(name == "documents" for name, _ in errors):
            errors.append(("documents", "choose the files again: a form sent back keeps none"))
        summary = [f"{label(name)}: {text}" for name, text in errors]
        beside: dict[str, str] = {}
        for name, text in errors:
            beside[name] = f"{beside[name]}; {text}" if name in beside else text
        return _intake_page(request, who, 422, errors=summary, field_errors=beside, form=fields)

    def take_in() -> CaseCreated:
        created = cases.create_case(who, case)
        for name, content in files.items():
            cases.upload(
                who, created.case_number, name, content, "medical_records", case.application_received
            )
        return created

    created = await run_in_threadpool(take_in)
    note = "taken in" if created.created else "already taken in"
    status = labels.label(created.status, "status").lower()
    return back(f"/cases/{created.case_number}", f"Case {created.case_number} {note}: {status}.")


def _text(problem: Problem) -> str:
    if problem.field == "disputed_items" and problem.type == "too_short":
        return "required: name at least one disputed item"
    return problem.text


def _form_name(problem: Problem, rows: list[tuple[int, str | None]]) -> str:
    """The form field a validation problem is about; *rows*: each item's row, each party's role."""
    parts = [p for p in problem.loc if p not in ("body", "form")]
    head = parts[0] if parts else ""
    sub = parts[2] if len(parts) > 2 else None
    if head == "claimant":
        return f"claimant_{parts[1]}" if len(parts) > 1 else "claimant_age"
    if head in ("disputed_items", "parties") and len(parts) > 1 and isinstance(parts[1], int):
        entry = [r for r in rows if (r[1] is None) == (head == "disputed_items")][parts[1]]
        if head == "disputed_items":
            suffix = next((s for s, field, _ in ITEM_FIELDS if field == sub), "")
            return f"item_{entry[0]}{suffix}"
        role = entry[1]
        if role == "employee":
            return "claimant_name" if sub == "name" else "party_employee_address"
        return f"party_{role}" + (f"_{sub}" if sub in ("address", "specialty") else "")
    if head == "disputed_items":
        return "item_1"
    return str(head)


def _case_from_form(f: dict[str, str]) -> tuple[dict[str, Any], list[tuple[int, str | None]]]:
    """The intake form's fields as an :class:`Application` dict (empty fields left out), and
    where each entry came from: an item's row number (role None), a party's role."""

    def get(name: str) -> str | None:
        return (f.get(name) or "").strip() or None

    parties, origins = [], []
    for role in ("employee", *PARTIES):
        name = get("claimant_name") if role == "employee" else get(f"party_{role}")
        address = get(f"party_{role}_address")
        if name and (role != "employee" or address):
            party = {
                "role": role,
                "name": name,
                "address": address,
                "specialty": get(f"party_{role}_specialty"),
            }
            parties.append({k: v for k, v in party.items() if v is not None})
            origins.append((0, role))
    items = []
    for row in range(1, _rows(f) + 1):
        if text := get(f"item_{row}"):
            item = {"item": text} | {field: get(f"item_{row}{s}") for s, field, _ in ITEM_FIELDS[1:]}
            items.append({k: v for k, v in item.items() if v is not None})
            origins.append((row, None))
    age = get("claimant_age")
    claimant = {"name": get("claimant_name"), "age": int(age) if age and age.isdigit() else age}
    return {
        "priority": get("priority") or "Standard",
        "formulary_dispute": f.get("formulary_dispute") == "on",
        "claim_number": get("claim_number"),
        "application_received": get("application_received"),
        "date_of_injury": get("date_of_injury"),
        "ur_decision_date": get("ur_decision_date"),
        "ur_decision_served": get("ur_decision_served"),
        "documents_received": get("documents_received"),
        "condition_specialty": get("condition_specialty"),
        "claimant": {**claimant, "sex": get("claimant_sex")},
        "parties": parties,
        "clinical_summary": f.get("clinical_summary") or "",
        "disputed_items": items,
    }, origins
