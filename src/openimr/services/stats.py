"""Decision statistics of the stored letters by one dimension, with Wilson 95% intervals and charts.

Counts are per issue (each disputed item has its own decision). Guideline family, reviewer
specialty and decision year come from the stored letters; request category and drug class from the
corpus index (sync it first, :func:`openimr.services.corpus.index.sync_index`). A letter whose
reviewer lists two specialties counts under both, so by specialty the groups add up to more issues
than were counted; an issue without the dimension's value (no decision date, no specialty) counts
under "Not stated".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, TextIO

from sqlalchemy import Connection, Engine, Select, func, select
from sqlalchemy.orm import Session

from openimr.core.families import NOT_STATED, guideline_family
from openimr.core.labels import group_label
from openimr.core.models import Decision
from openimr.services.csvout import CsvWriter
from openimr.services.options import By
from openimr.store.schema import IssueRow, LetterRow, SpecialtyRow, corpus_issues

Z95 = 1.959963984540054
SEVERAL_SPECIALTIES = "an issue counts under each of its reviewer's specialties"
BY_LABELS = {
    By.category: "Category",
    By.family: "Guideline family",
    By.specialty: "Reviewer specialty",
    By.year: "Decision year",
    By.drug_class: "Drug class",
}


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (``(0, 1)`` when *n* is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Group:
    """Decisions of one group, the letters they are in, and the overturn rate's Wilson interval."""

    name: str
    upheld: int
    overturned: int
    letters: int = 0

    @property
    def issues(self) -> int:
        return self.upheld + self.overturned

    @property
    def overturn_rate(self) -> float:
        return self.overturned / self.issues if self.issues else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.overturned, self.issues)


@dataclass(frozen=True)
class Breakdown:
    """The groups of one dimension, most issues first (years in order), and what they count in all:
    each issue once, even one that counts under several groups."""

    by: By
    groups: list[Group]
    overall: Group

    @property
    def title(self) -> str:
        note = f"; {SEVERAL_SPECIALTIES}" if self.by is By.specialty else ""
        return f"Decisions by {self.by.value} ({self.overall.issues} issues{note})"


def _rows(by: By) -> Select:
    """(value, letter id, decision, issues) per value, letter and decision."""
    if by in (By.category, By.drug_class):
        ci = corpus_issues.c
        value = ci.category if by is By.category else ci.drug_class
        query = select(value, ci.letter_id, ci.decision, func.count())
        if by is By.drug_class:
            query = query.where(ci.category == "drug")
    elif by is By.family:
        query = select(IssueRow.imro_guideline, IssueRow.letter_id, IssueRow.decision, func.count())
    elif by is By.year:
        year = func.extract("year", LetterRow.decision_date)
        query = select(year, IssueRow.letter_id, IssueRow.decision, func.count()).join(IssueRow.letter)
    else:
        query = select(SpecialtyRow.specialty, IssueRow.letter_id, IssueRow.decision, func.count()).outerjoin(
            SpecialtyRow, SpecialtyRow.letter_id == IssueRow.letter_id
        )
    return query.group_by(*query.selected_columns[:3])


def _name(by: By, value: object) -> str:
    if by is By.family:
        return _family(value)
    if value is None:
        return NOT_STATED
    return str(int(value)) if by is By.year else str(value)


_family = lru_cache(maxsize=4096)(guideline_family)


class _Tally:
    def __init__(self) -> None:
        self.decisions = dict.fromkeys(Decision, 0)
        self.letters: set[int] = set()

    def add(self, letter_id: int, decision: str, n: int) -> None:
        self.decisions[decision] += n
        self.letters.add(letter_id)

    def group(self, name: str) -> Group:
        return Group(
            name, self.decisions[Decision.UPHELD], self.decisions[Decision.OVERTURNED], len(self.letters)
        )


def breakdown(db: Engine | Connection | Session, by: By) -> Breakdown:
    """The decisions grouped by *by*; through an engine, a connection or a session."""
    if isinstance(db, Engine):
        with db.connect() as conn:
            return breakdown(conn, by)
    tallies: dict[str, _Tally] = {}
    overall = _Tally()
    per_letter: dict[tuple[int, str], int] = {}
    for value, letter_id, decision, n in db.execute(_rows(by)):
        tallies.setdefault(_name(by, value), _Tally()).add(letter_id, decision, n)
        if by is By.specialty:  # the same issues again under each of the letter's specialties
            per_letter[letter_id, decision] = n
        else:
            overall.add(letter_id, decision, n)
    for (letter_id, decision), n in per_letter.items():
        overall.add(letter_id, decision, n)
    groups = [tally.group(name) for name, tally in tallies.items()]
    if by is By.year:
        groups.sort(key=lambda g: (g.name == NOT_STATED, g.name))
    else:
        groups.sort(key=lambda g: (-g.issues, g.name))
    return Breakdown(by, groups, overall.group("All"))


def compute(engine: Engine, by: By) -> list[Group]:
    """The groups of *by* alone (see :func:`breakdown`)."""
    return breakdown(engine, by).groups


def total(groups: list[Group], name: str = "All") -> Group:
    """The sum of *groups* (by specialty, an issue counts once per specialty: use
    :attr:`Breakdown.overall` for each issue once)."""
    return Group(name, sum(g.upheld for g in groups), sum(g.overturned for g in groups))


COLUMNS = ("group", "issues", "upheld", "overturned", "overturn_rate", "ci95_low", "ci95_high", "letters")


def _record(group: Group) -> dict[str, str | int | float]:
    low, high = group.interval
    values = (group.name, group.issues, group.upheld, group.overturned, group.overturn_rate, low, high)
    return dict(zip(COLUMNS, (*values, group.letters), strict=True))


def write_csv(groups: list[Group], out: TextIO) -> None:
    """One row per group: counts, overturn rate and its Wilson 95% interval (as fractions), letters."""
    writer = CsvWriter(out, COLUMNS)
    for group in groups:
        record = _record(group)
        writer.row(f"{v:.4f}" if isinstance(v, float) else v for v in record.values())


def write_json(result: Breakdown, out: TextIO) -> None:
    """The breakdown as one JSON object: the dimension, the overall counts and each group's."""
    data = {
        "by": result.by.value,
        "overall": _record(result.overall),
        "groups": [_record(g) for g in result.groups],
    }
    if result.by is By.specialty:
        data["note"] = SEVERAL_SPECIALTIES
    json.dump(data, out, indent=2, ensure_ascii=False)
    out.write("\n")


def chart(
    groups: list[Group],
    by: By,
    out: Path | BinaryIO,
    overall: Group | None = None,
    fmt: str | None = None,
    top: int = 25,
) -> None:
    """A two-panel chart of the *top* largest groups: decisions per group, and the overturn rate
    with its 95% interval against the *overall* rate (default: the groups summed). Written to a
    path (its suffix names the format) or a binary file in *fmt* (png or svg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    overall = overall or total(groups)
    shown = sorted(groups, key=lambda g: -g.issues)[:top][::-1] if by is not By.year else groups[::-1]
    labels = [group_label(g.name, by.value) for g in shown]
    names = [n if len(n) <= 40 else n[:39] + "…" for n in labels]
    ys = range(len(shown))
    fig, (left, right) = plt.subplots(
        1,
        2,
        figsize=(12, 1.2 + 0.38 * max(len(shown), 3)),
        sharey=True,
        gridspec_kw={"width_ratios": [1, 1.3]},
    )
    if not shown:
        left.set_ylim(-1, 1)
        left.text(0.5, 0.5, "No decisions stored", ha="center", va="center", transform=left.transAxes)
    upheld, overturned = [g.upheld for g in shown], [g.overturned for g in shown]
    left.barh(ys, upheld, color="#9aa5b1", label="Upheld")
    left.barh(ys, overturned, left=upheld, color="#d9480f", label="Overturned")
    left.set_yticks(list(ys), names)
    left.set_xlabel("Issues")
    left.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=2, frameon=False)  # above the bars
    left.set_title("Decisions", loc="left")
    rates = [100 * g.overturn_rate for g in shown]
    lows = [max(0.0, r - 100 * g.interval[0]) for r, g in zip(rates, shown, strict=True)]
    highs = [max(0.0, 100 * g.interval[1] - r) for r, g in zip(rates, shown, strict=True)]
    right.errorbar(rates, ys, xerr=[lows, highs], fmt="o", color="#d9480f", ecolor="#495057", capsize=3)
    right.axvline(100 * overall.overturn_rate, color="#495057", linestyle="--", linewidth=1)
    right.text(100 * overall.overturn_rate, len(shown) - 0.4, " all issues", color="#495057", fontsize=8)
    right.set_xlim(0, 100)
    right.set_xlabel("Overturned, % of issues (Wilson 95% interval)")
    right.set_title("Overturn rate", loc="left")
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="x", alpha=0.3)
    note = f"; {SEVERAL_SPECIALTIES}" if by is By.specialty else ""
    fig.suptitle(
        f"IMR decisions by {BY_LABELS[by].lower()} ({overall.issues} issues{note})", x=0.01, ha="left"
    )
    fig.tight_layout()
    fmt = fmt or (out.suffix.lstrip(".") if isinstance(out, Path) else "png")
    fig.savefig(out, format=fmt, dpi=150 if fmt == "png" else None)
    plt.close(fig)


# The store's overview: three breakdowns at once, with each group's letters ---------------------


@dataclass(frozen=True)
class Stats:
    """The whole store's counts and its breakdowns by guideline family, specialty and year."""

    total: Group
    by_family: list[Group]
    by_specialty: list[Group]
    by_year: list[Group]


def compute_stats(db: Connection | Session) -> Stats:
    """The overview of every stored issue (the corpus index is not needed)."""
    family, specialty, year = (breakdown(db, by) for by in (By.family, By.specialty, By.year))
    return Stats(family.overall, family.groups, specialty.groups, year.groups)
