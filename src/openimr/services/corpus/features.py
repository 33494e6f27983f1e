"""One flat record per disputed item: its decision, where it comes from, and what it asks for.

What an item asks for (category, drug and class, body parts and their regions, sessions, quantity)
comes from :func:`openimr.core.requests.parse` of its item line; the same item text always gives the
same features, so they are cached by text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from openimr.core.families import guideline_family
from openimr.core.models import Issue, Letter
from openimr.core.requests import Request, parse


@dataclass(frozen=True, slots=True)
class ItemFeatures:
    """What an item line asks for, as search filters and similarity use it."""

    category: str
    drug_name: str | None
    drug_class: str | None
    body_parts: tuple[str, ...]
    body_regions: tuple[str, ...]
    sessions: int | None
    quantity: float | None

    @property
    def body(self) -> tuple[str, ...]:
        """Body parts and their regions, without repeats: what a body-part filter matches."""
        return tuple(dict.fromkeys([*self.body_parts, *self.body_regions]))

    @property
    def amount(self) -> float | None:
        """The requested amount: the drug quantity, else the number of sessions."""
        return self.quantity if self.quantity is not None else self.sessions


@dataclass(frozen=True, slots=True)
class IssueRecord:
    """A disputed item of a letter with its decision and features."""

    letter: str
    position: int
    item: str
    decision: str
    family: str
    year: int | None
    specialties: tuple[str, ...]
    features: ItemFeatures
    rationale: str | None = None


def request_features(request: Request) -> ItemFeatures:
    """The features of a parsed request, names lower-cased."""
    drug = request.drug
    return ItemFeatures(
        category=request.category,
        drug_name=drug.name.lower() if drug else None,
        drug_class=drug.drug_class.lower() if drug and drug.drug_class else None,
        body_parts=tuple(dict.fromkeys(p.lower() for p in request.body_parts)),
        body_regions=tuple(dict.fromkeys(r.lower() for r in request.body_regions)),
        sessions=request.sessions,
        quantity=float(drug.quantity) if drug and drug.quantity is not None else None,
    )


@lru_cache(maxsize=65536)
def item_features(item: str) -> ItemFeatures:
    """The features of an item line (cached by text)."""
    return request_features(parse(item))


def text_hash(text: str) -> str:
    """The SHA-256 (hex) of an item text, the key of its embedding."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def letter_id(letter: Letter) -> str:
    """How a record names its letter: the case number, else the file name."""
    return letter.case_number or letter.file


def issue_record(letter: Letter, position: int, issue: Issue) -> IssueRecord:
    """The record of *letter*'s issue at *position*."""
    return IssueRecord(
        letter=letter_id(letter),
        position=position,
        item=issue.item,
        decision=issue.decision,
        family=guideline_family(issue.imro_guideline),
        year=letter.decision_date.year if letter.decision_date else None,
        specialties=tuple(letter.reviewer.specialties),
        features=item_features(issue.item),
        rationale=issue.rationale,
    )


def records_from_letters(letters: Iterable[Letter]) -> list[IssueRecord]:
    """Every issue of *letters* as a record, in letter and issue order."""
    return [issue_record(letter, i, issue) for letter in letters for i, issue in enumerate(letter.issues)]
