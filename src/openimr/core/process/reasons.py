"""Reasons kept as a code and its facts, and put into words for the one who reads them.

Eligibility findings and assignment explanations are stored this way, never as sentences, so a
sentence naming the claimant's date of injury or a party is composed only for a reader who may
see them. For any other reader the same sentence names the fact instead ("the date of injury",
"the claims administrator"). Private facts are ``date_of_injury`` (an ISO date, or None) and
``parties`` (a list of ``[role, name]`` pairs); every other fact is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SENTENCES = {
    # eligibility: applicability, timely application, UR outcome, items
    "injury_on_or_after": "{date_of_injury} is on or after {injury_from}",
    "decision_on_or_after": "UR decision of {ur_decision}, on or after {decision_from}",
    "both_before": "injury before {injury_from} and UR decision of {ur_decision} before {decision_from}",
    "received_before_decision": "application received {received}, before the UR decision",
    "received_after_decision": (
        "application received {received}, {elapsed} days after the UR decision was {basis} on "
        "{served}: {verdict} {days} days (last day {last})"
    ),
    "ur_acted": "the UR decision {acted} treatment",
    "ur_approved_all": "the UR decision approved all it reviewed: nothing is disputed",
    "item_not_in_decision": "'{item}' is not an item of the UR decision",
    "item_outcome": "'{item}' was {outcome} by the UR decision",
    # assignment: why the chosen reviewer, why not each other ({load}: open cases, this one included
    # for the reviewer chosen; for the others, as the batch leaves them)
    "practice": "{years:.1f} years of active practice, {hours:g} clinical hours a week",
    "licensed": "licence in good standing: {licences}",
    "qualified": "{rule}: holds {held}",
    "unaffiliated": "no affiliation with {parties}",
    "cheapest": "least loaded choice: {load} of {capacity} open cases with this one, case due {due}",
    "nobody": "no qualified, unconflicted reviewer had capacity left",
    "inexperienced": "only {years:.1f} years of active practice, where more than {minimum} are required",
    "part_time": "only {hours:g} clinical hours a week, where at least {minimum} are required",
    "unlicensed": "no licence in good standing",
    "unqualified": "not qualified: {rule}",
    "conflict": "conflict of interest: affiliated with {parties}",
    "full": "at capacity: {load} of {capacity} open cases",
    "costlier": "qualifies too, with {load} of {capacity} open cases; another reviewer had more room",
}
# What a reader who may not see private facts gets for a reason stored as a sentence.
WITHHELD = "not shown: recorded before reasons were kept as facts"


@dataclass(frozen=True)
class Reason:
    """One reason: a code of :data:`SENTENCES` and the facts its sentence is made of."""

    code: str
    facts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in SENTENCES:
            raise KeyError(f"no sentence for reason {self.code!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "facts": self.facts}

    def text(self, private: bool = True) -> str:
        """The reason in words; with *private* false, claimant and party facts are named, not given."""
        return words(self.as_dict(), private)


def _role(role: str) -> str:
    """A party role as a sentence names it ("claims administrator", "UR organization")."""
    return (
        role.replace("_", " ").replace("ur ", "UR ", 1) if role.startswith("ur_") else role.replace("_", " ")
    )


def _party(role: str, name: str, private: bool) -> str:
    return f"{name} ({_role(role)})" if private else f"the {_role(role)}"


def _shown(key: str, value: Any, private: bool) -> Any:
    if key == "date_of_injury":
        return f"the date of injury ({value})" if private and value else "the date of injury"
    if key == "parties":
        return ", ".join(_party(role, name, private) for role, name in value) or "any party"
    return value


def words(reason: Mapping[str, Any] | str, private: bool) -> str:
    """A stored reason (a mapping with its ``code`` and ``facts``) in words for its reader.

    A reason stored as a sentence, before facts were kept (a string, or a mapping with only a
    ``reason``), is given only to a reader who may see private facts, since it may name them.
    """
    if isinstance(reason, Mapping) and "code" in reason:
        facts = {k: _shown(k, v, private) for k, v in reason["facts"].items()}
        return SENTENCES[reason["code"]].format(**facts)
    sentence = reason if isinstance(reason, str) else str(reason.get("reason", ""))
    return sentence if private else WITHHELD
