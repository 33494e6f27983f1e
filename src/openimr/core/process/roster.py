"""The expert reviewer roster: a reviewer as imported (``reviewers import``) and their licences.

A case as submitted is :class:`openimr.core.case.Application`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LicenseStatus = Literal["active", "probation", "suspended", "revoked", "expired", "inactive"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def norm(text: str) -> str:
    """Case- and whitespace-insensitive form of a name or an item, for matching."""
    return re.sub(r"\s+", " ", text).strip().casefold()


class License(_In):
    """A licence to practise: state, kind (MD, DO, DC, LAc, PhD...), number, standing."""

    state: str
    kind: str
    number: str = ""
    status: LicenseStatus = "active"
    expires: dt.date | None = None

    def in_good_standing(self, on: dt.date, statuses: list[str]) -> bool:
        """Whether the licence's status counts as good standing and it has not expired by *on*."""
        return self.status in statuses and (self.expires is None or self.expires >= on)


class ReviewerIn(_In):
    """An expert reviewer on the roster (``reviewers import``)."""

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    licenses: list[License] = Field(min_length=1)
    specialties: list[str] = Field(min_length=1)
    active_practice_since: dt.date
    weekly_clinical_hours: float = Field(ge=0)
    affiliations: list[str] = Field(default_factory=list)
    capacity: int = Field(default=10, ge=0)


def csv_row(row: dict[str, str]) -> dict:
    """A roster CSV row as a :class:`ReviewerIn` dict: lists split on ';', each licence as
    STATE:KIND:NUMBER:STATUS; empty cells left out."""
    licenses = []
    for text in filter(None, (t.strip() for t in (row.get("licenses") or "").split(";"))):
        state, kind, number, status = [*text.split(":"), "", "", ""][:4]
        licenses.append({"state": state, "kind": kind, "number": number, "status": status or "active"})
    listed = {
        name: [s.strip() for s in (row.get(name) or "").split(";") if s.strip()]
        for name in ("specialties", "affiliations")
    }
    plain = {k: v.strip() for k, v in row.items() if k and isinstance(v, str) and v.strip()}
    return {**plain, "licenses": licenses, **listed}
