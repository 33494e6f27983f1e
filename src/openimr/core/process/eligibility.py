"""Is an application eligible for IMR? Each rule of ``data/eligibility.yaml`` checked, with reasons.

The case-level rules (applicability, timely application, a UR decision that denied, modified or
delayed) decide the case; the item-level rule decides which disputed items go to review. A case
with no eligible item is ineligible, and closes with a notice listing the reasons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from openimr.core.case import Application
from openimr.core.process.data import load
from openimr.core.process.reasons import Reason, words
from openimr.core.process.roster import norm


@dataclass(frozen=True)
class Finding:
    """One rule applied: whether it passed, why (a code and its facts), and the law it rests on."""

    rule: str
    passed: bool
    why: Reason
    citation: str
    verified: bool

    @property
    def reason(self) -> str:
        """Why, in words, with every fact given (for staff and the ineligibility notice)."""
        return self.why.text()

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "passed": self.passed,
            **self.why.as_dict(),
            "citation": self.citation,
            "verified": self.verified,
        }


@dataclass(frozen=True)
class Eligibility:
    """The outcome: case-level findings, and one finding per disputed item (input order)."""

    findings: list[Finding]
    items: list[Finding] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return all(f.passed for f in self.findings) and any(f.passed for f in self.items)

    def as_dict(self) -> dict:
        return {
            "eligible": self.eligible,
            "findings": [f.as_dict() for f in self.findings],
            "items": [f.as_dict() for f in self.items],
        }


def notice(case_number: str, result: dict) -> str:
    """The plain-text notice an ineligible case closes with, from :meth:`Eligibility.as_dict`."""
    failed = [f for f in result["findings"] if not f["passed"]]
    if not any(f["passed"] for f in result["items"]):
        failed += [f for f in result["items"] if not f["passed"]]
    lines = [f"Case {case_number}: the application is not eligible for Independent Medical Review.", ""]
    lines += [f"- {words(f, True)} ({f['citation']})" for f in failed]
    return "\n".join(lines) + "\n"


def _finding(rule: str, passed: bool, code: str, **facts: object) -> Finding:
    spec = load("eligibility")["rules"][rule]
    return Finding(rule, passed, Reason(code, facts), spec["citation"], bool(spec["verified"]))


def _applicability(case: Application) -> Finding:
    spec = load("eligibility")["rules"]["applicability"]
    injury_from: dt.date = spec["injury_on_or_after"]
    decision_from: dt.date = spec["decision_on_or_after"]
    dates = {"injury_from": str(injury_from), "decision_from": str(decision_from)}
    ur_decision = str(case.ur_decision_date)
    if case.date_of_injury and case.date_of_injury >= injury_from:
        return _finding(
            "applicability", True, "injury_on_or_after", date_of_injury=str(case.date_of_injury), **dates
        )
    if case.ur_decision_date >= decision_from:
        return _finding("applicability", True, "decision_on_or_after", ur_decision=ur_decision, **dates)
    return _finding("applicability", False, "both_before", ur_decision=ur_decision, **dates)


def _timely(case: Application) -> Finding:
    days = load("eligibility")["rules"]["timely"]["days_after_service"]
    served = case.ur_decision_served or case.ur_decision_date
    basis = "served" if case.ur_decision_served else "dated (no service date given)"
    last = served + dt.timedelta(days=days)
    received = str(case.application_received)  # never before the decision: Application refuses it
    passed = case.application_received <= last
    return _finding(
        "timely",
        passed,
        "received_after_decision",
        received=received,
        elapsed=(case.application_received - served).days,
        basis=basis,
        served=str(served),
        verdict="within" if passed else "more than",
        days=days,
        last=str(last),
    )


def _outcomes(case: Application) -> dict[str, str]:
    """Each UR item's outcome by normalized item: the UR items', else each disputed item's own
    (``ur_outcome``), else modified where part was authorized and denied where not."""
    if case.ur_items:
        return {norm(u.item): u.outcome for u in case.ur_items}
    return {
        norm(d.item): d.ur_outcome or ("modified" if d.authorized else "denied") for d in case.disputed_items
    }


def _ur_outcome(outcomes: dict[str, str]) -> Finding:
    allowed = load("eligibility")["rules"]["ur_outcome"]["outcomes"]
    acted = sorted({o for o in outcomes.values() if o in allowed})
    if acted:
        return _finding("ur_outcome", True, "ur_acted", acted=" and ".join(acted))
    return _finding("ur_outcome", False, "ur_approved_all")


def _item(item: str, outcomes: dict[str, str]) -> Finding:
    allowed = load("eligibility")["rules"]["ur_outcome"]["outcomes"]
    outcome = outcomes.get(norm(item))
    if outcome is None:
        return _finding("items_within_decision", False, "item_not_in_decision", item=item)
    return _finding("items_within_decision", outcome in allowed, "item_outcome", item=item, outcome=outcome)


def check(case: Application) -> Eligibility:
    """Apply every eligibility rule to *case*."""
    outcomes = _outcomes(case)
    findings = [_applicability(case), _timely(case), _ur_outcome(outcomes)]
    return Eligibility(findings, [_item(d.item, outcomes) for d in case.disputed_items])
