"""A batch ten times the dev letters, as new PDFs under new case numbers: ``--engine dask`` stores
exactly the rows that the local path (``--jobs 2``) stores, and each is the letter it was made from.

The copies are written by the project's letter renderer from the dev letters' records with a new
case number and file name each, so every copy is a distinct letter whose PDF text names its own
case number (copying files under new names would leave the old case number in the text).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from openimr.core.letters.errors import LetterError
from openimr.core.letters.parse import parse_paths
from openimr.core.models import Letter
from openimr.services.corpus.ingest import ingest
from openimr.services.options import IngestEngine
from openimr.services.render import render
from openimr.store.db import Store, make_engine
from openimr.store.schema import IssueRow, LetterRow, LicenseStateRow, SpecialtyRow

COPIES = 10
pytestmark = pytest.mark.slow


def write_copy(job: tuple[Letter, Path]) -> None:
    """Render one letter record to the PDF at the path given."""
    letter, path = job
    path.write_bytes(render(letter, "pdf"))  # type: ignore[arg-type]


def rows(url: str) -> dict[str, object]:
    """Every stored row but the database's own ids and timestamps, keyed by the letter's key."""
    letters = LetterRow.__table__
    columns = [c for c in letters.c if c.name not in ("id", "ingested_at")]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            out: dict[str, object] = {
                row.key: tuple(row) for row in conn.execute(select(*columns).order_by(letters.c.key))
            }
            for table in (IssueRow.__table__, LicenseStateRow.__table__, SpecialtyRow.__table__):
                children = [c for c in table.c if c.name != "letter_id"]
                query = select(letters.c.key, *children).join(letters, letters.c.id == table.c.letter_id)
                for row in conn.execute(query):
                    out[f"{table.name}/{row.key}/{row.position}"] = tuple(row)
            return out
    finally:
        engine.dispose()


def test_dask_stores_a_tenfold_batch_as_the_local_path_does(letters_dir: Path, tmp_path: Path) -> None:
    originals = [
        letter for _, letter in parse_paths([letters_dir], jobs=2) if not isinstance(letter, LetterError)
    ]
    batch = tmp_path / "batch"
    batch.mkdir()
    expected: dict[str, Letter] = {}
    jobs = []
    for copy in range(COPIES):
        for n, original in enumerate(originals):
            case = f"ZZ{copy:02d}-{n:07d}"
            letter = original.model_copy(update={"case_number": case, "file": f"{case}.pdf"})
            expected[case] = letter
            jobs.append((letter, batch / letter.file))
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(write_copy, jobs, chunksize=25))
    assert len(expected) == COPIES * len(originals) >= 900

    local_url, dask_url = (f"sqlite:///{tmp_path / name}" for name in ("local.db", "dask.db"))
    with Store.open(local_url) as store:
        local = ingest([batch], store, jobs=2)
    with Store.open(dask_url) as store:
        distributed = ingest([batch], store, IngestEngine.dask, jobs=2)
    assert not local.errors and not distributed.errors, (local.errors[:3], distributed.errors[:3])
    assert sorted(local.stored) == sorted(distributed.stored) == sorted(expected)

    stored = rows(local_url)
    assert stored == rows(dask_url)
    with Store(local_url) as store, store.sessions() as session:
        read_back = {row.key: row.to_letter() for row in session.scalars(select(LetterRow))}
    assert read_back == expected
