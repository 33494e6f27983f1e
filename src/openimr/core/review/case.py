"""An IMR case as submitted for review (``schemas/case.schema.json``), read from JSON files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openimr.core.errors import FileProblem
from openimr.core.models import Claimant, Priority


class CaseError(FileProblem):
    """A case file that cannot be read; ``str()`` names the file and the problem on one line."""


class DisputedItem(BaseModel):
    """One disputed item/service as the application states it."""

    model_config = ConfigDict(extra="ignore")

    item: str = ""
    original_request: str | None = None
    authorized: str | None = None
    claims_administrator_guideline: str | None = None


class Case(BaseModel):
    """What the review organization knows before the expert reviewer decides."""

    model_config = ConfigDict(extra="ignore")

    case_number: str | None = None
    priority: Priority | None = None
    application_received: dt.date | None = None
    date_of_injury: dt.date | None = None
    ur_denial_date: dt.date | None = None
    claimant: Claimant = Field(default_factory=Claimant)
    clinical_summary: str = ""
    disputed_items: list[DisputedItem] = Field(default_factory=list)


def case_from_json(data: object, file: str) -> Case:
    """Validate decoded JSON as a case; missing optional fields become null."""
    if not isinstance(data, dict):
        raise CaseError(file, "a case must be a JSON object")
    data = {**data, "clinical_summary": data.get("clinical_summary") or ""}
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CaseError(file, f"invalid case: {where}: {first['msg']}") from None


def load_case(path: Path) -> Case:
    """Read one case file; ``CaseError`` for unreadable files, invalid JSON or a wrong shape."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(str(path), f"cannot read file ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseError(
            str(path), f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    return case_from_json(data, str(path))


def case_from_letter(record: dict) -> Case:
    """The case behind a decided letter record (letter.schema.json), decisions removed."""
    items = [
        DisputedItem(
            item=i["item"],
            original_request=i.get("original_request"),
            authorized=i.get("authorized"),
            claims_administrator_guideline=i.get("claims_administrator_guideline"),
        )
        for i in record.get("issues", [])
    ]
    return case_from_json(
        {
            "case_number": record.get("case_number"),
            "priority": record.get("priority"),
            "application_received": record.get("application_received"),
            "date_of_injury": record.get("date_of_injury"),
            "ur_denial_date": record.get("ur_denial_date"),
            "claimant": record.get("claimant") or {},
            "clinical_summary": record.get("clinical_summary") or "",
            "disputed_items": [i.model_dump() for i in items],
        },
        str(record.get("file", "<letter>")),
    )
