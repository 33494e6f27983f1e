"""The case's life as an explicit state machine; every other move is refused.

received → eligibility → records_requested → assigned → in_review → decided → letter_issued,
with ineligible (from eligibility) and withdrawn (from any open state: the claims administrator
may end IMR by authorizing the treatment, 8 CCR 9792.10.6(a)).
"""

from __future__ import annotations

from enum import StrEnum

from openimr.core.errors import OpenIMRError


class Status(StrEnum):
    RECEIVED = "received"
    ELIGIBILITY = "eligibility"
    RECORDS_REQUESTED = "records_requested"
    ASSIGNED = "assigned"
    IN_REVIEW = "in_review"
    DECIDED = "decided"
    LETTER_ISSUED = "letter_issued"
    INELIGIBLE = "ineligible"
    WITHDRAWN = "withdrawn"


TERMINAL = frozenset({Status.LETTER_ISSUED, Status.INELIGIBLE, Status.WITHDRAWN})

_FORWARD: dict[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.ELIGIBILITY}),
    Status.ELIGIBILITY: frozenset({Status.RECORDS_REQUESTED, Status.INELIGIBLE}),
    Status.RECORDS_REQUESTED: frozenset({Status.ASSIGNED}),
    Status.ASSIGNED: frozenset({Status.IN_REVIEW}),
    Status.IN_REVIEW: frozenset({Status.DECIDED}),
    Status.DECIDED: frozenset({Status.LETTER_ISSUED}),
}
TRANSITIONS: dict[Status, frozenset[Status]] = {
    s: frozenset() if s in TERMINAL else _FORWARD[s] | {Status.WITHDRAWN} for s in Status
}


class TransitionError(OpenIMRError, ValueError):
    """A move the state machine does not allow."""

    status, code = 409, "invalid_transition"


def check(current: Status | str, target: Status | str) -> Status:
    """Return *target* as a :class:`Status` if a case in *current* may move there, else raise."""
    here, there = Status(current), Status(target)
    if there not in TRANSITIONS[here]:
        allowed = ", ".join(sorted(TRANSITIONS[here])) or "none: the case is closed"
        raise TransitionError(f"a case that is {here} cannot become {there} (allowed: {allowed})")
    return there
