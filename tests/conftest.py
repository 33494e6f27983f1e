"""Shared fixtures: where ../shared is, skipping (or failing under CI=true) without it, and the
web demo's database, built once per run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import demo_app, load_demo
from store_pg import pg_schema_url

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OPENIMR_SHARED", ROOT.parent / "shared"))
DEV = SHARED / "data" / "dwc-letters" / "dev"


def need_shared(path: Path) -> Path:
    """Return *path*, or skip the test (fail under CI=true) when ../shared does not have it."""
    if not path.exists():
        msg = f"{path} is absent: these tests read the real letters in ../shared"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def dev_dir() -> Path:
    return need_shared(DEV)


@pytest.fixture(scope="session")
def letters_dir(dev_dir: Path) -> Path:
    return need_shared(dev_dir / "letters")


@pytest.fixture(scope="session")
def gold_path(dev_dir: Path) -> Path:
    return need_shared(dev_dir / "gold.jsonl")


@pytest.fixture(scope="session")
def requests_path(dev_dir: Path) -> Path:
    return need_shared(dev_dir / "requests.jsonl")


@pytest.fixture(scope="session")
def schemas_dir() -> Path:
    return need_shared(SHARED / "schemas")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        with pg_schema_url() as url:
            yield url


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the web demo loaded (copied for each test that uses it)."""
    path = tmp_path_factory.mktemp("web") / "demo.db"
    load_demo(f"sqlite:///{path}")
    return path


@pytest.fixture
def app(demo_db: Path, tmp_path: Path) -> Iterator:
    """The web application on a copy of the demo database (a module may define its own ``app``)."""
    with demo_app("sqlite", demo_db, tmp_path) as application:
        yield application
