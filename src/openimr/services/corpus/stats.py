"""Decision statistics of the corpus by one dimension, with Wilson 95% intervals and charts.

Counts are per issue. A letter whose reviewer lists two specialties counts under both; an issue
without the dimension's value (no decision date, no drug class) counts under "Not stated".
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from openimr.core.families import NOT_STATED

Z95 = 1.959963984540054


class By(StrEnum):
    category = "category"
    family = "family"
    specialty = "specialty"
    year = "year"
    drug_class = "drug-class"


_GROUP_SQL = {
    By.category: "SELECT ci.category, ci.decision, count(*) FROM corpus_issues AS ci GROUP BY 1, 2",
    By.family: "SELECT ci.family, ci.decision, count(*) FROM corpus_issues AS ci GROUP BY 1, 2",
    By.year: "SELECT ci.year, ci.decision, count(*) FROM corpus_issues AS ci GROUP BY 1, 2",
    By.drug_class: "SELECT ci.drug_class, ci.decision, count(*) FROM corpus_issues AS ci"
    " WHERE ci.category = 'drug' GROUP BY 1, 2",
    By.specialty: "SELECT ls.specialty, ci.decision, count(*) FROM corpus_issues AS ci"
    " LEFT JOIN letter_specialties AS ls ON ls.letter_id = ci.letter_id GROUP BY 1, 2",
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
    """Decisions of one group and its overturn rate with a Wilson 95% interval."""

    name: str
    upheld: int
    overturned: int

    @property
    def issues(self) -> int:
        return self.upheld + self.overturned

    @property
    def overturn_rate(self) -> float:
        return self.overturned / self.issues if self.issues else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.overturned, self.issues)


def compute(engine: Engine, by: By) -> list[Group]:
    """The groups of *by*, most issues first (years in order); the corpus index must be synced."""
    counts: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for name, decision, n in conn.execute(text(_GROUP_SQL[by])):
            key = NOT_STATED if name is None else str(name)
            counts.setdefault(key, {"Upheld": 0, "Overturned": 0})[decision] += n
    groups = [Group(name, c["Upheld"], c["Overturned"]) for name, c in counts.items()]
    if by is By.year:
        return sorted(groups, key=lambda g: (g.name == NOT_STATED, g.name))
    return sorted(groups, key=lambda g: (-g.issues, g.name))


def total(groups: list[Group], name: str = "All") -> Group:
    """The sum of *groups* (for specialties, issues count once per specialty)."""
    return Group(name, sum(g.upheld for g in groups), sum(g.overturned for g in groups))


COLUMNS = ("group", "issues", "upheld", "overturned", "overturn_rate", "ci95_low", "ci95_high")


def _row(group: Group) -> tuple:
    low, high = group.interval
    return (group.name, group.issues, group.upheld, group.overturned, group.overturn_rate, low, high)


def write_csv(groups: list[Group], out: TextIO) -> None:
    """One row per group: counts, overturn rate and its Wilson 95% interval (as fractions)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for group in groups:
        name, issues, upheld, overturned, rate, low, high = _row(group)
        writer.writerow((name, issues, upheld, overturned, f"{rate:.4f}", f"{low:.4f}", f"{high:.4f}"))


def print_table(groups: list[Group], by: By, console: Console) -> None:
    """A table of the groups with percentages and intervals."""
    table = Table(title=f"Decisions by {by.value}", title_justify="left")
    table.add_column(by.value)
    for column in ("Issues", "Upheld", "Overturned", "Overturned %", "95% CI"):
        table.add_column(column, justify="right", no_wrap=True)
    for group in groups:
        low, high = group.interval
        table.add_row(
            group.name,
            str(group.issues),
            str(group.upheld),
            str(group.overturned),
            f"{100 * group.overturn_rate:.1f}%",
            f"{100 * low:.1f}–{100 * high:.1f}%",
        )
    console.print(table)


def chart(groups: list[Group], by: By, path: Path, top: int = 25) -> None:
    """A two-panel chart of the *top* largest groups: decisions per group, and the overturn rate
    with its 95% interval against the overall rate. The format follows *path*'s suffix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = sorted(groups, key=lambda g: -g.issues)[:top][::-1] if by is not By.year else groups[::-1]
    names = [g.name if len(g.name) <= 40 else g.name[:39] + "…" for g in shown]
    ys = range(len(shown))
    fig, (left, right) = plt.subplots(
        1,
        2,
        figsize=(12, 1.2 + 0.38 * max(len(shown), 3)),
        sharey=True,
        gridspec_kw={"width_ratios": [1, 1.3]},
    )
    upheld, overturned = [g.upheld for g in shown], [g.overturned for g in shown]
    left.barh(ys, upheld, color="#9aa5b1", label="Upheld")
    left.barh(ys, overturned, left=upheld, color="#d9480f", label="Overturned")
    left.set_yticks(list(ys), names)
    left.set_xlabel("Issues")
    left.legend(loc="lower right", frameon=False)
    left.set_title("Decisions", loc="left")
    rates = [100 * g.overturn_rate for g in shown]
    lows = [max(0.0, r - 100 * g.interval[0]) for r, g in zip(rates, shown, strict=True)]
    highs = [max(0.0, 100 * g.interval[1] - r) for r, g in zip(rates, shown, strict=True)]
    right.errorbar(rates, ys, xerr=[lows, highs], fmt="o", color="#d9480f", ecolor="#495057", capsize=3)
    overall = total(groups)
    right.axvline(100 * overall.overturn_rate, color="#495057", linestyle="--", linewidth=1)
    right.text(100 * overall.overturn_rate, len(shown) - 0.4, " all issues", color="#495057", fontsize=8)
    right.set_xlim(0, 100)
    right.set_xlabel("Overturned, % of issues (Wilson 95% interval)")
    right.set_title("Overturn rate", loc="left")
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"IMR decisions by {by.value} ({overall.issues} issues)", x=0.01, ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=150 if path.suffix == ".png" else None)
    plt.close(fig)
