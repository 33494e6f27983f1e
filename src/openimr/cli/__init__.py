"""The ``openimr`` command line: one Typer app, one sub-app or command per concept.

Each command's module is imported only when that command runs (or when help lists it), so
``openimr letters parse`` does not pay for the web app, the corpus or scikit-learn.
"""

from __future__ import annotations

import importlib

import click
import typer
from typer.core import TyperGroup

# name -> (module, attribute): a Typer sub-app, or a command function.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("openimr.cli.cases", "demo"),
    "serve": ("openimr.cli.web", "serve"),
    "review": ("openimr.cli.review", "review_command"),
    "eval": ("openimr.cli.review", "eval_command"),
    "train": ("openimr.cli.review", "train_command"),
    "search": ("openimr.cli.corpus", "search"),
    "similar": ("openimr.cli.corpus", "similar"),
    "stats": ("openimr.cli.corpus", "stats"),
    "export": ("openimr.cli.corpus", "export"),
    "letters": ("openimr.cli.letters", "app"),
    "reviewers": ("openimr.cli.cases", "reviewers_app"),
    "cases": ("openimr.cli.cases", "cases_app"),
    "requests": ("openimr.cli.requests", "app"),
}


def load_command(name: str) -> click.Command:
    """The click command behind *name*, importing its module now."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer()
    single.command(name)(target)
    return typer.main.get_command(single)


class LazyGroup(TyperGroup):
    """A command group that imports each command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None


app = typer.Typer(
    cls=LazyGroup,
    help="OpenIMR: California workers' compensation Independent Medical Review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """OpenIMR: California workers' compensation Independent Medical Review."""
