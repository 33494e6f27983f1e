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
    "demo": ("openimr.process.cli", "demo"),
    "serve": ("openimr.web.cli", "serve"),
    "review": ("openimr.review.cli", "review_command"),
    "eval": ("openimr.review.cli", "eval_command"),
    "train": ("openimr.review.cli", "train_command"),
    "search": ("openimr.corpus.cli", "search"),
    "similar": ("openimr.corpus.cli", "similar"),
    "stats": ("openimr.corpus.cli", "stats"),
    "export": ("openimr.corpus.cli", "export"),
    "letters": ("openimr.letters.cli", "app"),
    "reviewers": ("openimr.process.cli", "reviewers_app"),
    "cases": ("openimr.process.cli", "cases_app"),
    "requests": ("openimr.requests.cli", "app"),
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
