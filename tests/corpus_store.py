"""A letter store filled with given letters and indexed, for the corpus tests."""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine

from openimr.core.models import Letter
from openimr.services.corpus import embeddings
from openimr.services.corpus.index import sync_index
from openimr.store.db import make_engine, migrate
from openimr.store.ingest import store_letter


def filled_store(url: str, letters: list[Letter]) -> Engine:
    """The store at *url*, upgraded, holding *letters*, its search index (with embeddings when the
    model is there) built for every issue."""
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        for letter in letters:
            store_letter(conn, letter, hashlib.sha256(letter.model_dump_json().encode()).hexdigest())
    if sync_index(engine, embed=embeddings.available()) != sum(len(x.issues) for x in letters):
        raise AssertionError("the index does not cover every issue")
    return engine
