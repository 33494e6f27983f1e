"""The structured form of one disputed item (``schemas/request.schema.json`` plus extras).

``model_dump(mode="json")`` gives every schema key; the extra keys are ``drug.ingredients``,
``drug.drug_class`` and ``body_regions`` (the region of each body part, in the same order).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal[
    "drug",
    "physical_therapy",
    "occupational_therapy",
    "chiropractic",
    "acupuncture",
    "massage",
    "imaging",
    "injection",
    "surgery",
    "dme",
    "electrotherapy",
    "diagnostic_test",
    "lab",
    "consultation",
    "psychological",
    "program",
    "facility",
    "home_health",
    "transportation",
    "evaluation",
    "other",
]
Laterality = Literal["left", "right", "bilateral"]
Number = int | float


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Drug(_Record):
    """A medication as written, with what the drug dictionary knows about it."""

    name: str
    strength: str | None = None
    quantity: Number | None = None
    ingredients: list[str] = Field(default_factory=list)
    drug_class: str | None = None


class Request(_Record):
    """What a disputed item asks for; ``null`` (or ``[]``/``False``) where the text does not say."""

    category: Category = "other"
    drug: Drug | None = None
    sessions: int | None = None
    frequency_per_week: Number | None = None
    duration_weeks: Number | None = None
    body_parts: list[str] = Field(default_factory=list)
    body_regions: list[str] = Field(default_factory=list)
    laterality: Laterality | None = None
    retrospective: bool = False
    date_of_service: dt.date | None = None
    postoperative: bool = False
