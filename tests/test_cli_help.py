"""Every ``--help`` page is for people: no Python types, no completion options, no split words,
summaries that match the commands, and a root help that imports no command's module."""

from __future__ import annotations

import datetime as dt
import enum
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from openimr.cli import COMMANDS, PIPED_WIDTH, app, first_paragraph, flowed, load_command

LEAKED_TYPE = re.compile(
    r"<(list|int|bool|str|Path|path|file|dir|float|datetime)\b|<[a-z_]+\[|\[x>=|x<=|\{[a-z_]+\}\.\.\."
)
BOX = re.compile(r"[│╭╮╰╯─]")
# Words typer itself writes on a help page.
TYPER_WORDS = "openimr Usage OPTIONS COMMAND ARGS Arguments Options Commands default required env var"


def _paths(command: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """*path* and the path of every subcommand under *command*."""
    found = [path]
    if isinstance(command, TyperGroup):
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            found += _paths(command.get_command(ctx, name), (*path, name))
    return found


def _command_at(path: tuple[str, ...]) -> Any:
    command = load_command(path[0])
    for name in path[1:]:
        command = command.get_command(typer.Context(command), name)
    return command


def _all_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = [()]
    for name in COMMANDS:
        try:
            paths += _paths(load_command(name), (name,))
        except ImportError:  # reported by the test for that command, not here
            paths.append((name,))
    return paths


def _help(args: list[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("TERMINAL_WIDTH", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="openimr")
    assert result.exit_code == 0, result.output
    return result.output


def _vocabulary(command: Any) -> set[str]:
    """Every word the help page of *command* may show, from the texts it is made of."""
    texts = [TYPER_WORDS, command.name or "", command.help or "", command.epilog or ""]
    if isinstance(command, TyperGroup):
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            texts += [name, sub.short_help or "", sub.help or ""]
    for param in command.get_params(typer.Context(command)):
        texts += [param.name or "", param.help or "", str(param.metavar or "")]
        texts += [*param.opts, *param.secondary_opts, str(getattr(param, "human_type", ""))]
        texts += [str(param.default), str(getattr(param, "envvar", "") or "")]
        texts += [str(getattr(c, "value", c)) for c in getattr(param.type_descriptor, "choices", None) or ()]
    return {word.casefold() for text in texts for word in re.findall(r"[A-Za-z]+", text)}


def _assert_human(output: str, command: Any, path: tuple[str, ...] = ()) -> None:
    leaked = LEAKED_TYPE.search(output)
    assert leaked is None, f"Python type {leaked.group()!r} in:\n{output}"
    assert "--install-completion" not in output and "--show-completion" not in output
    known = _vocabulary(command) | {name.casefold() for name in path}
    split = {w for w in re.findall(r"[A-Za-z]+", BOX.sub(" ", output)) if w.casefold() not in known}
    assert not split, f"words split across lines or not from the help text: {split}\n{output}"


@pytest.mark.parametrize("path", _all_paths(), ids=lambda p: " ".join(p) or "openimr")
def test_every_help_page_is_human(path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    output = _help(list(path), monkeypatch)
    command = _command_at(path) if path else typer.main.get_command(app)
    _assert_human(output, command, path)
    assert max(len(line) for line in output.splitlines()) == PIPED_WIDTH


@pytest.mark.parametrize("name", list(COMMANDS))
def test_summary_is_the_commands_first_paragraph(name: str) -> None:
    assert len(COMMANDS[name]) == 3, f"COMMANDS[{name!r}] has no summary for `openimr --help`"
    assert COMMANDS[name][2] == first_paragraph(load_command(name))


def test_root_help_imports_no_command_module() -> None:
    code = (
        "import sys; from openimr.cli import app\n"
        "assert 'typer.rich_utils' not in sys.modules and 'rich' not in sys.modules\n"
        "try: app(['--help'], prog_name='openimr')\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('openimr.')))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.splitlines()[-1] == "['openimr.cli']"
    assert "letters" in run.stdout and "Read and write IMR Final Determination letters." in run.stdout


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


def _hostile(
    letters: Annotated[list[Path], typer.Argument(dir_okay=False, help="Letters to read.")],
    out: Annotated[Path, typer.Option(dir_okay=False, help="Where to write.")] = Path("o"),
    into: Annotated[Path | None, typer.Option(file_okay=False, help="A folder.")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    share: Annotated[float, typer.Option(min=0, max=1, help="Share kept.")] = 0.5,
    since: Annotated[dt.datetime | None, typer.Option(help="Earliest decision.")] = None,
    colour: Annotated[Colour, typer.Option(help="Paint.")] = Colour.RED,
    tags: Annotated[list[str] | None, typer.Option(help="Tags.")] = None,
    verbose: Annotated[int, typer.Option("-v", count=True, help="Say more.")] = 0,
    dry_run: Annotated[bool, typer.Option(help="Change nothing.")] = False,
) -> None:
    """Read the letters and do
    nothing with them, a sentence that the docstring breaks
    in three lines.

    - a list item
    - stays on its own line
    """


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> str:
    module = types.ModuleType("hostile_cli")
    module.hostile = _hostile  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hostile_cli", module)
    monkeypatch.setitem(COMMANDS, "hostile", ("hostile_cli", "hostile", "Read the letters."))
    return "hostile"


def test_every_kind_of_parameter_gets_a_human_name(hostile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    output = _help([hostile], monkeypatch)
    _assert_human(output, load_command(hostile))
    assert "Usage: openimr hostile [OPTIONS] LETTERS..." in output
    rows = {}
    for line in BOX.sub(" ", output).splitlines():
        words = [word for word in line.split() if word != "*"]
        if words:
            rows[words[0]] = line
    assert " FILE " in rows["LETTERS..."]
    assert " FILE " in rows["--out"] and " FOLDER " in rows["--into"]
    assert " N " in rows["--jobs"] and "Worker processes (at least 1)." in rows["--jobs"]
    assert " NUMBER " in rows["--share"] and "Share kept (0 to 1)." in rows["--share"]
    assert " DATE " in rows["--since"] and " red|blue " in rows["--colour"]
    assert " TEXT " in rows["--tags"]
    assert re.search(r"-v\s+Say more\.", rows["-v"])
    assert re.search(r"--dry-run\s+--no-dry-run\s+Change nothing\.", rows["--dry-run"])


def test_help_flows_paragraphs_but_keeps_list_items(hostile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    output = _help([hostile], monkeypatch)
    assert (
        "Read the letters and do nothing with them, a sentence that the docstring breaks in three lines."
        in output
    )
    assert re.search(r"- a list item\s*\n.*- stays on its own line", output)
    assert flowed("one\ntwo\n\n\b\nkept\nas is\f\nhidden") == "one two\n\n\b\nkept\nas is"


def test_a_narrow_terminal_wraps_at_words(hostile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERMINAL_WIDTH", raising=False)
    result = CliRunner().invoke(app, [hostile, "--help"], prog_name="openimr", env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 60
    _assert_human(result.output, load_command(hostile))
