"""When a determination is due, by priority, and which open cases are overdue or at risk.

The clock starts on receipt of the application and the supporting documents, whichever is later
(Labor Code 4610.6(d)). Timeframes, their units and sources are in ``data/deadlines.yaml``;
working days skip weekends and the holidays on which California state offices close.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Literal

import holidays

from openimr.core.process.data import load

Timeframe = Literal["standard", "expedited", "formulary"]
Standing = Literal["on_time", "at_risk", "overdue"]
_SUNDAY, _SATURDAY = 6, 5


@cache
def state_holidays(year: int) -> dict[dt.date, str]:
    """California state holidays of *year*, on the days state offices observe them."""
    spec = load("deadlines")["state_holidays"]
    names, to_friday = set(spec["names"]), set(spec["saturday_to_friday"])
    days: dict[dt.date, str] = {}
    for day, label in holidays.country_holidays("US", subdiv="CA", years=year, observed=False).items():
        for name in (n.strip() for n in label.split(";")):
            if name not in names:
                continue
            if day.weekday() == _SUNDAY:
                day += dt.timedelta(days=1)
            elif day.weekday() == _SATURDAY and name in to_friday:
                day -= dt.timedelta(days=1)
            days[day] = name
    return days


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday and not a California state holiday."""
    return day.weekday() < _SATURDAY and day not in state_holidays(day.year)


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The *n*-th working day after *start* (*start* itself not counted)."""
    day = start
    while n > 0:
        day += dt.timedelta(days=1)
        n -= is_working_day(day)
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after *start* up to and including *end* (negative when *end* is earlier)."""
    if end < start:
        return -working_days_between(end, start)
    return sum(is_working_day(start + dt.timedelta(days=i)) for i in range(1, (end - start).days + 1))


def timeframe(priority: str, formulary_dispute: bool) -> Timeframe:
    """Which timeframe applies: formulary-drug disputes, else expedited or standard."""
    if formulary_dispute:
        return "formulary"
    return "expedited" if priority == "Expedited" else "standard"


@dataclass(frozen=True)
class Deadline:
    """A due date and the rule it comes from."""

    timeframe: Timeframe
    clock_start: dt.date
    due: dt.date
    citation: str
    verified: bool

    def standing(self, today: dt.date) -> Standing:
        """Overdue after the due date; at risk within the timeframe's margin of it."""
        if today > self.due:
            return "overdue"
        spec = load("deadlines")["timeframes"][self.timeframe]
        working = spec["unit"] == "working"
        left = working_days_between(today, self.due) if working else (self.due - today).days
        return "at_risk" if left <= spec["at_risk_days"] else "on_time"


def due_date(
    priority: str, formulary_dispute: bool, application_received: dt.date, documents_received: dt.date | None
) -> Deadline:
    """The determination's due date for a case received as given."""
    kind = timeframe(priority, formulary_dispute)
    spec = load("deadlines")["timeframes"][kind]
    start = max(application_received, documents_received or application_received)
    if spec["unit"] == "working":
        due = add_working_days(start, spec["days"])
    else:
        due = start + dt.timedelta(days=spec["days"])
        while spec["roll_forward"] and not is_working_day(due):
            due += dt.timedelta(days=1)
    return Deadline(kind, start, due, spec["citation"], bool(spec["verified"]))
