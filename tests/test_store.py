"""The store on SQLite and PostgreSQL: migrations, exact round trip, idempotency, stats."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from rich.console import Console
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from openimr.cli.tables import print_stats
from openimr.core.families import guideline_family
from openimr.core.models import Letter
from openimr.services.settings import db_url as default_db_url
from openimr.services.stats import compute_stats
from openimr.store.db import alembic_config, make_engine, migrate, session_factory
from openimr.store.ingest import store_letter
from openimr.store.schema import Base, IssueRow, LetterRow, SpecialtyRow

Sessions = sessionmaker[Session]
TABLES = {"letters", "letter_issues", "letter_license_states", "letter_specialties"}


@pytest.fixture
def engine(db_url: str):
    migrate(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Sessions:
    return session_factory(engine)


@pytest.fixture(scope="module")
def gold(gold_path: Path) -> list[Letter]:
    return [Letter.model_validate(json.loads(line)) for line in gold_path.read_text().splitlines()]


def source_hash(letter: Letter) -> str:
    return hashlib.sha256(letter.model_dump_json().encode()).hexdigest()


def store_one(engine: Engine, letter: Letter, source: str) -> bool:
    with engine.begin() as conn:
        return store_letter(conn, letter, source)


def store_all(engine: Engine, letters: list[Letter]) -> list[bool]:
    return [store_one(engine, letter, source_hash(letter)) for letter in letters]


def counts(sessions: Sessions) -> tuple[int, int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(LetterRow)),
            session.scalar(select(func.count()).select_from(IssueRow)),
            session.scalar(select(func.count()).select_from(SpecialtyRow)),
        )


def test_default_db_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENIMR_DB", raising=False)
    assert default_db_url() == f"sqlite:///{tmp_path / 'openimr.db'}"
    monkeypatch.setenv("OPENIMR_DB", "other.db")
    assert default_db_url() == f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("OPENIMR_DB", "postgresql+psycopg://u@h/db")
    assert default_db_url() == "postgresql+psycopg://u@h/db"


def test_migrations_from_empty_match_the_models(db_url: str) -> None:
    migrate(db_url)
    migrate(db_url)  # at head already: nothing to do
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= TABLES
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() is not None
            mine = {  # other parts of the project migrate tables of their own
                "include_name": lambda name, kind, _parent: kind != "table" or name in TABLES,
                "include_object": lambda _obj, name, kind, _reflected, _other: (
                    kind != "table" or name in TABLES
                ),
            }
            assert compare_metadata(MigrationContext.configure(conn, opts=mine), Base.metadata) == []
        command.downgrade(alembic_config(engine), "base")
        with engine.connect() as conn:
            assert not TABLES & set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_round_trip_is_exact(engine: Engine, sessions: Sessions, gold: list[Letter]) -> None:
    assert all(store_all(engine, gold))
    with sessions() as session:
        rows = session.scalars(select(LetterRow).order_by(LetterRow.id)).all()
        assert [row.to_letter() for row in rows] == gold
        assert [row.source_hash for row in rows] == [source_hash(letter) for letter in gold]


def test_storing_again_changes_nothing(engine: Engine, sessions: Sessions, gold: list[Letter]) -> None:
    store_all(engine, gold)
    before = counts(sessions)
    with sessions() as session:
        snapshot = [(r.id, r.key, r.ingested_at) for r in session.scalars(select(LetterRow))]
    assert not any(store_all(engine, gold))
    assert counts(sessions) == before == (len(gold), sum(len(g.issues) for g in gold), before[2])
    with sessions() as session:
        assert [(r.id, r.key, r.ingested_at) for r in session.scalars(select(LetterRow))] == snapshot


def test_key_is_case_number_else_source_hash(engine: Engine, sessions: Sessions, gold: list[Letter]) -> None:
    seed = next(letter for letter in gold if letter.case_number is None)
    with_case = next(letter for letter in gold if letter.case_number)
    assert store_one(engine, seed, "a" * 64)
    assert store_one(engine, seed, "b" * 64)  # other content, no case number: another letter
    assert not store_one(engine, seed, "a" * 64)
    assert store_one(engine, with_case, "c" * 64)
    assert not store_one(engine, with_case, "d" * 64)  # same case number: already stored
    with sessions() as session:
        keys = set(session.scalars(select(LetterRow.key)))
    assert keys == {f"sha256:{'a' * 64}", f"sha256:{'b' * 64}", with_case.case_number}


def test_a_failed_letter_leaves_nothing_behind(
    engine: Engine, sessions: Sessions, gold: list[Letter]
) -> None:
    letter = gold[1]
    with pytest.raises(RuntimeError), engine.begin() as conn:
        assert store_letter(conn, letter, source_hash(letter))
        raise RuntimeError("killed mid-letter")
    assert counts(sessions) == (0, 0, 0)


def test_stats(engine: Engine, sessions: Sessions, gold: list[Letter]) -> None:
    store_all(engine, gold)
    with sessions() as session:
        stats = compute_stats(session)
    issues = [issue for letter in gold for issue in letter.issues]
    assert stats.total.letters == len(gold)
    assert stats.total.issues == len(issues) == 258
    assert (stats.total.upheld, stats.total.overturned) == (230, 28)

    families = {t.name: t for t in stats.by_family}
    assert sum(t.issues for t in stats.by_family) == len(issues)
    expected = [i for i in issues if guideline_family(i.imro_guideline) == "MTUS Low Back Complaints"]
    low_back = families["MTUS Low Back Complaints"]
    assert low_back.issues == len(expected) > 0
    assert low_back.overturned == sum(i.decision == "Overturned" for i in expected)
    assert {"Non-MTUS", "No citation", "MTUS Chronic Pain Medical Treatment"} <= set(families)

    specialties = {t.name: t for t in stats.by_specialty}
    occupational = [g for g in gold if "Occupational Medicine" in g.reviewer.specialties]
    assert specialties["Occupational Medicine"].letters == len(occupational)
    assert specialties["Occupational Medicine"].issues == sum(len(g.issues) for g in occupational)

    years = {t.name: t for t in stats.by_year}
    assert sum(t.issues for t in stats.by_year) == len(issues)
    assert years["2016"].letters == sum(1 for g in gold if g.decision_date and g.decision_date.year == 2016)
    assert years["Not stated"].letters == sum(1 for g in gold if g.decision_date is None)

    console = Console(record=True, width=160)
    print_stats(stats, console)
    out = console.export_text()
    for heading in ("By guideline family", "By reviewer specialty", "By decision year"):
        assert heading in out
    assert f"{100 * 28 / 258:.1f}%" in out


@pytest.mark.parametrize(
    ("line", "family"),
    [
        (
            "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): Opioids.",
            "MTUS Chronic Pain Medical Treatment",
        ),
        (
            "Decision based on MTUS Low Back Complaints 2004. Decision based on Non-MTUS Citation ODG.",
            "MTUS Low Back Complaints",
        ),
        (
            "Decision based on MTUS Forearm, Wrist, and Hand Complaints 2004.",
            "MTUS Forearm, Wrist, and Hand Complaints",
        ),
        (
            "Decision based on MTUS Knee Complaints 2004, and Chronic Pain Medical Treatment 2016.",
            "MTUS Knee Complaints",
        ),
        ("Decision based on MTUS Hip and Pelvis Guidelines 2019.", "MTUS Hip and Pelvis"),
        (
            "The Expert Reviewer based their decision on recommendation(s) outside of the MTUS "
            "Guidelines. Decision based on Non-MTUS Citation Official Disability Guidelines (ODG).",
            "Non-MTUS",
        ),
        ("The Expert Reviewer did not cite any medical evidence for its decision.", "No citation"),
        (None, "Not stated"),
        ("Something else entirely.", "Other"),
    ],
)
def test_guideline_family(line: str | None, family: str) -> None:
    assert guideline_family(line) == family
