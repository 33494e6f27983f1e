"""The application object: one store, and one set of rules, loaded once, that every review of
its cases reads (the engine called with the typed case, never through JSON)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from openimr.core.case import Case
from openimr.core.guidelines.rules import load_rules
from openimr.core.review.engine import Review
from openimr.services.access import operator
from openimr.services.app import OpenIMR
from openimr.services.settings import Settings


@pytest.fixture
def app(demo_db: Path, tmp_path: Path) -> Iterator[OpenIMR]:
    path = tmp_path / "demo.db"
    shutil.copy(demo_db, path)
    application = OpenIMR.open(Settings.from_env({}, db=f"sqlite:///{path}"))
    yield application
    application.close()


def test_a_review_gets_the_typed_case_the_store_and_the_applications_rules(
    app: OpenIMR, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[object, object, object]] = []

    def engine(case: Case, store: object) -> Review:
        seen.append((case, store, load_rules()))
        return Review(case_number=case.case_number, items=[])

    monkeypatch.setattr("openimr.services.support.review_engine", lambda: engine)
    who = operator("test")
    number = app.cases.list_cases(who, dt.date.today()).items[0].case_number
    app.cases.recommendations(who, number)
    draft = app.rules.model_copy(update={"rules": app.rules.rules[:1]})
    app.rules = draft  # replaceable: the next review reads these
    app.cases.recommendations(who, number)
    (case, store, rules), (_, _, replaced) = seen
    assert isinstance(case, Case) and case.case_number == number and case.disputed_items
    assert store is app.store
    assert rules is not draft and replaced is draft
    assert load_rules() is not draft  # in force for the review only
