"""``openimr review`` on hostile case files: each ends in one ``error: FILE: problem`` line and exit
status 1, the good files beside it still reviewed; no traceback, no hang, no minutes of work."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openimr.cli import app
from openimr.cli.review import MAX_CASE_BYTES

GOOD = {
    "case_number": "CM26-0000001",
    "clinical_summary": "Low back pain after lifting at work; six weeks of physical therapy helped little.",
    "disputed_items": [{"item": "MRI of the lumbar spine"}],
}


def _hostile(folder: Path) -> dict[str, tuple[Path, str]]:
    """Hostile case files and the problem each must be named with."""
    summary = "pain " * 10_000_000  # 50 MB
    made = {
        "deep": ("[" * 100_000 + "]" * 100_000, "invalid case: JSON nested too deeply"),
        "digits": ('{"case_number": 1' + "0" * 100_000 + "}", "invalid case: a number of more than 4,300"),
        "huge": (json.dumps({**GOOD, "clinical_summary": summary}), "file too large for one case"),
        "latin1": (None, "not UTF-8 text"),
    }
    files = {}
    for name, (body, problem) in made.items():
        path = folder / f"{name}.json"
        if body is None:
            path.write_bytes(json.dumps(GOOD).replace("Low", "L\u00f6w").encode("latin-1"))
        else:
            path.write_text(body, encoding="utf-8")
        files[name] = (path, problem)
    fifo = folder / "fifo.json"
    os.mkfifo(fifo)
    files["fifo"] = (fifo, "not a regular file")
    return files


def test_each_hostile_case_file_gets_one_line(tmp_path: Path) -> None:
    files = _hostile(tmp_path)
    assert files["huge"][0].stat().st_size > 5 * MAX_CASE_BYTES  # a 50 MB summary
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD), encoding="utf-8")
    result = CliRunner().invoke(app, ["review", *(str(p) for p, _ in files.values()), str(good)])
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert len(errors) == len(files)
    for line, (path, problem) in zip(errors, files.values(), strict=True):
        assert line.startswith(f"error: {path}: {problem}")
    assert "Traceback" not in result.output
    assert [json.loads(line)["case_number"] for line in result.stdout.splitlines()] == ["CM26-0000001"]


@pytest.mark.parametrize("depth", [500, 990])
def test_nesting_under_the_parser_limit_is_a_shape_error(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "nested.json"
    path.write_text('{"disputed_items": [{"item": "x", "category": ' + "[" * depth + "]" * depth + "}]}")
    result = CliRunner().invoke(app, ["review", str(path)])
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {path}: invalid case: ")
    assert len(result.stderr.splitlines()) == 1
