"""What comes in: a reviewer roster entry (``reviewers import``); a case as submitted is
:class:`openimr.core.case.Application`.

``CaseIn`` (:class:`~openimr.core.case.Application`) and ``Party`` are re-exported from
:mod:`openimr.core.case` for the modules not yet moved to it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from openimr.core.case import Application as CaseIn
from openimr.core.case import Party

__all__ = ["CaseIn", "License", "Party", "ReviewerIn", "norm"]

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
