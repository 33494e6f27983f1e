"""``openimr db upgrade`` and ``openimr db current``: the store's schema revision."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from openimr.cli.store import DbOption

if TYPE_CHECKING:
    from sqlalchemy.exc import SQLAlchemyError

app = typer.Typer(
    help="The database's schema: upgrade it to this version of OpenIMR, or show its revision.",
    no_args_is_help=True,
)


def _revision(revisions: set[str]) -> str:
    return ", ".join(sorted(revisions)) or "no schema"


def _failed(url: str, exc: SQLAlchemyError) -> typer.Exit:
    why = " ".join(str(getattr(exc, "orig", None) or exc).split())
    typer.echo(f"error: {url}: {why}", err=True)
    return typer.Exit(1)


@app.command()
def upgrade(db: DbOption = None) -> None:
    """Bring the database's schema to the newest revision (creating it in a new database).

    Every command that uses the database does this at start-up; run it on its own before serving
    a new version, or to check that the database is reachable. Running it again changes nothing.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from openimr.services import database

    shown = database.shown(db)
    try:
        before, after = database.upgrade(db)
    except SQLAlchemyError as exc:
        raise _failed(shown, exc) from None
    if before == after:
        typer.echo(f"{shown}: already at {_revision(after)} (head)")
    else:
        typer.echo(f"{shown}: upgraded from {_revision(before)} to {_revision(after)} (head)")


@app.command()
def current(db: DbOption = None) -> None:
    """Print the database's schema revision, and whether it is the newest (exit status 1 if not)."""
    from sqlalchemy.exc import SQLAlchemyError

    from openimr.services import database

    shown = database.shown(db)
    try:
        revisions, head = database.revisions(db)
    except SQLAlchemyError as exc:
        raise _failed(shown, exc) from None
    at_head = revisions == head
    state = "(head)" if at_head else f"(behind {_revision(head)}: run openimr db upgrade)"
    typer.echo(f"{shown}: {_revision(revisions)} {state}")
    if not at_head:
        raise typer.Exit(1)
