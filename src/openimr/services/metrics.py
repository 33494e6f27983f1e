"""The IMR determinations of a year measured the way CMS-0057-F has payers report prior
authorization: how many were upheld and overturned (per item and per case), the share decided
within the statutory time, and the mean and median days from complete records to decision, for
all cases and by priority.

A determination is an issued Final Determination letter, counted in the year of its decision
date. Its clock starts when the application and its supporting documents were both received
(Labor Code 4610.6(d)), and it was on time if decided by the due date set at intake (30 days,
5 working days for a formulary dispute, 3 for an expedited review: ``data/deadlines.yaml``). An
Overturned item is the IMR counterpart of CMS's "approved after appeal": IMR is the appeal of a
utilization review decision. A case counts as overturned when every item is, upheld when every
item is, and partly overturned otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from sqlalchemy import select

from openimr.core.roles import Action, Principal, Role
from openimr.services.access import Operator, record_audit
from openimr.services.cases import CaseService
from openimr.services.csvout import CsvWriter
from openimr.store.schema import AssignmentRow, CaseRow, IssuedLetterRow, ReviewerRow

PRIORITIES = ("Standard", "Expedited")
COLUMNS = (
    "year",
    "priority",
    "cases",
    "cases_upheld",
    "cases_overturned",
    "cases_partly_overturned",
    "items",
    "items_upheld",
    "items_overturned",
    "item_overturn_rate",
    "case_overturn_rate",
    "timed_cases",
    "within_statutory_time",
    "within_statutory_time_share",
    "mean_days_records_to_decision",
    "median_days_records_to_decision",
)


@dataclass
class Measures:
    """The measures of one group of determinations (all, or one priority)."""

    priority: str
    cases: int = 0
    cases_upheld: int = 0
    cases_overturned: int = 0
    cases_partly_overturned: int = 0
    items: int = 0
    items_upheld: int = 0
    items_overturned: int = 0
    timed_cases: int = 0  # those with a due date
    within_statutory_time: int = 0
    days: list[int] = field(default_factory=list, repr=False)

    def add(self, decisions: list[str], days: int | None, on_time: bool | None) -> None:
        """Count one case: its items' decisions, its days from complete records, whether on time."""
        up, over = decisions.count("Upheld"), decisions.count("Overturned")
        self.cases += 1
        self.items += up + over
        self.items_upheld += up
        self.items_overturned += over
        self.cases_overturned += over > 0 and up == 0
        self.cases_upheld += up > 0 and over == 0
        self.cases_partly_overturned += up > 0 and over > 0
        if days is not None:
            self.days.append(days)
        if on_time is not None:
            self.timed_cases += 1
            self.within_statutory_time += on_time

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    def as_row(self, year: int) -> dict[str, Any]:
        """The measures as one flat record (rates as shares of 1, None where nothing was counted)."""
        row = {k: v for k, v in asdict(self).items() if k != "days"}
        return {
            "year": year,
            **row,
            "item_overturn_rate": self._share(self.items_overturned, self.items),
            "case_overturn_rate": self._share(
                self.cases_overturned + self.cases_partly_overturned, self.cases
            ),
            "within_statutory_time_share": self._share(self.within_statutory_time, self.timed_cases),
            "mean_days_records_to_decision": round(statistics.fmean(self.days), 1) if self.days else None,
            "median_days_records_to_decision": statistics.median(self.days) if self.days else None,
        }


@dataclass(frozen=True)
class Report:
    """A year's measures: all determinations first, then each priority."""

    year: int
    groups: list[Measures]

    def rows(self) -> list[dict[str, Any]]:
        return [g.as_row(self.year) for g in self.groups]

    def as_json(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "definitions": {
                "determination": "an issued Final Determination letter, in the year of its decision date",
                "records_complete": "the later of the application and the supporting documents received",
                "within_statutory_time": "decided on or before the due date set at intake (LC 4610.6(d))",
                "case_overturn_rate": "cases with at least one item overturned, of all cases",
            },
            "measures": self.rows(),
        }


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def metrics(cases: CaseService, who: Principal, year: int) -> Report:
    """The measures of *year*'s determinations that *who* may list (a reviewer: their own cases);
    the read is audited."""
    cases.require(who, Action.LIST_CASES, None, "metrics")
    query = (
        select(
            CaseRow.priority,
            CaseRow.application_received,
            CaseRow.documents_received,
            CaseRow.due_date,
            IssuedLetterRow.record,
        )
        .join(IssuedLetterRow, IssuedLetterRow.case_id == CaseRow.id)
        .outerjoin(AssignmentRow, AssignmentRow.case_id == CaseRow.id)
        .outerjoin(ReviewerRow, ReviewerRow.id == AssignmentRow.reviewer_id)
    )
    if who.role == Role.REVIEWER:
        query = query.where(ReviewerRow.code == who.reviewer_code)
    groups = {name: Measures(name) for name in ("All", *PRIORITIES)}
    with cases.store.transaction() as s:
        for priority, received, documents, due, record in s.execute(query):
            decided = _day(record.get("decision_date"))
            if decided is None or decided.year != year:
                continue
            start = max(received, documents or received)
            decisions = [str(i.get("decision")) for i in record.get("issues", [])]
            on_time = decided <= due if due else None
            for name in ("All", priority):
                if name in groups:
                    groups[name].add(decisions, (decided - start).days, on_time)
        if not isinstance(who, Operator):
            record_audit(s, who.username, None, "metrics", str(year), "read", None, None)
    return Report(year, list(groups.values()))


def write_json(report: Report, out: TextIO) -> None:
    json.dump(report.as_json(), out, indent=2)
    out.write("\n")


def write_csv(report: Report, out: TextIO) -> None:
    """One row per group, through the one CSV writer (:mod:`openimr.services.csvout`)."""
    CsvWriter(out, COLUMNS).records(report.rows())


def show(value: Any, percent: bool = False) -> str:
    """A measure in words: a dash when there is none, a share as a percentage."""
    if value is None:
        return "–"
    return f"{100 * value:.1f}%" if percent else f"{value:g}" if isinstance(value, float) else str(value)


def chart(report: Report, out: Path | BinaryIO, fmt: str = "png") -> None:
    """Two panels by priority: items upheld and overturned, and the share decided on time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows = report.rows()
    names = [r["priority"] for r in rows]
    xs = range(len(rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    upheld = [r["items_upheld"] for r in rows]
    left.bar(xs, upheld, color="#9aa5b1", label="Upheld")
    left.bar(xs, [r["items_overturned"] for r in rows], bottom=upheld, color="#d9480f", label="Overturned")
    left.set_xticks(list(xs), names)
    left.yaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_ylabel("Items")
    left.set_title(f"Determinations {report.year}", loc="left")
    left.legend(frameon=False)
    shares = [100 * (r["within_statutory_time_share"] or 0) for r in rows]
    right.bar(xs, shares, color="#495057")
    right.set_xticks(list(xs), names)
    right.set_ylim(0, 100)
    right.set_ylabel("% decided within the statutory time")
    for x, r in zip(xs, rows, strict=True):
        median = r["median_days_records_to_decision"]
        if r["cases"]:
            right.text(x, 2, f"median {show(median)} d", ha="center", color="white", fontsize=8)
        else:
            right.text(x, 2, "no determinations", ha="center", color="#495057", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, format=fmt, dpi=150)
    plt.close(fig)
