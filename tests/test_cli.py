"""The root command: every command loads, and a command imports only its own module."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from openimr.cli import COMMANDS, app, load_command


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_loads_and_has_help(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    result = CliRunner().invoke(app, [name, "--help"], prog_name="openimr")
    assert result.exit_code == 0, result.output
    assert f"openimr {name}" in result.output


def test_a_command_imports_only_what_it_needs() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from openimr.cli import app; "
        "r = CliRunner().invoke(app, ['requests', 'parse', 'Norco 10/325mg #60']); "
        "assert r.exit_code == 0, r.output; "
        "heavy = ('sklearn', 'fastapi', 'sqlalchemy', 'pandas', 'torch'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
