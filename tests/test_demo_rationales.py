"""The demo's decisions and letters carry rationales written by us, never the engine's drafts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from openimr.services import demo
from openimr.services.cases import CaseService, operator
from openimr.store.db import Store

TODAY = dt.date.today()


@pytest.fixture
def cases(db_url: str) -> Iterator[CaseService]:
    store = Store.open(db_url)
    yield CaseService(store)
    store.close()


def test_demo_letters_state_our_rationales_not_drafts(cases: CaseService, tmp_path: Path) -> None:
    written = demo.run(cases, operator("tester"), tmp_path, TODAY)
    letters = [p.read_text("utf-8") for p in written if p.suffix == ".txt" and "notice" not in p.name]
    assert letters
    ours = [r for e in demo.examples(TODAY) for (_, _, _, r) in e.decisions]
    text = " ".join(" ".join(letter.split()) for letter in letters)
    for rationale in ours:
        assert " ".join(rationale.split())[:80] in text
    for drafted in ("Decision support estimates", "this draft states", "the reviewer must check"):
        assert drafted not in text
