"""Tables on the terminal: the corpus statistics and the process metrics, as rich renders them
(the services compute them; the command line shows them)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from openimr.services.metrics import Report, show
from openimr.services.stats import SEVERAL_SPECIALTIES, Breakdown, Group, Stats


def print_table(result: Breakdown, console: Console) -> None:
    """A table of the groups with percentages and intervals, titled with what it counts."""
    table = Table(title=result.title, title_justify="left")
    table.add_column(result.by.value)
    for column in ("Letters", "Issues", "Upheld", "Overturned", "Overturned %", "95% CI"):
        table.add_column(column, justify="right", no_wrap=True)
    for group in result.groups:
        low, high = group.interval
        table.add_row(
            group.name,
            str(group.letters),
            str(group.issues),
            str(group.upheld),
            str(group.overturned),
            f"{100 * group.overturn_rate:.1f}%",
            f"{100 * low:.1f}–{100 * high:.1f}%",
        )
    console.print(table)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _overview(title: str, label: str, groups: Iterable[Group], overall: Group) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    for column in ("Letters", "Issues", "Upheld", "Overturned", "Upheld %", "Overturned %"):
        table.add_column(column, justify="right", no_wrap=True)
    for group in groups:
        table.add_row(*_overview_cells(group))
    table.add_section()
    table.add_row(*_overview_cells(overall))
    return table


def _overview_cells(g: Group) -> tuple[str, ...]:
    counts = (g.letters, g.issues, g.upheld, g.overturned)
    return (g.name, *map(str, counts), _percent(g.upheld, g.issues), _percent(g.overturned, g.issues))


def print_stats(stats: Stats, console: Console) -> None:
    """Print the three breakdowns as tables, each ending with the totals (each issue once)."""
    family = "By guideline family (review organization)"
    console.print(_overview(family, "Guideline family", stats.by_family, stats.total))
    specialty = f"By reviewer specialty ({SEVERAL_SPECIALTIES})"
    console.print(_overview(specialty, "Specialty", stats.by_specialty, stats.total))
    console.print(_overview("By decision year", "Year", stats.by_year, stats.total))


def print_metrics(report: Report, console: Console) -> None:
    """The measures by priority, as a table."""
    table = Table(title=f"IMR determinations {report.year} (CMS-0057-F style measures)")
    for name in ("Priority", "Cases", "Upheld / partly / overturned", "Items", "Items overturned",
                 "On time", "Mean days", "Median days"):  # fmt: skip
        table.add_column(name, justify="left" if name == "Priority" else "right")
    for r in report.rows():
        table.add_row(
            r["priority"],
            str(r["cases"]),
            f"{r['cases_upheld']} / {r['cases_partly_overturned']} / {r['cases_overturned']}",
            str(r["items"]),
            f"{r['items_overturned']} ({show(r['item_overturn_rate'], True)})",
            f"{r['within_statutory_time']}/{r['timed_cases']}"
            f" ({show(r['within_statutory_time_share'], True)})",
            show(r["mean_days_records_to_decision"]),
            show(r["median_days_records_to_decision"]),
        )
    console.print(table)
