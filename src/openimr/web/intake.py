"""Intake: the form that takes a case in, in the form's own words when it is not valid."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from openimr.core.case import Application
from openimr.core.process.data import load as load_process
from openimr.core.roles import Action, Principal
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


LABELS = {
    "application_received": "Application received",
    "priority": "Priority",
    "formulary_dispute": "Formulary dispute",
    "ur_decision_date": "UR decision date",
    "ur_decision_served": "UR decision served",
    "date_of_injury": "Date of injury",
    "claimant": "Injured worker",
    "age": "Age",
    "sex": "Sex",
    "parties": "Parties",
    "disputed_items": "Disputed items",
    "clinical_summary": "Clinical summary",
    "claims_administrator_guideline": "Guideline the UR decision cited",
}
PARTY_LABELS = {
    "employer": "Employer",
    "claims_administrator": "Claims administrator",
    "requesting_provider": "Requesting provider",
    "ur_organization": "UR organization",
}


def specialties() -> list[str]:
    """Every specialty the assignment rules know (``specialties.yaml``), sorted."""
    spec = load_process("specialties")
    return sorted({name for names in spec["professions"].values() for name in names})


def _label(loc: tuple[Any, ...] | list[Any], parties: list[dict[str, Any]]) -> str:
    """An intake error's field as the form labels it, e.g. "Disputed items, line 2"."""
    words = []
    for n, part in enumerate(loc):
        if isinstance(part, int):
            if loc[n - 1] == "parties" and part < len(parties):
                words[-1] = PARTY_LABELS.get(parties[part]["role"], "Party")
            else:
                words.append(f"line {part + 1}")
        elif part in LABELS:
            words.append(LABELS[part])
    return ", ".join(words) or "The form"


# Validation errors in the intake form's words (pydantic's own messages speak of types and lists).
_PLAIN = {
    "missing": "required",
    "too_short": "give at least one",
    "date_from_datetime_parsing": "give a date as YYYY-MM-DD",
    "date_parsing": "give a date as YYYY-MM-DD",
    "date_type": "give a date as YYYY-MM-DD",
    "string_pattern_mismatch": "does not look right (a case number reads like CM26-0000001)",
    "string_too_short": "required",
}


def _plain(error: dict[str, Any]) -> str:
    """One validation error as the form says it."""
    return _PLAIN.get(error["type"], error["msg"][:1].lower() + error["msg"][1:])


def _intake_page(request: Request, who: Principal, code: int = 200, **context: Any) -> Response:
    context = {"errors": None, "form": {}, **context}
    return render(
        request, "intake.html.j2", who, code, today=dt.date.today(), specialties=specialties(), **context
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
    data = _case_from_form(fields)
    errors = []
    for role, label in PARTY_LABELS.items():
        if fields.get(f"party_{role}_specialty", "").strip() and not fields.get(f"party_{role}", "").strip():
            errors.append(f"{label}: give the name of the {label.lower()} whose specialty is set")
    try:
        case = Application.model_validate(data)
    except ValidationError as exc:
        errors += [f"{_label(e['loc'], data['parties'])}: {_plain(e)}" for e in exc.errors()]
    except ValueError as exc:
        errors.append(str(exc))
    if errors:
        return _intake_page(request, who, 422, errors=errors, form=fields)
    files = {}
    for upload in uploads:
        content = await upload.read(MAX_UPLOAD + 1)
        if len(content) > MAX_UPLOAD:
            raise TooLarge(f"{upload.filename} is larger than {MAX_UPLOAD // (1024 * 1024)} MB")
        files[upload.filename] = content

    def take_in() -> CaseCreated:
        created = cases.create_case(who, case)
        for name, content in files.items():
            cases.upload(
                who, created.case_number, name, content, "medical_records", case.application_received
            )
        return created

    created = await run_in_threadpool(take_in)
    note = "taken in" if created.created else "already taken in"
    return back(f"/cases/{created.case_number}", f"Case {created.case_number} {note}: {created.status}.")


def _case_from_form(f: dict[str, str]) -> dict[str, Any]:
    """The intake form's fields as a :class:`Application` dict (empty fields left out)."""

    def get(name: str) -> str | None:
        return (f.get(name) or "").strip() or None

    parties = [
        {"role": role, "name": get(f"party_{role}"), "specialty": get(f"party_{role}_specialty")}
        for role in ("employer", "claims_administrator", "requesting_provider", "ur_organization")
        if get(f"party_{role}")
    ]
    items = [line.strip() for line in (f.get("items") or "").splitlines() if line.strip()]
    age = get("claimant_age")
    return {
        "priority": get("priority") or "Standard",
        "formulary_dispute": f.get("formulary_dispute") == "on",
        "application_received": get("application_received"),
        "date_of_injury": get("date_of_injury"),
        "ur_decision_date": get("ur_decision_date"),
        "ur_decision_served": get("ur_decision_served"),
        "claimant": {"age": int(age) if age and age.isdigit() else age, "sex": get("claimant_sex")},
        "parties": [{k: v for k, v in p.items() if v is not None} for p in parties],
        "clinical_summary": f.get("clinical_summary") or "",
        "disputed_items": [
            {"item": item, "claims_administrator_guideline": get("claims_administrator_guideline")}
            for item in items
        ],
    }
