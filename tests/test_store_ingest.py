"""``openimr letters ingest`` and ``stats`` on the dev letters: idempotency, a real kill, bad files."""

from __future__ import annotations

import os
import pty
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from openimr.core.letters.errors import LetterError
from openimr.core.letters.parse import parse_paths
from openimr.core.models import Letter
from openimr.store.db import make_engine, migrate, session_factory
from openimr.store.ingest import file_hash
from openimr.store.schema import IssueRow, LetterRow, letter_key
from test_web_api import Api, api  # noqa: F401  (fixtures)

OPENIMR = str(Path(sys.executable).with_name("openimr"))


@pytest.fixture(scope="module")
def parsed(letters_dir: Path) -> dict[str, Letter]:
    """What the parser reads from each dev letter that it can read, by store key."""
    return {
        letter_key(result, file_hash(path)): result
        for path, result in parse_paths([letters_dir])
        if not isinstance(result, LetterError)
    }


def openimr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENIMR, *args], capture_output=True, text=True, timeout=300)


def stored(db_url: str) -> dict[str, Letter]:
    """Every stored letter by key; fails on a letter stored twice."""
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            rows = session.scalars(select(LetterRow)).all()
            letters = {row.key: row.to_letter() for row in rows}
            assert len(letters) == len(rows)
            assert len({row.source_hash for row in rows}) == len(rows)
            return letters
    finally:
        engine.dispose()


def test_ingest_stores_every_letter_once(db_url: str, letters_dir: Path, parsed: dict[str, Letter]) -> None:
    first = openimr("letters", "ingest", str(letters_dir), "--db", db_url)
    assert first.returncode == 0, first.stderr
    assert f"{len(parsed)} stored, 0 already stored, 0 failed" in first.stderr
    assert stored(db_url) == parsed

    again = openimr("letters", "ingest", str(letters_dir), "--db", db_url, "--jobs", "2")
    assert again.returncode == 0, again.stderr
    assert f"0 stored, {len(parsed)} already stored, 0 failed" in again.stderr
    assert stored(db_url) == parsed

    stats = openimr("letters", "stats", "--db", db_url)
    assert stats.returncode == 0, stats.stderr
    for heading in ("By guideline family", "By reviewer specialty", "By decision year"):
        assert heading in stats.stdout
    assert "MTUS Chronic Pain Medical Treatment" in stats.stdout
    assert "Occupational Medicine" in stats.stdout


def test_killed_batch_run_again_stores_each_letter_once(
    tmp_path: Path, letters_dir: Path, parsed: dict[str, Letter]
) -> None:
    db = tmp_path / "killed.db"
    url = f"sqlite:///{db}"
    migrate(url)

    def count() -> int:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM letters").fetchone()[0]

    batch = subprocess.Popen(
        [OPENIMR, "letters", "ingest", str(letters_dir), "--db", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while count() < 10:
        assert batch.poll() is None, "the batch ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    batch.send_signal(signal.SIGKILL)
    assert batch.wait(timeout=30) == -signal.SIGKILL

    partial = stored(url)
    assert 10 <= len(partial) < len(parsed)
    assert all(parsed[key] == letter for key, letter in partial.items())  # no half-written letter

    rerun = openimr("letters", "ingest", str(letters_dir), "--db", url)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(parsed) - len(partial)} stored, {len(partial)} already stored" in rerun.stderr
    assert stored(url) == parsed
    engine = make_engine(url)
    with session_factory(engine)() as session:
        issues = session.scalar(select(func.count()).select_from(IssueRow))
    engine.dispose()
    assert issues == sum(len(letter.issues) for letter in parsed.values())


def test_bad_files_are_reported_and_the_rest_stored(tmp_path: Path, letters_dir: Path) -> None:
    good = sorted(letters_dir.glob("*.pdf"))[:2]
    bad = {
        "empty.pdf": b"",
        "damaged.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage",
        "not-a-letter.txt": b"Dear colleague,\nthe meeting moves to Tuesday.\n",
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    paths = [good[0], *(tmp_path / name for name in bad), good[1]]
    url = f"sqlite:///{tmp_path / 'bad.db'}"

    result = openimr("letters", "ingest", *map(str, paths), "--db", url)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(bad)
    for line, name in zip(errors, bad, strict=True):
        assert str(tmp_path / name) in line
    assert "2 stored, 0 already stored, 3 failed" in result.stderr
    assert sorted(letter.file for letter in stored(url).values()) == [p.name for p in good]


def test_default_database_is_openimr_db_in_the_working_directory(tmp_path: Path, letters_dir: Path) -> None:
    letter = tmp_path / "letter.pdf"
    shutil.copyfile(sorted(letters_dir.glob("*.pdf"))[0], letter)
    env_free = subprocess.run(
        [OPENIMR, "letters", "ingest", str(letter)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "OPENIMR_DB"},
    )
    assert env_free.returncode == 0, env_free.stderr
    assert len(stored(f"sqlite:///{tmp_path / 'openimr.db'}")) == 1


def test_concurrent_batches_store_each_letter_once(
    db_url: str, letters_dir: Path, parsed: dict[str, Letter]
) -> None:
    migrate(db_url)
    batches = [
        subprocess.Popen(
            [OPENIMR, "letters", "ingest", str(letters_dir), "--db", db_url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(batch.wait(timeout=300), batch.stderr.read()) for batch in batches]
    for batch in batches:
        batch.stderr.close()
    assert [rc for rc, _ in results] == [0, 0], results
    assert stored(db_url) == parsed


def test_progress_bar_on_a_terminal(tmp_path: Path, letters_dir: Path) -> None:
    (tmp_path / "empty.pdf").write_bytes(b"")
    good = sorted(letters_dir.glob("*.pdf"))[:3]
    main, terminal = pty.openpty()
    batch = subprocess.Popen(
        [OPENIMR, "letters", "ingest", *map(str, good), str(tmp_path / "empty.pdf")],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
    )
    os.close(terminal)
    screen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed: the batch ended
            break
        if not chunk:
            break
        screen += chunk
    os.close(main)
    assert batch.wait(timeout=120) == 1
    text = screen.decode(errors="replace")
    assert "Ingesting" in text
    assert f"error: {tmp_path / 'empty.pdf'}" in text
    assert "3 stored, 0 already stored, 1 failed" in text


def test_a_full_store_stops_the_batch_in_one_line_and_a_rerun_finishes(
    tmp_path: Path, letters_dir: Path, parsed: dict[str, Letter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's ``max_page_count`` makes the store full after a few groups: the error SQLite gives
    for a full disk (SQLITE_FULL), raised by every next write."""
    from typer.testing import CliRunner

    from openimr.cli import app
    from openimr.store import db as store_db

    url = f"sqlite:///{tmp_path / 'full.db'}"
    migrate(url)
    pages = sqlite3.connect(tmp_path / "full.db").execute("PRAGMA page_count").fetchone()[0]
    pragmas = store_db._sqlite_pragmas

    def full_soon(connection, record) -> None:
        pragmas(connection, record)
        connection.execute(f"PRAGMA max_page_count = {pages + 60}")

    monkeypatch.setattr(store_db, "_sqlite_pragmas", full_soon)
    result = CliRunner().invoke(app, ["letters", "ingest", str(letters_dir), "--db", url])
    assert result.exit_code == 1 and "Traceback" not in result.output
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: the store cannot be written (database or disk is full): ")
    stored = int(last.split(": ")[-1].split()[0])
    assert 0 < stored < len(parsed)
    monkeypatch.setattr(store_db, "_sqlite_pragmas", pragmas)
    again = openimr("letters", "ingest", str(letters_dir), "--db", url)
    assert again.returncode == 0, again.stderr
    summary = f"{len(parsed) - stored} stored, {stored} already stored, 0 failed"
    assert again.stderr.splitlines()[-1] == summary


def test_web_ingest_errors_name_the_upload_not_a_server_path(request: pytest.FixtureRequest) -> None:
    web: Api = request.getfixturevalue("api")
    files = [("files", ("junk.txt", b"hello")), ("files", ("empty.pdf", b" "))]
    report = web.call("coordinator", "POST", "/api/letters/ingest", files=files).json()
    assert report["errors"] == [
        "junk.txt: not an IMR Final Determination letter (no IMR headings found)",
        "empty.pdf: empty file",
    ]
