"""The ``openimr`` command line: one Typer app, one sub-app or command per concept.

Each command's module is imported only when that command runs or shows its help: ``openimr
--help`` lists the commands from the summaries kept here, so it imports none of them, and
``openimr letters parse`` does not pay for the web app, the corpus or scikit-learn.

Help is written for people: values are named ``FILE``, ``N``, ``a|b|c`` rather than Python
types, ranges are said in words, paragraphs are not broken mid-sentence, and piped help is
100 columns wide.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# name -> (module, attribute, summary): a Typer sub-app or a command function, and the first
# paragraph of its help, which ``openimr --help`` lists without importing the module.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": (
        "openimr.cli.cases",
        "demo",
        "Load example reviewers and cases and carry each through the whole IMR process.",
    ),
    "serve": (
        "openimr.cli.web",
        "serve",
        "Serve the web workbench and the HTTP API (OpenAPI at /openapi.json).",
    ),
    "review": (
        "openimr.cli.review",
        "review_command",
        "Recommend Upheld or Overturned for each disputed item, with the governing guideline, "
        "the criteria met or missed, a calibrated p_overturn and a draft rationale.",
    ),
    "eval": (
        "openimr.cli.review",
        "eval_command",
        "Cross-validate the engine on decided letters, nested and grouped by letter, and print every "
        "figure (mean ± sd over repeated splits) beside the baselines run on the same folds.",
    ),
    "train": (
        "openimr.cli.review",
        "train_command",
        "Fit the overturn, guideline-family and reason models on decided letters and save them (by "
        "default over the models shipped in the package: this is how they were built).",
    ),
    "search": (
        "openimr.cli.corpus",
        "search",
        "Search the stored decisions: one hit per line with its letter, item, decision and guideline.",
    ),
    "similar": (
        "openimr.cli.corpus",
        "similar",
        "Past decisions on items like ITEM: same category, drug or class, body part, amount and wording.",
    ),
    "stats": (
        "openimr.cli.corpus",
        "stats",
        "Issues, Upheld/Overturned and overturn rates with Wilson 95% intervals, as a table, "
        "JSON, CSV or chart. By specialty an issue counts under each of its reviewer's "
        "specialties; the title and the overall figures count it once.",
    ),
    "export": (
        "openimr.cli.corpus",
        "export",
        "Export the structured corpus, one row per issue, to CSV or Parquet.",
    ),
    "letters": (
        "openimr.cli.letters",
        "app",
        "Read and write IMR Final Determination letters.",
    ),
    "db": (
        "openimr.cli.db",
        "app",
        "The database's schema: upgrade it to this version of OpenIMR, or show its revision.",
    ),
    "reviewers": ("openimr.cli.cases", "reviewers_app", "The expert reviewer roster."),
    "users": ("openimr.cli.users", "app", "Accounts: reset a password."),
    "cases": (
        "openimr.cli.cases",
        "cases_app",
        "IMR cases: intake, assignment, decisions, letters, audit.",
    ),
    "requests": (
        "openimr.cli.requests",
        "app",
        "Parse disputed items into structured requests.",
    ),
    "guidelines": (
        "openimr.cli.guidelines",
        "app",
        "The encoded MTUS rules and loaded criteria packs: list, show, check, load, unload, and the"
        " quotes decisions make.",
    ),
    "report": (
        "openimr.cli.report",
        "app",
        "Reports on the IMR process: CMS-0057-F style metrics.",
    ),
    "formulary": (
        "openimr.cli.guidelines",
        "formulary",
        "A drug's MTUS Drug List status on a date of service (default today).",
    ),
}

PIPED_WIDTH = 100
"""Help's width when it is not written to a terminal (a terminal's own width is used there)."""

_BULLET = re.compile(r"\s*([-*•]|\d+[.)])\s")


def first_paragraph(command: Any) -> str:
    """What a listing shows for *command*: its short help, else its help's first paragraph."""
    return command.short_help or flowed(command.help or "").split("\n\n")[0]


def flowed(text: str) -> str:
    """*text* with each paragraph on one line, so that help wraps at words, not mid-sentence.

    Paragraphs that start with ``\\b`` keep their lines, as do list items; anything after a
    ``\\f`` line (click's marker for text help leaves out) is dropped.
    """
    paragraphs = []
    for paragraph in inspect.cleandoc(text).partition("\f")[0].split("\n\n"):
        if paragraph.startswith("\b"):
            paragraphs.append(paragraph)
            continue
        lines: list[str] = []
        for line in paragraph.splitlines():
            if lines and not _BULLET.match(line):
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs).strip()


def _type_name(annotation: Any, param: TyperArgument | TyperOption) -> str:
    """A human name for values of *annotation*: FILE, N, TEXT, a|b, ..."""
    descriptor = param.type_descriptor
    if descriptor.choices is not None:
        return "|".join(str(getattr(choice, "value", choice)) for choice in dict.fromkeys(descriptor.choices))
    if get_origin(annotation) in (list, tuple):
        return " ".join(_type_name(arg, param) for arg in get_args(annotation) if arg is not ...)
    if descriptor.is_path or (isinstance(annotation, type) and issubclass(annotation, os.PathLike)):
        return {"file": "FILE", "dir": "FOLDER"}.get(descriptor.path_type, "PATH")
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return "yes|no"
        if issubclass(annotation, int):
            return "N"
        if issubclass(annotation, float):
            return "NUMBER"
        if issubclass(annotation, datetime):
            return "DATE"
    return "TEXT"


def _wrap_choices(shown: str, width: int = 24) -> str:
    """*shown* broken after a ``|`` where it is wider than *width*, so no choice is split."""
    lines = [""]
    for choice in shown.split("|"):
        if lines[-1] and len(lines[-1]) + len(choice) >= width:
            lines.append("")
        lines[-1] += f"{choice}|"
    return "\n".join(lines)[:-1]


def _range_words(low: float | None, high: float | None) -> str | None:
    """``at least 1``, ``at most 9``, ``1 to 9``, or None without bounds."""
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"at least {low}"
    if high is not None:
        return f"at most {high}"
    return None


class HumanArgument(TyperArgument):
    """An argument shown by its human value name.

    The one place help reaches past typer's settings: since typer 0.27 an argument's type column
    shows its Python type (``<str>``) whatever its metavar, and the usage line puts a required
    argument in braces (``{name}``), and no setting changes either.
    """

    human_type: str | None = None

    def display_type_rich(self, ctx: typer.Context) -> str | None:
        return _wrap_choices(self.human_type) if self.human_type else None

    def get_usage_pieces(self, ctx: typer.Context) -> list[str]:
        return [self.metavar if self.required else f"[{self.metavar}]"]


def humanize(params: Iterable[Any]) -> None:
    """Name the values of typer's parameters in *params* for people, with their ranges in words.

    An option gets its name through its ``metavar`` (none for a flag or a count) and its range
    through its ``help``; typer's own ``x>=1`` is then not shown (typer checks the range against
    the declaration, not against these attributes).
    """
    for param in params:
        if isinstance(param, TyperArgument) and not isinstance(param, HumanArgument):
            shown = param.metavar or param.name.upper()
            param.metavar = f"{shown}..." if param.nargs != 1 else shown
            param.__class__ = HumanArgument
            kind = _type_name(param.type_descriptor.annotation, param)
            param.human_type = None if kind == "TEXT" else kind
        elif isinstance(param, TyperOption) and param.metavar is None:
            flag = param.is_flag or param.count
            param.metavar = "" if flag else _wrap_choices(_type_name(param.type_descriptor.annotation, param))
        elif not isinstance(param, TyperArgument | TyperOption):
            continue
        words = _range_words(param.min, param.max)
        if words and words not in (param.help or "") and not (param.count and param.max is None):
            text = (param.help or "").rstrip().removesuffix(".")
            param.help = f"{text} ({words})." if text else f"{words.capitalize()}."
        param.min = param.max = None


class HelpContext(typer.Context):
    """A context whose help shows human parameters, as wide as the terminal or 100 if piped."""

    def get_help(self) -> str:
        humanize(self.command.get_params(self))
        if typer.core.HAS_RICH and not os.environ.get("TERMINAL_WIDTH"):
            from typer import rich_utils

            piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
            rich_utils.MAX_WIDTH = PIPED_WIDTH if piped else None
        return super().get_help()


def prepare(command: Any) -> None:
    """Make *command* and everything under it show human help (see :class:`HelpContext`)."""
    command.context_class = HelpContext
    command.help = flowed(command.help) if command.help else command.help
    ctx = HelpContext(command)
    humanize(command.get_params(ctx))
    if isinstance(command, TyperGroup):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                prepare(sub)


def load_command(name: str) -> Any:
    """The click command behind *name*, importing its module now, with human help."""
    module, attribute = COMMANDS[name][:2]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
        command.name = name
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    prepare(command)
    return command


def one_line(exc: Exception) -> str | None:
    """*exc* as one line for people, if it is a refusal or a problem with a file or the database:
    an OpenIMRError, a file that cannot be read or written (``FILE: why``), a database URL that is
    wrong or a database that cannot be reached; None for anything else (a bug, shown as one)."""
    from openimr.core.errors import FileProblem, OpenIMRError

    if isinstance(exc, OpenIMRError | FileProblem):
        return str(exc)
    if isinstance(exc, OSError):
        why = exc.strerror or str(exc)
        return f"{exc.filename}: {why}" if exc.filename is not None else why
    database = sys.modules.get("sqlalchemy.exc")
    if database is not None and isinstance(exc, database.SQLAlchemyError):
        return "the database: " + " ".join(str(getattr(exc, "orig", None) or exc).split())
    return None


class LazyGroup(TyperGroup):
    """A command group that imports each command's module on first use.

    Its own help lists the commands from their summaries in :data:`COMMANDS`, importing none.
    """

    context_class = HelpContext
    listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if self.listing:
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name][2])
        return load_command(cmd_name)

    def invoke(self, ctx: typer.Context) -> Any:
        """Run the command; what a command leaves unanswered becomes one ``error:`` line, not a
        traceback (see :func:`one_line`)."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # stdout's reader went away: pipe_safe, or click itself, ends quietly
        except Exception as exc:
            line = one_line(exc)
            if line is None:
                raise
            typer.echo(f"error: {line}", err=True)
            raise typer.Exit(getattr(exc, "exit_code", 1)) from None

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    cls=LazyGroup,
    help="OpenIMR: California workers' compensation Independent Medical Review.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """OpenIMR: California workers' compensation Independent Medical Review."""
