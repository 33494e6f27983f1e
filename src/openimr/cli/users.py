"""``openimr users ...``: the accounts an administrator looks after from the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from openimr.cli.cases import Actor, case_service
from openimr.cli.store import DbOption

app = typer.Typer(help="Accounts: reset a password.", no_args_is_help=True)


def _new_password() -> str:
    """The temporary password: asked twice and not shown at a terminal, else standard input's first
    line; one too short or too long is one error line and exit 1."""
    from pydantic import ValidationError

    from openimr.services.schemas import PasswordResetIn

    if sys.stdin.isatty():
        typed = typer.prompt("Temporary password", hide_input=True, confirmation_prompt=True)
    else:
        typed = sys.stdin.readline().rstrip("\r\n")
    try:
        return PasswordResetIn(password=typed).password
    except ValidationError as exc:
        why = exc.errors()[0]["msg"].replace("String should", "it should")
        typer.echo(f"error: the temporary password: {why}", err=True)
        raise typer.Exit(1) from exc


@app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="The account whose password to reset.")],
    db: DbOption = None,
    actor: Actor = None,
) -> None:
    """Set a temporary password for USERNAME and sign the account out everywhere (its sessions and
    API tokens end). The password is asked for twice at a terminal and never shown; piped, it is
    the first line of standard input. The reset is written to the audit log, the password never.
    Tell the account's owner the password in person and ask them to change it."""
    from openimr.services.users import Users

    with case_service(db, actor) as (cases, who):  # the store first: no password asked for nothing
        Users(cases.store).reset_password(who, username, _new_password())
    typer.echo(f"Password of {username} reset; its sessions and API tokens have ended.")
