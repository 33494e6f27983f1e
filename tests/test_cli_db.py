"""``openimr db upgrade`` and ``openimr db current``, and commands that upgrade the store once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openimr.cli import app
from openimr.store import db as store_db
from openimr.store.db import head_revisions


def schema(path: Path) -> tuple[list, list]:
    """The file's tables, indexes and triggers as SQL, and its Alembic revision."""
    with sqlite3.connect(path) as conn:
        objects = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return objects, version


def test_upgrade_creates_the_schema_at_head_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    url = f"sqlite:///{path}"
    (head,) = head_revisions()
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [f"{url}: upgraded from no schema to {head} (head)"]
    created = schema(path)
    assert created[1] == [(head,)] and any(name == "letters" for _, name, _ in created[0])

    again = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [f"{url}: already at {head} (head)"]
    assert schema(path) == created


def test_current_says_whether_the_store_is_at_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    runner = CliRunner()
    missing = runner.invoke(app, ["db", "current", "--db", url])
    assert missing.exit_code == 1 and "no such database" in missing.stderr
    assert list(tmp_path.iterdir()) == []  # reading creates no store
    (tmp_path / "store.db").touch()  # an empty file is an SQLite database without a schema
    behind = runner.invoke(app, ["db", "current", "--db", url])
    assert behind.exit_code == 1 and "run openimr db upgrade" in behind.stdout
    runner.invoke(app, ["db", "upgrade", "--db", url])
    current = runner.invoke(app, ["db", "current", "--db", url])
    assert current.exit_code == 0 and current.stdout == f"{url}: {next(iter(head_revisions()))} (head)\n"


@pytest.mark.parametrize("command", ["upgrade", "current"])
def test_a_file_that_is_not_a_database_gets_one_line(tmp_path: Path, command: str) -> None:
    path = tmp_path / "notes.db"
    path.write_text("a shopping list, not a database\n")
    result = CliRunner().invoke(app, ["db", command, "--db", f"sqlite:///{path}"])
    assert result.exit_code == 1
    assert result.stderr == f"error: sqlite:///{path}: file is not a database\n"
    assert path.read_text() == "a shopping list, not a database\n"


def test_a_password_in_the_url_is_not_printed() -> None:
    url = "postgresql+psycopg://imr:s3cret@127.0.0.1:1/none?connect_timeout=1"
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", url])
    assert result.exit_code == 1 and "s3cret" not in result.output
    assert result.stderr.startswith("error: postgresql+psycopg://imr:***@127.0.0.1:1/none")


@pytest.mark.parametrize(
    "args",
    [["letters", "ingest"], ["stats", "--format", "csv"], ["similar", "knee MRI"], ["letters", "stats"]],
)
def test_each_command_upgrades_the_store_once_at_start_up(
    args: list[str], tmp_path: Path, letters_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = store_db.migrate

    def counted(url: str | None = None) -> None:
        calls.append(str(url))
        real(url)

    monkeypatch.setattr(store_db, "migrate", counted)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    files = [str(p) for p in sorted(letters_dir.iterdir())[:2]] if args[-1] == "ingest" else []
    if not files:  # a reader opens an existing store only: here one with no schema yet
        (tmp_path / "store.db").touch()
    result = CliRunner().invoke(app, [*args, *files, "--db", url])
    assert result.exit_code == 0, result.output
    assert calls == [url]
