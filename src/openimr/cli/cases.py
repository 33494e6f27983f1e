"""``openimr reviewers ...``, ``openimr cases ...`` and ``openimr demo``: the IMR process."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from openimr.cli.output import console, not_to_terminal, pipe_safe
from openimr.cli.store import DbOption
from openimr.core.process.workflow import Status
from openimr.services.options import LetterForm, LetterFormat

if TYPE_CHECKING:
    from openimr.core.process.roster import ReviewerIn
    from openimr.core.roles import Principal
    from openimr.services.cases import CaseService

reviewers_app = typer.Typer(help="The expert reviewer roster.", no_args_is_help=True)
cases_app = typer.Typer(
    help="IMR cases: intake, assignment, decisions, letters, audit.", no_args_is_help=True
)

Actor = Annotated[
    str | None, typer.Option("--as", help="Who acts, for the audit log (default: the login name).")
]
Today = Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="The date to act as of.")]
Case = Annotated[
    str, typer.Argument(metavar="CASE", help="The case number, e.g. CM24-0000001 (as cases list shows it).")
]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")]
EXIT_CONFLICT = 3


@contextmanager
def case_service(
    db: str | None, actor: str | None = None, create: bool = False
) -> Iterator[tuple[CaseService, Principal]]:
    """The case service on the store at *db* (opened once, upgraded first; created only when
    *create*, else NoStore) and the command line's actor, with their failures turned into one-line
    errors and exit codes."""
    from pydantic import ValidationError

    from openimr.core.errors import OpenIMRError
    from openimr.core.validation import plain
    from openimr.services.access import operator
    from openimr.services.app import OpenIMR
    from openimr.services.database import creatable, existing

    url = creatable(db) if create else existing(db)
    try:
        app = OpenIMR.open(url)
    except Exception as exc:
        typer.echo(f"error: cannot open the database: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        yield app.cases, operator(actor)
    except BrokenPipeError:
        raise  # stdout's reader went away: pipe_safe ends the command quietly
    except OpenIMRError as exc:  # the class says how it exits
        typer.echo(f"{'conflict' if exc.exit_code == EXIT_CONFLICT else 'error'}: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from exc
    except ValidationError as exc:  # a line per problem, each naming its field in words
        for problem in plain(exc.errors()):
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1) from exc
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        app.close()


def _today(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


def _bad_rows(file: Path, exc: Any, row: int) -> list[str]:
    """One ``error: FILE: row N: field: problem`` line per problem pydantic found in row *row*."""
    lines = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in error["loc"]) or "row"
        lines.append(f"error: {file}: row {row}: {field}: {error['msg']}")
    return lines


def _read_roster(file: Path) -> list[ReviewerIn]:
    """The reviewers in *file* (.csv or .json), or exit 1 after one error line per bad row."""
    from pydantic import ValidationError

    from openimr.core.process.roster import ReviewerIn, csv_row

    try:
        if file.suffix.lower() == ".csv":
            with file.open(newline="", encoding="utf-8") as handle:
                raw: Any = [csv_row(row) for row in csv.DictReader(handle)]
        else:
            raw = json.loads(file.read_text("utf-8"))
    except OSError as exc:
        typer.echo(f"error: {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"error: {file}: not a UTF-8 {file.suffix.lstrip('.') or 'roster'} file ({exc})", err=True)
        raise typer.Exit(1) from None
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        typer.echo(f"error: {file}: a JSON roster is a list of reviewer objects", err=True)
        raise typer.Exit(1)
    reviewers, problems = [], []
    for row, entry in enumerate(raw, 1):
        try:
            reviewers.append(ReviewerIn.model_validate(entry))
        except ValidationError as exc:
            problems += _bad_rows(file, exc, row)
    for line in problems:
        typer.echo(line, err=True)
    if problems:
        raise typer.Exit(1)
    return reviewers


@reviewers_app.command("import")
@pipe_safe
def import_reviewers(
    file: Annotated[Path, typer.Argument(help="The roster: a .csv file, or a .json list of reviewers.")],
    db: DbOption = None,
    actor: Actor = None,
) -> None:
    """Create or update reviewers by code (importing the same file again changes nothing).

    \b
    A CSV roster has a header row and one reviewer a row (see examples/roster.csv):
      code                   unique, e.g. ORT-01 (required)
      name                   e.g. "Riley Example, M.D." (required)
      licenses               STATE:KIND:NUMBER:STATUS, several split by ';', e.g.
                             California:MD:A-100002:active (at least one; STATUS is
                             active, probation, suspended, revoked, expired or inactive;
                             default active)
      specialties            split by ';', e.g. Orthopedic Surgery;Sports Medicine
                             (at least one)
      active_practice_since  YYYY-MM-DD (required)
      weekly_clinical_hours  a number, at least 0 (required)
      affiliations           organizations the reviewer has ties to, split by ';'
                             (optional: their cases are not assigned to the reviewer)
      capacity               open cases at once, at least 0 (default 10)

    A JSON roster is a list of objects with the same keys; licenses, specialties and affiliations
    are lists there, each licence an object {"state", "kind", "number", "status", "expires"}.

    Nothing is imported when a row is wrong: each problem gets a line "error: FILE: row N: field:
    problem", row 1 being the first reviewer (the row after the CSV header), and the exit status
    is 1.
    """
    roster = _read_roster(file)
    with case_service(db, actor, create=True) as (cases, who):
        counts = cases.import_reviewers(who, roster)
        typer.echo(", ".join(f"{n} {what}" for what, n in counts.model_dump().items()))


ROSTER_COLUMNS = ("code", "name", "active_licenses", "specialties", "capacity", "open_assignments")


class RosterFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _active_licenses(licenses: list[dict[str, Any]], today: dt.date) -> list[str]:
    """Each active, unexpired licence as STATE:KIND:NUMBER (the roster's own notation)."""
    return [
        ":".join(filter(None, (lic.get("state"), lic.get("kind"), lic.get("number"))))
        for lic in licenses
        if lic.get("status", "active") == "active"
        and (not lic.get("expires") or dt.date.fromisoformat(str(lic["expires"])) >= today)
    ]


@reviewers_app.command("list")
@pipe_safe
def list_reviewers(
    fmt: Annotated[
        RosterFormat, typer.Option("--format", "-f", help="table, json (a list), or csv (one row each).")
    ] = RosterFormat.table,
    today: Today = None,
    db: DbOption = None,
) -> None:
    """The roster by code: each reviewer's active licences, specialties, capacity and open cases.

    A licence counts as active when its status is active and it has not expired (by --today).
    """
    day = _today(today)
    with case_service(db) as (cases, who):
        reviewers, page = [], 500
        while len(batch := cases.reviewers(who, page, len(reviewers)).items):
            reviewers += batch
            if len(batch) < page:
                break
    rows = [
        {
            "code": r.code,
            "name": r.name,
            "active_licenses": _active_licenses(r.licenses, day),
            "specialties": r.specialties,
            "capacity": r.capacity,
            "open_assignments": r.open_cases,
        }
        for r in reviewers
    ]
    if fmt is RosterFormat.json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif fmt is RosterFormat.csv:
        from openimr.services.csvout import CsvWriter

        CsvWriter(sys.stdout, ROSTER_COLUMNS).records(
            {k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows
        )
    else:
        from rich.table import Table

        table = Table("code", "name", "active licences", "specialties", "capacity", "open")
        for row in rows:
            table.add_row(
                row["code"],
                row["name"],
                "\n".join(row["active_licenses"]) or "none",
                "\n".join(row["specialties"]),
                str(row["capacity"]),
                str(row["open_assignments"]),
            )
        console().print(table)
        typer.echo(f"{len(rows)} reviewers", err=True)


@cases_app.command("create")
def create(
    file: Annotated[
        Path, typer.Argument(help="CASE.json (case.schema.json plus parties, UR items, documents).")
    ],
    db: DbOption = None,
    actor: Actor = None,
) -> None:
    """Take in a case: eligibility, due date, and records requested (or closed as ineligible)."""
    from openimr.core.case import Application

    with case_service(db, actor, create=True) as (cases, who):
        case = Application.model_validate_json(file.read_bytes())
        contents = {doc.path: (file.parent / doc.path).read_bytes() for doc in case.documents}
        done = cases.create_case(who, case, contents)
        typer.echo(f"{done.case_number}: {done.status}" + ("" if done.created else " (already taken in)"))


@cases_app.command("import")
def import_bundle(
    file: Annotated[
        Path, typer.Argument(help="BUNDLE.json: a PAS request Bundle with the UR ClaimResponse.")
    ],
    today: Today = None,
    db: DbOption = None,
    actor: Actor = None,
) -> None:
    """Take in a case from a FHIR R4 Bundle (Da Vinci PAS shaped); the same Bundle again is the same case.

    A Bundle that cannot be a case prints one line per problem, each named by its FHIRPath, and
    stores nothing (exit 1)."""
    from openimr.core.fhir.outcome import FhirError
    from openimr.services.fhir import submit

    with case_service(db, actor, create=True) as (cases, who):
        try:
            done = submit(cases, who, file.read_bytes(), _today(today))
        except FhirError as exc:
            for problem in exc.problems:
                typer.echo(f"error: {file}: {problem.where}: {problem.message}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{done.case_number}: {done.status}" + ("" if done.created else " (already taken in)"))


@cases_app.command("export")
@pipe_safe
def export_case(
    case: Case,
    out: Output = None,
    today: Today = None,
    db: DbOption = None,
    actor: Actor = None,
) -> None:
    """The issued determination as FHIR R4 JSON: ClaimResponse, letter PDF (DocumentReference), Provenance."""
    from openimr.core.fhir.outcome import FhirError
    from openimr.services.fhir import claim_response

    with case_service(db, actor) as (cases, who):
        try:
            bundle = claim_response(cases, who, case, _today(today), "urn:openimr")
        except FhirError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        _write(json.dumps(bundle, indent=2) + "\n", out)


@cases_app.command("list")
@pipe_safe
def list_cases(
    status: Annotated[Status | None, typer.Option(help="Only cases in this status.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open cases past their due date.")] = False,
    at_risk: Annotated[
        bool, typer.Option("--at-risk", help="Only open cases close to their due date.")
    ] = False,
    today: Today = None,
    db: DbOption = None,
) -> None:
    """Cases by due date, with each open case's standing against its deadline."""
    with case_service(db) as (cases, who):
        wanted = {s for s, on in (("overdue", overdue), ("at_risk", at_risk)) if on}
        page = cases.list_cases(who, _today(today), status, wanted)
        from rich.table import Table

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
        console().print(table)


@cases_app.command("assign")
@pipe_safe
def assign(
    cases: Annotated[
        list[str] | None, typer.Argument(metavar="CASE", help="Case numbers to assign (or --all).")
    ] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="Every case awaiting a reviewer.")] = False,
    today: Today = None,
    db: DbOption = None,
    actor: Actor = None,
) -> None:
    """Assign cases to qualified, unconflicted reviewers as one optimized batch, and say why."""
    if not cases and not all_cases:
        typer.echo("error: name cases or pass --all", err=True)
        raise typer.Exit(1)
    with case_service(db, actor) as (service, who):
        for outcome in service.assign(who, None if all_cases else cases, _today(today)):
            typer.echo(f"{outcome.case_number}: {outcome.reviewer or 'not assigned'}")
            for reason in outcome.why:
                typer.echo(f"  why: {reason}")
            for code, reason in outcome.others.items():
                typer.echo(f"  not {code}: {reason}")


@cases_app.command("decide")
def decide(
    case: Case,
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
    db: DbOption = None,
    actor: Actor = None,
) -> None:
    """Decide one disputed item; the case is decided once every eligible item is.

    Decisions are final once the case's letter is issued (exit status 1). Exit status 3 when
    someone else decided the item since you read it (pass --expect-version to replace theirs).
    """
    with case_service(db, actor) as (cases, who):
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
@pipe_safe
def issue(
    case: Case,
    fmt: Annotated[LetterFormat, typer.Option("--format", "-f", help="The letter's file format.")] = "pdf",
    form: Annotated[
        LetterForm,
        typer.Option(
            "--form",
            help="sent: the letter to the parties (letterhead, addressees, appeal rights, signature);"
            " published: the redacted form of the published letters (txt is always this form).",
        ),
    ] = "sent",
    out: Output = None,
    today: Today = None,
    db: DbOption = None,
    actor: Actor = None,
) -> None:
    """Issue the Final Determination letter (frozen from then on) and write it; again: the same letter."""
    not_to_terminal(fmt, out)
    with case_service(db, actor) as (cases, who):
        day = _today(today)
        cases.issue(who, case, day)
        _write(cases.rendered(who, case, fmt, day, form), out)


@cases_app.command("notice")
@pipe_safe
def notice(
    case: Case,
    out: Output = None,
    db: DbOption = None,
) -> None:
    """The notice an ineligible case closed with."""
    with case_service(db) as (cases, who):
        _write(cases.notice(who, case), out)


@cases_app.command("withdraw")
def withdraw(
    case: Case,
    reason: Annotated[
        str, typer.Option(help="Why, e.g. 'treatment authorized by the claims administrator'.")
    ],
    db: DbOption = None,
    actor: Actor = None,
) -> None:
    """Close an open case without a determination."""
    with case_service(db, actor) as (cases, who):
        cases.withdraw(who, case, reason)
        typer.echo(f"{case}: withdrawn")


@cases_app.command("audit")
@pipe_safe
def audit(case: Case, db: DbOption = None) -> None:
    """Every change to the case: when, who, what, before and after (one JSON object a line)."""
    with case_service(db) as (cases, who):
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


@pipe_safe
def demo(
    db: DbOption = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the letters.")] = Path("demo-letters"),
) -> None:
    """Load example reviewers and cases and carry each through the whole IMR process."""
    from openimr.services import demo as examples
    from openimr.services.database import url_of

    with case_service(db, "openimr-demo", create=True) as (cases, who):
        paths = examples.run(cases, who, out, dt.date.today())
        typer.echo(f"database: {url_of(db)}")
        for case in cases.list_cases(who, dt.date.today()).items:
            typer.echo(
                f"{case.case_number}: {case.status}" + (f" ({case.reviewer})" if case.reviewer else "")
            )
        typer.echo(f"letters and notices in {out.resolve()}:")
        for path in paths:
            typer.echo(f"  {path}")
