"""Counts and Upheld/Overturned rates of the stored letters, by guideline family, specialty and year.

Rates are per issue (each disputed item has its own decision). A letter whose reviewer lists two
specialties counts under both; the guideline family is that of the review organization's line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openimr.core.families import NOT_STATED, guideline_family
from openimr.store.schema import IssueRow, LetterRow, SpecialtyRow


@dataclass
class Tally:
    """Letters, issues and decisions of one group."""

    name: str
    letter_ids: set[int] = field(default_factory=set)
    upheld: int = 0
    overturned: int = 0

    @property
    def letters(self) -> int:
        return len(self.letter_ids)

    @property
    def issues(self) -> int:
        return self.upheld + self.overturned

    def rate(self, decision: str) -> float | None:
        """The share of issues with *decision*, or None without issues."""
        if not self.issues:
            return None
        return (self.upheld if decision == "Upheld" else self.overturned) / self.issues


@dataclass
class Stats:
    """The whole store's tally and its breakdowns, largest groups first (years in order)."""

    total: Tally
    by_family: list[Tally]
    by_specialty: list[Tally]
    by_year: list[Tally]


def _tally(rows: Iterable[tuple[str, int, str]]) -> dict[str, Tally]:
    groups: dict[str, Tally] = {}
    for name, letter_id, decision in rows:
        tally = groups.setdefault(name, Tally(name))
        tally.letter_ids.add(letter_id)
        if decision == "Upheld":
            tally.upheld += 1
        else:
            tally.overturned += 1
    return groups


def _largest_first(groups: dict[str, Tally]) -> list[Tally]:
    return sorted(groups.values(), key=lambda t: (-t.issues, t.name))


def compute_stats(session: Session) -> Stats:
    """Tally every stored issue."""
    family = lru_cache(maxsize=None)(guideline_family)
    issues = session.execute(select(IssueRow.imro_guideline, IssueRow.letter_id, IssueRow.decision)).all()
    by_family = _tally((family(line), letter_id, decision) for line, letter_id, decision in issues)
    total = _tally(("All", letter_id, decision) for _, letter_id, decision in issues).get("All", Tally("All"))
    total.letter_ids.update(session.scalars(select(LetterRow.id)))

    specialty_rows = session.execute(
        select(SpecialtyRow.specialty, IssueRow.letter_id, IssueRow.decision).outerjoin(
            SpecialtyRow, SpecialtyRow.letter_id == IssueRow.letter_id
        )
    )
    by_specialty = _tally((name or NOT_STATED, letter_id, d) for name, letter_id, d in specialty_rows)

    year = func.extract("year", LetterRow.decision_date)
    year_rows = session.execute(select(year, IssueRow.letter_id, IssueRow.decision).join(IssueRow.letter))
    by_year = _tally(
        (NOT_STATED if y is None else str(int(y)), letter_id, d) for y, letter_id, d in year_rows
    )

    return Stats(
        total=total,
        by_family=_largest_first(by_family),
        by_specialty=_largest_first(by_specialty),
        by_year=sorted(by_year.values(), key=lambda t: (t.name == NOT_STATED, t.name)),
    )


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _table(title: str, label: str, tallies: list[Tally], total: Tally) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    for column in ("Letters", "Issues", "Upheld", "Overturned", "Upheld %", "Overturned %"):
        table.add_column(column, justify="right", no_wrap=True)
    for tally in [*tallies, total]:
        table.add_row(
            tally.name,
            str(tally.letters),
            str(tally.issues),
            str(tally.upheld),
            str(tally.overturned),
            _percent(tally.rate("Upheld")),
            _percent(tally.rate("Overturned")),
            end_section=tally is tallies[-1] if tallies else False,
        )
    return table


def print_stats(stats: Stats, console: Console) -> None:
    """Print the three breakdowns as tables, each ending with the totals."""
    console.print(
        _table("By guideline family (review organization)", "Guideline family", stats.by_family, stats.total)
    )
    console.print(_table("By reviewer specialty", "Specialty", stats.by_specialty, stats.total))
    console.print(_table("By decision year", "Year", stats.by_year, stats.total))
