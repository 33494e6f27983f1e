"""``openimr reviewers ...``, ``openimr cases ...`` and ``openimr demo``: the IMR process."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from openimr.core.case import Application
from openimr.core.errors import ImmutableError
from openimr.core.process.roster import ReviewerIn
from openimr.core.process.workflow import Status, TransitionError
from openimr.core.roles import Principal
from openimr.services import demo as examples
from openimr.services.cases import CaseService, ConflictError, ProcessError, operator
from openimr.services.render import FORMATS, render
from openimr.store.db import Store, default_db_url

reviewers_app = typer.Typer(help="The expert reviewer roster.", no_args_is_help=True)
cases_app = typer.Typer(
    help="IMR cases: intake, assignment, decisions, letters, audit.", no_args_is_help=True
)

Db = Annotated[str | None, typer.Option("--db", help="Database URL (default: $OPENIMR_DB or ./openimr.db).")]
Actor = Annotated[
    str | None, typer.Option("--as", help="Who acts, for the audit log (default: the login name).")
]
Today = Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="The date to act as of.")]
EXIT_CONFLICT = 3


@contextmanager
def _service(db: str | None, actor: str | None = None) -> Iterator[tuple[CaseService, Principal]]:
    """The case service on the store at *db* (opened once, upgraded first) and the command line's
    actor, with their failures turned into one-line errors and exit codes."""
    try:
        store = Store.open(db)
    except Exception as exc:
        typer.echo(f"error: cannot open the database: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        yield CaseService(store), operator(actor)
    except ConflictError as exc:
        typer.echo(f"conflict: {exc}", err=True)
        raise typer.Exit(EXIT_CONFLICT) from exc
    except (ProcessError, TransitionError, ImmutableError, ValidationError, OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()


def _today(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


def _roster_row(row: dict[str, str]) -> dict:
    """A CSV row as a :class:`ReviewerIn` dict: lists split on ';', licences as STATE:KIND:NUMBER:STATUS."""
    licenses = []
    for text in filter(None, (t.strip() for t in row.get("licenses", "").split(";"))):
        state, kind, number, status = [*text.split(":"), "", "", ""][:4]
        licenses.append({"state": state, "kind": kind, "number": number, "status": status or "active"})
    return {
        **row,
        "licenses": licenses,
        "specialties": [s.strip() for s in row.get("specialties", "").split(";") if s.strip()],
        "affiliations": [a.strip() for a in row.get("affiliations", "").split(";") if a.strip()],
    }


@reviewers_app.command("import")
def import_reviewers(
    file: Annotated[Path, typer.Argument(help="Roster as .json (a list of reviewers) or .csv.")],
    db: Db = None,
    actor: Actor = None,
) -> None:
    """Create or update reviewers by code (importing the same file again changes nothing)."""
    with _service(db, actor) as (cases, who):
        if file.suffix.lower() == ".csv":
            with file.open(newline="", encoding="utf-8") as handle:
                raw = [_roster_row(row) for row in csv.DictReader(handle)]
        else:
            raw = json.loads(file.read_text("utf-8"))
        counts = cases.import_reviewers(who, [ReviewerIn.model_validate(r) for r in raw])
        typer.echo(", ".join(f"{n} {what}" for what, n in counts.model_dump().items()))


@cases_app.command("create")
def create(
    file: Annotated[
        Path, typer.Argument(help="CASE.json (case.schema.json plus parties, UR items, documents).")
    ],
    db: Db = None,
    actor: Actor = None,
) -> None:
    """Take in a case: eligibility, due date, and records requested (or closed as ineligible)."""
    with _service(db, actor) as (cases, who):
        case = Application.model_validate_json(file.read_bytes())
        contents = {doc.path: (file.parent / doc.path).read_bytes() for doc in case.documents}
        done = cases.create_case(who, case, contents)
        typer.echo(f"{done.case_number}: {done.status}" + ("" if done.created else " (already taken in)"))


@cases_app.command("list")
def list_cases(
    status: Annotated[
        str | None, typer.Option(help=f"Only cases in this status ({', '.join(Status)}).")
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open cases past their due date.")] = False,
    at_risk: Annotated[
        bool, typer.Option("--at-risk", help="Only open cases close to their due date.")
    ] = False,
    today: Today = None,
    db: Db = None,
) -> None:
    """Cases by due date, with each open case's standing against its deadline."""
    with _service(db) as (cases, who):
        wanted = {s for s, on in (("overdue", overdue), ("at_risk", at_risk)) if on}
        page = cases.list_cases(who, _today(today), Status(status) if status else None, wanted)
        table = Table("case", "status", "priority", "timeframe", "due", "standing", "reviewer")
        for c in page.items:
            table.add_row(
                c.case_number,
                c.status,
                c.priority,
                c.timeframe,
                str(c.due_date),
                c.standing or "",
                c.reviewer or "",
            )
        Console(width=140).print(table)


@cases_app.command("assign")
def assign(
    cases: Annotated[list[str] | None, typer.Argument(help="Case numbers.")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="Every case awaiting a reviewer.")] = False,
    today: Today = None,
    db: Db = None,
    actor: Actor = None,
) -> None:
    """Assign cases to qualified, unconflicted reviewers as one optimized batch, and say why."""
    if not cases and not all_cases:
        typer.echo("error: name cases or pass --all", err=True)
        raise typer.Exit(1)
    with _service(db, actor) as (service, who):
        for outcome in service.assign(who, None if all_cases else cases, _today(today)):
            typer.echo(f"{outcome.case_number}: {outcome.reviewer or 'not assigned'}")
            for reason in outcome.why:
                typer.echo(f"  why: {reason}")
            for code, reason in outcome.others.items():
                typer.echo(f"  not {code}: {reason}")


@cases_app.command("decide")
def decide(
    case: str,
    item: Annotated[int, typer.Option("--item", help="The disputed item's number (1 = first).")],
    decision: Annotated[str, typer.Option("--decision", help="Upheld or Overturned.")],
    guideline: Annotated[str, typer.Option("--guideline", help="The guideline the decision rests on.")],
    rationale: Annotated[str, typer.Option("--rationale", help="The decision rationale.")],
    evidence_level: Annotated[
        str | None, typer.Option(help="Labor Code 4610.5(c)(2) level A-F (default A for an MTUS guideline).")
    ] = None,
    expect_version: Annotated[
        int, typer.Option(help="The item's version as you last saw it (0: undecided); guards against races.")
    ] = 0,
    db: Db = None,
    actor: Actor = None,
) -> None:
    """Decide one disputed item; the case is decided once every eligible item is."""
    with _service(db, actor) as (cases, who):
        done = cases.decide(who, case, item, decision, guideline, rationale, evidence_level, expect_version)
        typer.echo(f"{case} item {item}: {decision} (version {done.version})")


def _write(body: str | bytes, out: Path | None) -> None:
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        typer.echo(f"wrote {out}", err=True)


@cases_app.command("issue")
def issue(
    case: str,
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")] = "pdf",
    out: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    today: Today = None,
    db: Db = None,
    actor: Actor = None,
) -> None:
    """Issue the Final Determination letter (frozen from then on) and write it; again: the same letter."""
    with _service(db, actor) as (cases, who):
        letter, _ = cases.issue(who, case, _today(today))
        _write(render(letter, fmt), out)


@cases_app.command("notice")
def notice(
    case: str,
    out: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    db: Db = None,
) -> None:
    """The notice an ineligible case closed with."""
    with _service(db) as (cases, who):
        _write(cases.notice(who, case), out)


@cases_app.command("withdraw")
def withdraw(
    case: str,
    reason: Annotated[
        str, typer.Option(help="Why, e.g. 'treatment authorized by the claims administrator'.")
    ],
    db: Db = None,
    actor: Actor = None,
) -> None:
    """Close an open case without a determination."""
    with _service(db, actor) as (cases, who):
        cases.withdraw(who, case, reason)
        typer.echo(f"{case}: withdrawn")


@cases_app.command("audit")
def audit(case: str, db: Db = None) -> None:
    """Every change to the case: when, who, what, before and after (one JSON object a line)."""
    with _service(db) as (cases, who):
        for row in cases.audit_log(who, case).items:
            record = {
                "at": row.at.isoformat(),
                "actor": row.actor,
                "entity": row.entity,
                "key": row.key,
                "action": row.action,
                "before": row.before,
                "after": row.after,
            }
            typer.echo(json.dumps(record))


def demo(
    db: Db = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the letters.")] = Path("demo-letters"),
) -> None:
    """Load example reviewers and cases and carry each through the whole IMR process."""
    with _service(db, "openimr-demo") as (cases, who):
        paths = examples.run(cases, who, out, dt.date.today())
        typer.echo(f"database: {db or default_db_url()}")
        for case in cases.list_cases(who, dt.date.today()).items:
            typer.echo(
                f"{case.case_number}: {case.status}" + (f" ({case.reviewer})" if case.reviewer else "")
            )
        typer.echo(f"letters and notices in {out.resolve()}:")
        for path in paths:
            typer.echo(f"  {path}")
