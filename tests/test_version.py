"""One version: pyproject.toml's, read through the installed package's metadata."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import openimr

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_pyprojects() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert openimr.__version__ == project["version"]


def test_no_module_writes_the_version_itself() -> None:
    literal = re.compile(rf"""["']{re.escape(openimr.__version__)}["']""")
    written = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "src" / "openimr").rglob("*.py"))
        if literal.search(path.read_text(encoding="utf-8"))
    ]
    assert written == []
