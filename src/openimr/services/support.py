"""Decision support on a stored case: the engine called with the typed case and the
application's rules in force, and the case page's reads (the case loaded once), each for the
account that acts in the call.

An engine that is not installed, fails, or answers with something that is not a review is
:class:`~openimr.services.access.Unavailable`, never a server error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import ValidationError

from openimr.core.case import Case, CaseClaimant, DisputedItem
from openimr.core.guidelines.packs import rules_in_force
from openimr.core.guidelines.rules import RuleSet
from openimr.core.process.workflow import Status
from openimr.core.review.engine import Review
from openimr.core.roles import Action, Principal
from openimr.services import schemas as out
from openimr.services import views
from openimr.services.access import Gate, Unavailable
from openimr.services.assignment import qualified_for
from openimr.services.audit import withdrawal
from openimr.services.guidelines import families_in_force
from openimr.services.views import Lens
from openimr.store.schema import CaseRow

if TYPE_CHECKING:
    from openimr.services.review import Engine

UNAVAILABLE = "decision support unavailable: no review engine is installed"


def typed_case(case: CaseRow) -> Case:
    """The stored case as decision support reads it."""
    return Case(
        case_number=case.case_number,
        priority=case.priority,
        application_received=case.application_received,
        date_of_injury=case.date_of_injury,
        ur_decision_date=case.ur_decision_date,
        claimant=CaseClaimant(age=case.claimant_age, sex=case.claimant_sex),
        clinical_summary=case.clinical_summary,
        disputed_items=[
            DisputedItem(
                item=i.item,
                claims_administrator_guideline=i.claims_administrator_guideline,
                original_request=i.original_request,
                authorized=i.authorized,
            )
            for i in case.items
        ],
    )


def review_engine() -> Engine | None:
    """The review engine, or None where its libraries (scikit-learn, joblib) are not installed."""
    try:
        from openimr.services.review import run
    except ImportError:
        return None
    return run


@dataclass(frozen=True)
class Workbench:
    """The case page's reads: the case, decision support's review or why none, the reviewers it
    may be reassigned to (by code, each with why they may or may not take it), and the guideline
    bases a decision may name (:func:`guideline_choices`)."""

    case: out.CaseOut
    review: Review | None
    review_note: str | None
    qualified: dict[str, out.CandidateOut]
    choices: list[str]


def guideline_choices(case: out.CaseOut, review: Review | None, rules: RuleSet) -> list[str]:
    """Guideline bases to pick from, one per family and citation: decision support's governing
    guidelines, the UR's, then each family of *rules* in force on the case's date (the UR
    decision's) not named yet."""
    picked: dict[tuple[str, str], str] = {}
    for rec in review.items if review else []:
        family, citation = rec.guideline.family.strip().rstrip("."), (rec.guideline.citation or "").strip()
        if family:
            cite = f", {citation.rstrip('.')}" if citation else ""
            picked.setdefault((_key(family), _key(citation)), f"Decision based on {family}{cite}.")
    choices = list(picked.values())
    choices += [i.claims_administrator_guideline for i in case.items if i.claims_administrator_guideline]
    named = {family for family, _ in picked}
    choices += [
        f"Decision based on {f}."
        for f in families_in_force(case.ur_decision_date or case.application_received, rules)
        if _key(f) not in named
    ]
    return list(dict.fromkeys(" ".join(c.split()) for c in choices))


def _key(text: str) -> str:
    """*text* for telling near-duplicates apart: lower case, words only."""
    return " ".join(re.findall(r"[a-z0-9]+", text.casefold()))


class Support(Gate):
    """Decision support's review of a case, and the case page's reads, with the rules *rules*
    gives (set by :class:`~openimr.services.cases.CaseService`)."""

    rules: Callable[[], RuleSet]

    def recommendations(self, who: Principal, number: str) -> Review:
        """Decision support's review of the case (review.schema.json), typed; audited once it answers.
        An engine that fails, or answers with a review that is not one, is :class:`Unavailable`."""
        with self._tx() as s:
            case = typed_case(self._open(s, who, number, Action.READ_RECOMMENDATIONS, read=None))
        typed = self._review(number, case)
        with self._tx() as s:
            self._read(s, who, number, "recommendations", number)
        return typed

    def _review(self, number: str, case: Case) -> Review:
        """The engine's review of *case* with this service's rules in force."""
        engine = review_engine()
        if engine is None:
            raise Unavailable(UNAVAILABLE)
        try:
            with rules_in_force(self.rules()):
                result = engine(case, self.store)
        except Exception as exc:  # the engine's failure is reported, never a server error
            raise Unavailable(f"decision support failed on case {number}: {exc}") from exc
        try:
            return Review.model_validate(result)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the review"
            more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
            raise Unavailable(
                f"decision support gave case {number} a malformed review: {where}: {first['msg']}{more}"
            ) from exc

    def workbench(self, who: Principal, number: str, today: dt.date) -> Workbench:
        """What the case page shows, the case loaded once: the case (its read audited), decision
        support's review when *who* may read it (or why there is none; audited once it answers),
        and the reviewers an assigned case may go to instead when *who* may assign."""
        with self._tx() as s:
            row = self._open(s, who, number, Action.READ_CASE)
            case = views.case_out(row, Lens.of(who), today, withdrawal(s, row, who))
            typed = typed_case(row) if who.can(Action.READ_RECOMMENDATIONS) else None
            movable = who.can(Action.ASSIGN) and row.status in (Status.ASSIGNED, Status.IN_REVIEW)
            others = qualified_for(s, row, today) if movable else {}
        review, note = None, None
        if typed is not None:
            try:
                review = self._review(number, typed)
            except Unavailable as exc:
                note = str(exc)
            else:
                with self._tx() as s:
                    self._read(s, who, number, "recommendations", number)
        return Workbench(case, review, note, others, guideline_choices(case, review, self.rules()))
