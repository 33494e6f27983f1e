"""The expert reviewer roster: a reviewer as imported (``reviewers import``) and their licences.

A case as submitted is :class:`openimr.core.case.Application`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from openimr.core import bounds as b

LicenseStatus = Literal["active", "probation", "suspended", "revoked", "expired", "inactive"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def norm(text: str) -> str:
    """Case- and whitespace-insensitive form of a name or an item, for matching."""
    return re.sub(r"\s+", " ", text).strip().casefold()


class License(_In):
    """A licence to practise: state, kind (MD, DO, DC, LAc, PhD...), number, standing."""

    state: b.line(b.LIST_ENTRY)
    kind: b.line(b.LIST_ENTRY)
    number: b.line(b.LIST_ENTRY) = ""
    status: LicenseStatus = "active"
    expires: b.Day | None = None

    def in_good_standing(self, on: dt.date, statuses: list[str]) -> bool:
        """Whether the licence's status counts as good standing and it has not expired by *on*."""
        return self.status in statuses and (self.expires is None or self.expires >= on)


class ReviewerIn(_In):
    """An expert reviewer on the roster (``reviewers import``)."""

    code: b.line(b.REVIEWER_CODE, 1)
    name: b.line(b.REVIEWER_NAME, 1)
    licenses: list[License] = Field(min_length=1, max_length=b.MAX_LIST)
    specialties: list[b.line(b.LIST_ENTRY)] = Field(min_length=1, max_length=b.MAX_LIST)
    active_practice_since: b.Day
    weekly_clinical_hours: float = Field(ge=0, le=168)
    affiliations: list[b.line(b.LIST_ENTRY)] = Field(default_factory=list, max_length=b.MAX_LIST)
    capacity: int = Field(default=10, ge=0, le=10_000)


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
