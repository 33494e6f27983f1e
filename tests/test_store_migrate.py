"""Schema upgrades survive ``kill -9`` at any statement and concurrent upgraders (real processes)."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from openimr.store.db import alembic_config, make_engine, migrate
from store_pg import pg_schema_url

# Runs migrate(URL) in a child; with KILL_AT > 0 it sends itself SIGKILL right after its
# KILL_AT-th SQL statement, so a parent can stop an upgrade at every step. It prints the number of
# statements it ran. With WAIT it says "ready" once imported and waits for a line on stdin. With
# TRACE it prints each statement's number and whether the upgrade's transaction has begun, so a
# parent that kills it knows how far it got, and takes 5 ms a statement in that transaction (a slow
# disk) so that a kill at a random moment can land in it.
CHILD = """
import os, signal, sys, time
from sqlalchemy import Engine, event
from openimr.store.db import migrate
url, kill_at, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "wait"
trace = sys.argv[4:] == ["trace"]
count, begun = 0, False
def step(_conn, _cursor, statement, *_args):
    global count, begun
    count += 1
    if trace:
        begun = begun or statement.startswith("BEGIN")
        print(count, "upgrading" if begun else "checking", flush=True)
        time.sleep(0.005 if begun else 0)
    if count == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
event.listen(Engine, "after_cursor_execute", step)
if wait:
    print("ready", flush=True)
    sys.stdin.readline()
migrate(url)
print(count, flush=True)
"""


def child(url: str, kill_at: int = 0, wait: bool = False, trace: bool = False) -> subprocess.Popen[str]:
    args = [
        sys.executable,
        "-c",
        CHILD,
        url,
        str(kill_at),
        "wait" if wait else "go",
        *(["trace"] if trace else []),
    ]
    return subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def release(procs: list[subprocess.Popen[str]]) -> None:
    """Wait until each waiting child has imported everything, then let them all go at once."""
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def schema(url: str) -> tuple[set[str], set[str]]:
    """The store's revisions and table names."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            revisions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
            return revisions, set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def heads() -> set[str]:
    engine = make_engine("sqlite://")
    try:
        return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    finally:
        engine.dispose()


def fresh_sqlite(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}.db"


def full_run(url: str) -> int:
    """Migrate *url* in a child that is not killed; the number of statements it ran."""
    code, out, err = finish(child(url))
    assert code == 0, err
    return int(out)


def test_kill_at_every_stage_of_a_first_upgrade_leaves_a_usable_store(tmp_path: Path) -> None:
    reference = fresh_sqlite(tmp_path, "reference")
    total = full_run(reference)
    expected = schema(reference)
    assert expected[0] == heads()
    # Kill points spread over the whole upgrade, from its first statement to its last.
    points = sorted({*range(1, total, max(1, total // 12)), total})
    procs = {n: child(fresh_sqlite(tmp_path, f"k{n}"), kill_at=n) for n in points}
    for n, proc in procs.items():
        assert finish(proc)[0] == -signal.SIGKILL, f"child to be killed at statement {n} exited"
    for n in points:
        url = fresh_sqlite(tmp_path, f"k{n}")
        migrate(url)
        assert schema(url) == expected, f"killed at statement {n} of {total}"
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_kill_at_random_moments_of_a_first_upgrade_leaves_a_usable_store(tmp_path: Path) -> None:
    reference = fresh_sqlite(tmp_path, "reference")
    proc = child(reference, wait=True, trace=True)
    release([proc])
    started = time.monotonic()
    assert proc.stdout is not None
    steps = [(time.monotonic() - started, line.split()) for line in proc.stdout]  # then the total
    assert finish(proc)[0] == 0
    span = time.monotonic() - started
    total = int(steps[-1][1][0])
    upgrade = (min(at for at, words in steps if words[1:] == ["upgrading"]), steps[-2][0])
    expected = schema(reference)
    rng = random.Random(20240611)
    # Five kills at random moments; then, until one has landed mid-upgrade (in its transaction, before
    # its last statement, as the child's trace shows), more at random moments of the reference's
    # upgrade, at most 30 kills in all.
    midway: list[int] = []
    for k in range(30):
        if k >= 5 and midway:
            break
        url = fresh_sqlite(tmp_path, f"r{k}")
        proc = child(url, wait=True, trace=True)
        release([proc])
        time.sleep(rng.uniform(0, span) if k < 5 else rng.uniform(*upgrade))
        proc.send_signal(signal.SIGKILL)
        killed, ran, _err = finish(proc)
        last = ran.splitlines()[-1].split() if ran.strip() else []
        if killed == -signal.SIGKILL and last[1:] == ["upgrading"] and int(last[0]) < total:
            midway.append(int(last[0]))
        code, _out, err = finish(child(url))
        assert code == 0, err
        assert schema(url) == expected
    assert midway, f"no kill landed during the upgrade's {total} statements"


def migrate_together(url: str, count: int) -> list[tuple[int, str, str]]:
    """Start *count* children on *url* and release them at once."""
    procs = [child(url, wait=True) for _ in range(count)]
    release(procs)
    return [finish(proc) for proc in procs]


def test_concurrent_first_upgrades_all_succeed_on_sqlite(tmp_path: Path) -> None:
    for k in range(2):
        url = fresh_sqlite(tmp_path, f"c{k}")
        for code, _out, err in migrate_together(url, 3):
            assert code == 0, err
        assert schema(url)[0] == heads()


@pytest.mark.postgres
def test_concurrent_first_upgrades_all_succeed_on_postgres() -> None:
    for _ in range(2):
        with pg_schema_url() as url:
            for code, _out, err in migrate_together(url, 3):
                assert code == 0, err
            assert schema(url)[0] == heads()


@pytest.mark.postgres
def test_kill_during_a_first_upgrade_on_postgres_leaves_a_usable_store() -> None:
    with pg_schema_url() as url:
        total = full_run(url)
        expected = schema(url)
    for n in (total // 2, total):
        with pg_schema_url() as url:
            assert finish(child(url, kill_at=n))[0] == -signal.SIGKILL
            migrate(url)
            assert schema(url) == expected, f"killed at statement {n} of {total}"


def test_a_current_store_starts_while_another_process_writes(tmp_path: Path) -> None:
    url = fresh_sqlite(tmp_path, "busy")
    migrate(url)
    writer = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        migrate(url)  # only reads alembic_version: taking the upgrade lock would wait, then fail
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert schema(url)[0] == heads()
