"""Which expert reviewer gets which case: qualification, conflicts, and batch optimization.

A reviewer may take a case only when qualified for every disputed service (``data/specialties.yaml``:
active practice of more than five years, at least 24 clinical hours a week, a licence in good
standing, the right specialty) and affiliated with none of its parties. Across a batch, the
choice minimizes workload weighted by urgency with :func:`scipy.optimize.linear_sum_assignment`:
each reviewer offers one slot per unit of free capacity, a fuller slot costs more, an earlier due
date weighs more, and a case left unassigned costs more than any slot, the more so the sooner it
is due. Every result comes with its explanation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from openimr.core.case import Party
from openimr.core.labels import label
from openimr.core.process.data import load
from openimr.core.process.reasons import Reason
from openimr.core.process.roster import License, norm

UNASSIGNED_COST = 10.0


@dataclass(frozen=True)
class Candidate:
    """A reviewer as the assigner sees them."""

    code: str
    name: str
    licenses: tuple[License, ...]
    specialties: tuple[str, ...]
    active_practice_since: dt.date
    weekly_clinical_hours: float
    affiliations: tuple[str, ...]
    capacity: int
    open_cases: int = 0

    def years_active(self, on: dt.date) -> float:
        return (on - self.active_practice_since).days / 365.25


@dataclass(frozen=True)
class Need:
    """A case to assign: its services, the condition's specialty, its parties and its due date."""

    case_number: str
    due: dt.date
    services: tuple[str, ...]
    condition_specialty: str | None
    parties: tuple[Party, ...]


def _parties(parties: Iterable[Party]) -> list[list[str]]:
    """Parties as a reason's ``parties`` fact: [role, name] pairs."""
    return [[p.role, p.name] for p in parties]


@dataclass
class Outcome:
    """A case's assignment (``reviewer`` None when no one could take it), why, and why not each other
    reviewer (by code)."""

    case_number: str
    reviewer: str | None
    why: list[Reason] = field(default_factory=list)
    why_not: dict[str, list[Reason]] = field(default_factory=dict)

    @property
    def reasons(self) -> list[str]:
        """Why, in words, every fact given."""
        return [r.text() for r in self.why]

    @property
    def others(self) -> dict[str, str]:
        """Why not each other reviewer, in words, every fact given."""
        return {code: "; ".join(r.text() for r in reasons) for code, reasons in self.why_not.items()}

    def as_dict(self) -> dict:
        return {
            "reviewer": self.reviewer,
            "why": [r.as_dict() for r in self.why],
            "others": {code: [r.as_dict() for r in rs] for code, rs in self.why_not.items()},
        }


def specialty_key(name: str) -> str:
    """A specialty's name for matching: case, spacing and "&" versus "and" do not count."""
    return norm(name.replace("&", " and "))


def _held(reviewer: Candidate, names: set[str]) -> set[str]:
    """Those of *names* that *reviewer* holds, however either spells them."""
    keys = {specialty_key(s) for s in reviewer.specialties}
    return {n for n in names if specialty_key(n) in keys}


def qualifying_specialties(service: str, condition_specialty: str | None) -> tuple[set[str], str]:
    """The specialties that may decide *service*, and the rule in words."""
    spec = load("specialties")
    rule = spec["services"].get(service) or spec["services"]["default"]
    what = label(service, "category")
    if "specialties" in rule:
        names = set(rule["specialties"])
        return names, f"{what} is decided by {' or '.join(sorted(names))}"
    profession = set(spec["professions"][rule["same_or_similar"]])
    also = set(rule.get("also", []))
    alternatives = "".join(f" or {name}" for name in sorted(also))
    if condition_specialty is None:
        unknown = "(condition specialty unknown)"
        return profession | also, f"{what} is decided by a {rule['same_or_similar']}{alternatives} {unknown}"
    key = specialty_key(condition_specialty)
    similar = {condition_specialty} | {n for n in profession if specialty_key(n) == key}
    for group in spec["similar"].values():
        if key in {specialty_key(n) for n in group}:
            similar |= set(group)
    return (similar & profession) | also, (
        f"{what} is decided by a {rule['same_or_similar']} of the same or a similar specialty as "
        f"{condition_specialty}{alternatives}"
    )


def exclusions(reviewer: Candidate, need: Need, on: dt.date) -> list[Reason]:
    """Why *reviewer* may not take *need* (empty when they may), capacity aside."""
    q = load("specialties")["qualification"]
    out: list[Reason] = []
    years = reviewer.years_active(on)
    if years <= q["min_years_active_practice"]:
        out.append(Reason("inexperienced", {"years": years, "minimum": q["min_years_active_practice"]}))
    if reviewer.weekly_clinical_hours < q["min_weekly_hours"]:
        out.append(
            Reason("part_time", {"hours": reviewer.weekly_clinical_hours, "minimum": q["min_weekly_hours"]})
        )
    if not any(lic.in_good_standing(on, q["good_standing"]) for lic in reviewer.licenses):
        out.append(Reason("unlicensed"))
    for service in dict.fromkeys(need.services):
        names, rule = qualifying_specialties(service, need.condition_specialty)
        if not _held(reviewer, names):
            out.append(Reason("unqualified", {"rule": rule}))
    ties = {norm(a) for a in reviewer.affiliations} | {norm(reviewer.name)}
    conflicts = sorted((p for p in need.parties if norm(p.name) in ties), key=lambda p: p.name)
    if conflicts:
        out.append(Reason("conflict", {"parties": _parties(conflicts)}))
    return out


def why_not(reviewer: Candidate, need: Need, on: dt.date) -> list[Reason]:
    """Why *reviewer* may not take *need* now (empty when they may): :func:`exclusions`, or no free
    capacity (their open cases counted)."""
    out = exclusions(reviewer, need, on)
    if not out and reviewer.open_cases >= reviewer.capacity:
        out.append(Reason("full", {"load": reviewer.open_cases, "capacity": reviewer.capacity}))
    return out


def _why(reviewer: Candidate, need: Need, on: dt.date, load_after: int) -> list[Reason]:
    q = load("specialties")["qualification"]
    good = [
        f"{lic.state} {lic.kind}" for lic in reviewer.licenses if lic.in_good_standing(on, q["good_standing"])
    ]
    why = [
        Reason("practice", {"years": reviewer.years_active(on), "hours": reviewer.weekly_clinical_hours}),
        Reason("licensed", {"licences": ", ".join(good)}),
    ]
    for service in dict.fromkeys(need.services):
        names, rule = qualifying_specialties(service, need.condition_specialty)
        held = ", ".join(sorted(_held(reviewer, names)))
        why.append(Reason("qualified", {"rule": rule, "held": held}))
    why.append(Reason("unaffiliated", {"parties": _parties(need.parties)}))
    why.append(
        Reason("cheapest", {"load": load_after, "capacity": reviewer.capacity, "due": need.due.isoformat()})
    )
    return why


def assign(needs: list[Need], roster: list[Candidate], today: dt.date) -> list[Outcome]:
    """Assign each of *needs* to at most one reviewer of *roster*, optimally for the batch."""
    slots = [(r, k) for r in roster for k in range(max(r.capacity - r.open_cases, 0))]
    allowed = [[not exclusions(r, n, today) for r in roster] for n in needs]
    index = {r.code: i for i, r in enumerate(roster)}
    big = UNASSIGNED_COST * 1e3
    cost = np.full((len(needs), len(slots) + len(needs)), big)
    for i, need in enumerate(needs):
        weight = 1.0 + 1.0 / (1 + max((need.due - today).days, 0))
        for j, (r, k) in enumerate(slots):
            if allowed[i][index[r.code]]:
                cost[i, j] = weight * (r.open_cases + k + 1) / r.capacity
        cost[i, len(slots) + i] = weight * UNASSIGNED_COST
    rows, cols = linear_sum_assignment(cost)
    chosen = {i: slots[j][0] if j < len(slots) else None for i, j in zip(rows, cols, strict=True)}

    taken = {r.code: r.open_cases for r in roster}
    for pick in chosen.values():
        if pick is not None:
            taken[pick.code] += 1
    return [_explain(need, chosen[i], roster, taken, today) for i, need in enumerate(needs)]


def _explain(
    need: Need, pick: Candidate | None, roster: list[Candidate], taken: dict[str, int], today: dt.date
) -> Outcome:
    if pick is None:
        out = Outcome(need.case_number, None, [Reason("nobody")])
    else:
        out = Outcome(need.case_number, pick.code, _why(pick, need, today, taken[pick.code]))
    for r in roster:
        if pick is not None and r.code == pick.code:
            continue
        load = {"load": taken[r.code], "capacity": r.capacity}
        reasons = exclusions(r, need, today)
        if reasons:
            out.why_not[r.code] = reasons
        elif taken[r.code] >= r.capacity:
            out.why_not[r.code] = [Reason("full", load)]
        else:
            out.why_not[r.code] = [Reason("costlier", load)]
    return out
