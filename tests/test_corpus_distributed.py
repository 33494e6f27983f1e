"""``letters ingest --engine dask`` on a local cluster stores exactly what the local path stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from openimr.services.corpus.ingest import ingest_dask
from openimr.store.db import Store, make_engine, session_factory
from openimr.store.ingest import ingest_paths
from openimr.store.schema import LetterRow
from store_pg import pg_schema_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_urls(request: pytest.FixtureRequest, tmp_path: Path):
    """Two empty databases of one kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    else:
        with pg_schema_url() as a, pg_schema_url() as b:
            yield a, b


def stored(url: str) -> dict:
    """Every stored letter by key."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return {row.key: row.to_letter() for row in session.scalars(select(LetterRow))}
    finally:
        engine.dispose()


def test_dask_matches_local(letters_dir: Path, tmp_path: Path, db_urls) -> None:
    files = sorted(letters_dir.iterdir())[:12]
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    local_url, dask_url = db_urls
    with Store.open(local_url) as store:
        local = ingest_paths([*files, bad], store.engine)
    seen: list[str] = []
    with Store.open(dask_url) as store:
        report = ingest_dask([*files, bad], store, workers=2, progress=lambda p, o, m: seen.append(o))
    assert sorted(report.stored) == sorted(local.stored) and len(report.stored) == 12
    assert len(report.errors) == len(local.errors) == 1 and "broken.pdf" in report.errors[0]
    assert seen.count("stored") == 12 and seen.count("error") == 1
    assert stored(dask_url) == stored(local_url)
    with Store.open(dask_url) as store:
        again = ingest_dask(files, store, workers=1)
    assert not again.stored and sorted(again.unchanged) == sorted(local.stored)
    assert stored(dask_url) == stored(local_url)
