"""The MTUS Drug Formulary as data: list versions by date, fill policies and sourced Drug List entries.

``formulary.yaml`` (beside this module) holds what a source was found for; :func:`status` answers a
drug on a date of service with its status ("exempt", "non-exempt", "unlisted"), the conditions that
go with it, and the list version in force. A brand name is read as its generic ingredients (the
request parser's drug dictionary); a combination product is answered ingredient by ingredient and,
as a whole, only where its combination row is encoded (a combination is on the list only when the
combination is, 8 CCR 9792.27.16(c)). The encoded entries are a small part of the list, so a drug
absent from them is "not encoded" (prospective review is the safe reading), not "unlisted", unless
the file declares itself complete. A name the dictionary cannot read as a drug raises NotADrug.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from openimr.core.requests.drug import read as read_drug
from openimr.core.yamlfile import YAMLError, load_yaml, yaml_error_line

FORMULARY_FILE = "formulary.yaml"
FORMULARY_START = dt.date(2018, 1, 1)

ListStatus = Literal["exempt", "non-exempt"]
Answer = Literal["exempt", "non-exempt", "unlisted", "compounded", "not encoded", "not in force"]


class FormularyFileError(ValueError):
    """The formulary file is malformed; the message names the file and the entry."""


class NotADrug(ValueError):
    """The name cannot be read as a drug (no ingredient of the drug dictionary in it)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Source(_Model):
    title: str = Field(min_length=1)
    url: str = Field(min_length=1)


class Policy(_Model):
    text: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    source: str
    window_days_after_injury: int | None = None
    days_before_surgery: int | None = None
    days_after_surgery: int | None = None


class ListVersion(_Model):
    version: str = Field(min_length=1)
    from_: dt.date | None = Field(alias="from")
    source: str
    note: str | None = None


class EntryVerification(_Model):
    """``verified``: the row was read in a copy of the list itself; ``quoted``: a secondary source
    (news of an update order) reports it; ``unverified``: inferred from an indirect source."""

    status: Literal["verified", "quoted", "unverified"]
    source: str
    evidence: str = Field(min_length=1)


# The list's marks for a drug in an ACOEM guideline topic ("Reference in ACOEM Guidelines"): in that
# guideline there are conditions for which the drug is Recommended, Not Recommended or given No
# Recommendation (v.3 legend).
Mark = Literal["recommended", "not_recommended", "no_recommendation"]
TOPICS = (
    "Ankle and Foot Disorders",
    "Cervical and Thoracic Spine Disorders",
    "Chronic Pain",
    "Elbow Disorders",
    "Eye",
    "Hand, Wrist, and Forearm Disorders",
    "Hip and Groin Disorders",
    "Interstitial Lung Disease",
    "Knee Disorders",
    "Low Back Disorders",
    "Occupational/Work-Related Asthma",
    "Opioids",
    "Shoulder Disorders",
    "Traumatic Brain Injury",
    "Workplace Mental Health",
)


class Entry(_Model):
    """One MTUS Drug List row (by active ingredient) over the dates its status is known for: the
    dosage forms listed, Special Fill and Perioperative Fill with their day limits, and the ACOEM
    topics that discuss the drug with the list's marks (``topics``)."""

    ingredient: str = Field(min_length=1)
    status: ListStatus
    forms: tuple[str, ...] = ()
    special_fill: bool | None = None
    special_fill_days: int | None = Field(default=None, ge=1)
    perioperative_fill: bool | None = None
    perioperative_fill_days: int | None = Field(default=None, ge=1)
    topics: dict[str, tuple[Mark, ...]] = Field(default_factory=dict)
    from_: dt.date = Field(alias="from")
    to: dt.date | None = None
    citation: str = Field(min_length=1)
    brands: tuple[str, ...] = ()
    verification: EntryVerification

    @model_validator(mode="after")
    def _ordered(self) -> Entry:
        if self.to is not None and self.to < self.from_:
            raise ValueError(f"{self.ingredient}: from {self.from_} is after to {self.to}")
        unknown = sorted(set(self.topics) - set(TOPICS))
        if unknown:
            raise ValueError(f"{self.ingredient}: unknown ACOEM topics {unknown}")
        for flag, days, name in (
            (self.special_fill, self.special_fill_days, "special_fill"),
            (self.perioperative_fill, self.perioperative_fill_days, "perioperative_fill"),
        ):
            if days is not None and not flag:
                raise ValueError(f"{self.ingredient}: {name}_days without {name}")
        return self

    def covers(self, day: dt.date) -> bool:
        return self.from_ <= day and (self.to is None or day <= self.to)


class Compounded(_Model):
    """Products known as compounded drugs (8 CCR 9792.27.9): off the list, prospective review."""

    products: tuple[str, ...] = Field(min_length=1)
    verification: EntryVerification


class Formulary(_Model):
    version: str = Field(min_length=1)
    complete: bool = False
    sources: dict[str, Source]
    policies: dict[str, Policy]
    list_versions: tuple[ListVersion, ...] = Field(min_length=1)
    compounded: Compounded | None = None
    drugs: tuple[Entry, ...] = ()


class IngredientStatus(BaseModel):
    """One active ingredient's answer within a product's."""

    ingredient: str
    status: Answer
    special_fill: bool | None = None
    perioperative_fill: bool | None = None
    citation: str | None = None
    verification: str | None = None
    source_url: str | None = None


class DrugStatus(BaseModel):
    """The answer for one drug on one date of service; ``ingredients`` answers each active
    ingredient of a combination product on its own."""

    drug: str
    ingredient: str | None
    date: dt.date
    status: Answer
    list_version: str | None
    conditions: list[str]
    ingredients: list[IngredientStatus] = []
    special_fill: bool | None = None
    special_fill_days: int | None = None
    perioperative_fill: bool | None = None
    perioperative_fill_days: int | None = None
    forms: list[str] = []
    topics: dict[str, list[str]] = {}
    list_version_from: dt.date | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    citation: str | None = None
    verification: str | None = None
    source: str | None = None
    source_url: str | None = None


def parse_formulary(text: str, origin: str = FORMULARY_FILE) -> Formulary:
    """Parse and validate a formulary file; raise FormularyFileError naming the file and the entry."""
    try:
        data: Any = load_yaml(text)
        formulary = Formulary.model_validate(data)
    except YAMLError as exc:
        raise FormularyFileError(yaml_error_line(origin, exc)) from exc
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise FormularyFileError(f"{origin}: {where}") from exc
    named = [p.source for p in formulary.policies.values()]
    named += [v.source for v in formulary.list_versions] + [d.verification.source for d in formulary.drugs]
    named += [formulary.compounded.verification.source] if formulary.compounded else []
    unknown = sorted(set(named) - set(formulary.sources))
    if unknown:
        raise FormularyFileError(f"{origin}: unknown sources {unknown}")
    seen: dict[str, list[Entry]] = {}
    for entry in formulary.drugs:
        for other in seen.setdefault(entry.ingredient, []):
            if entry.from_ <= (other.to or dt.date.max) and other.from_ <= (entry.to or dt.date.max):
                raise FormularyFileError(f"{origin}: {entry.ingredient}: overlapping dates")
        seen[entry.ingredient].append(entry)
    return formulary


@cache
def load_formulary() -> Formulary:
    """The packaged formulary (validated once, then cached)."""
    text = resources.files(__package__).joinpath(FORMULARY_FILE).read_text(encoding="utf-8")
    return parse_formulary(text, FORMULARY_FILE)


def list_version(day: dt.date, formulary: Formulary | None = None) -> ListVersion | None:
    """The latest list version with a known effective date on or before *day*."""
    dated = [v for v in (formulary or load_formulary()).list_versions if v.from_ and v.from_ <= day]
    return max(dated, key=lambda v: v.from_ or dt.date.min) if dated else None


def ingredients_of(drug: str) -> list[str]:
    """The generic ingredients of *drug* as written (a brand is read as its generics); NotADrug
    when the drug dictionary finds none in it."""
    parsed = read_drug(drug)
    found = list(parsed.ingredients) if parsed and parsed.ingredients else []
    if not found and parsed and parsed.drug_class:  # a product the dictionary knows without ingredients
        found = [parsed.name.lower()]
    if not found:
        raise NotADrug(f"{drug!r} is not a drug name the drug dictionary can read")
    return found


def _conditions(entry: Entry, formulary: Formulary) -> list[str]:
    policies = formulary.policies
    out = [policies["exempt" if entry.status == "exempt" else "non_exempt"].text]
    for flag, name in (
        (entry.special_fill, "special_fill"),
        (entry.perioperative_fill, "perioperative_fill"),
    ):
        label = name.replace("_", " ")
        if flag:
            out.append(policies[name].text)
        elif flag is None and entry.status == "non-exempt":
            out.append(f"Whether {entry.ingredient} is {label} eligible is not encoded.")
    return out


def _entry(name: str, entries: list[Entry]) -> Entry | None:
    low = name.lower()
    return next((e for e in entries if low in (e.ingredient, *e.brands)), None)


def _part(ingredient: str, entry: Entry | None, formulary: Formulary) -> IngredientStatus:
    if entry is None:
        return IngredientStatus(
            ingredient=ingredient, status="unlisted" if formulary.complete else "not encoded"
        )
    return IngredientStatus(
        ingredient=entry.ingredient,
        status=entry.status,
        special_fill=entry.special_fill,
        perioperative_fill=entry.perioperative_fill,
        citation=entry.citation,
        verification=entry.verification.status,
        source_url=formulary.sources[entry.verification.source].url,
    )


def _compounded(drug: str, day: dt.date, ingredients: list[str], formulary: Formulary) -> DrugStatus | None:
    """The answer for a product the file names as compounded, else None."""
    known = formulary.compounded
    words = set(re.findall(r"[a-z][a-z0-9-]*", drug.lower()))
    if known is None or not words & set(known.products):
        return None
    policy = formulary.policies["compounded"]
    source = formulary.sources[known.verification.source]
    return DrugStatus(
        drug=drug,
        ingredient="/".join(ingredients),
        date=day,
        status="compounded",
        list_version=None,
        conditions=[policy.text],
        citation=policy.citation,
        verification=known.verification.status,
        source=source.title,
        source_url=source.url,
    )


COMBINATION_NOTE = (
    "A combination product is on the MTUS Drug List only when the combination of its active"
    " ingredients is listed (8 CCR 9792.27.16(c)); this combination's row is not encoded, so each"
    " ingredient is answered on its own, and a non-exempt or unlisted ingredient needs prospective review."
)


def status(drug: str, day: dt.date, formulary: Formulary | None = None) -> DrugStatus:
    """The MTUS Drug List status of *drug* (a name as written) for a date of service *day*;
    NotADrug when the name cannot be read as a drug."""
    formulary = formulary or load_formulary()
    ingredients = ingredients_of(drug)
    version = list_version(day, formulary)
    label = version.version if version else None
    since = version.from_ if version else None
    if day < FORMULARY_START:
        return DrugStatus(
            drug=drug,
            ingredient=None,
            date=day,
            status="not in force",
            list_version=None,
            conditions=[
                "The MTUS Drug Formulary applies to drugs dispensed from 2018-01-01 (8 CCR 9792.27.3)."
            ],
        )
    compounded = _compounded(drug, day, ingredients, formulary)
    if compounded is not None:
        return compounded.model_copy(update={"list_version": label, "list_version_from": since})
    entries = [e for e in formulary.drugs if e.covers(day)]
    parts = [_part(i, _entry(i, entries), formulary) for i in ingredients] if len(ingredients) > 1 else []
    entry = _entry("/".join(ingredients), entries) or (
        _entry(ingredients[0], entries) if len(ingredients) == 1 else None
    )
    if entry is not None:
        source = formulary.sources[entry.verification.source]
        return DrugStatus(
            drug=drug,
            ingredient=entry.ingredient,
            date=day,
            status=entry.status,
            list_version=label,
            conditions=_conditions(entry, formulary),
            ingredients=parts,
            special_fill=entry.special_fill,
            special_fill_days=entry.special_fill_days,
            perioperative_fill=entry.perioperative_fill,
            perioperative_fill_days=entry.perioperative_fill_days,
            forms=list(entry.forms),
            topics={topic: list(marks) for topic, marks in entry.topics.items()},
            list_version_from=since,
            effective_from=entry.from_,
            effective_to=entry.to,
            citation=entry.citation,
            verification=entry.verification.status,
            source=source.title,
            source_url=source.url,
        )
    policy = formulary.policies["unlisted"]
    unlisted = policy.text
    if formulary.complete:
        answer: Answer = "unlisted"
        conditions = [unlisted]
    else:
        answer = "not encoded"
        conditions = [
            "Not among the encoded MTUS Drug List entries: on the list it is exempt or non-exempt;"
            f" off it, {unlisted[:1].lower()}{unlisted[1:]}"
        ]
    if parts:
        conditions.append(COMBINATION_NOTE)
    return DrugStatus(
        drug=drug,
        ingredient="/".join(ingredients),
        date=day,
        status=answer,
        list_version=label,
        conditions=conditions,
        ingredients=parts,
        list_version_from=since,
        citation="8 CCR 9792.27.15 (MTUS Drug List)",
        source=formulary.sources[policy.source].title,
        source_url=formulary.sources[policy.source].url,
    )


def review_note(drug: str, day: dt.date | None, formulary: Formulary | None = None) -> str | None:
    """What the MTUS Drug List says of a requested drug, for a review's reasons: its status with its
    source's verification, or None when the list is not in force, the drug not encoded or the name
    no drug. The status decides who may dispense without prospective review, not medical necessity."""
    if day is None:
        return None
    try:
        answer = status(drug, day, formulary)
    except NotADrug:
        return None
    if answer.status in ("not encoded", "not in force"):
        return None
    what = {
        "exempt": "Exempt: it may be dispensed without prospective review when in accordance with the MTUS",
        "non-exempt": "Non-Exempt: it needs authorization through prospective review",
        "unlisted": "not on the MTUS Drug List (unlisted: prospective review required)",
        "compounded": "a compounded drug: it needs authorization through prospective review (9792.27.9)",
    }[answer.status]
    version = f" {answer.list_version}" if answer.list_version else ""
    return (
        f"MTUS Drug List{version}: {answer.ingredient} is {what} ({answer.verification or 'unverified'};"
        f" {answer.citation}); medical necessity rests on the guideline's criteria"
    )
