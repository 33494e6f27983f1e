"""The corpus and the guidelines on the gate: each operation checks its permission (a refusal
audited), an ingest is audited with its counts, and the guidelines read the application's rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from openimr.core.roles import Principal, Role
from openimr.services.access import Forbidden, NotFound, operator
from openimr.services.app import OpenIMR
from openimr.services.options import By

COORDINATOR = Principal(1, "coord", Role.COORDINATOR, None, "test")
ANALYST = Principal(2, "analyst", Role.ANALYST, None, "test")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[OpenIMR]:
    application = OpenIMR.open(f"sqlite:///{tmp_path / 'corpus.db'}")
    yield application
    application.close()


def audit(app: OpenIMR) -> list[tuple[str, str, str, dict | None]]:
    return [(r.actor, r.entity, r.action, r.after) for r in app.cases.audit_log(operator(), None).items]


def test_an_ingest_needs_the_permission_and_is_audited_with_its_counts(app: OpenIMR) -> None:
    with pytest.raises(Forbidden, match=r"may not ingest letters"):
        app.corpus.ingest(ANALYST, [("a.txt", b"x")])
    assert audit(app) == [("analyst", "corpus", "denied", {"wanted": "ingest_letters"})]
    report = app.corpus.ingest(COORDINATOR, [("junk.txt", b"\x00\x01 not a letter")])
    assert report.stored == [] and len(report.errors) == 1 and report.errors[0].startswith("junk.txt")
    assert audit(app)[-1] == ("coord", "corpus", "ingest", {"stored": 0, "unchanged": 0, "errors": 1})


def test_corpus_reads_are_checked_but_not_audited(app: OpenIMR) -> None:
    assert app.corpus.stats(ANALYST, By.category).groups == []
    with pytest.raises(NotFound, match="no letter CM00-0000000 in the corpus"):
        app.corpus.letter(ANALYST, "CM00-0000000")
    assert audit(app) == []
    nobody = Principal(3, "nobody", Role.REVIEWER, "R1", "test")
    assert app.corpus.stats(nobody, By.year).groups == []  # a reviewer reads the corpus too


def test_the_guidelines_are_the_applications_rules_and_replaceable(app: OpenIMR) -> None:
    found = app.guidelines.matching(ANALYST, dt.date(2016, 11, 20), "ACUPUNCTURE")
    assert found and all("acupuncture" in f"{r.id} {r.title} {r.family}".lower() for r in found)
    assert all(r.effective.covers(dt.date(2016, 11, 20)) for r in found)
    assert [r.family for r in found] == sorted(r.family for r in found)
    everything = app.guidelines.rules(ANALYST)
    assert everything is app.rules  # loaded once per application
    app.rules = everything.model_copy(update={"rules": [found[0]]})
    assert app.guidelines.matching(ANALYST) == [found[0]]
    assert app.guidelines.matching(ANALYST, words="no such words") == []
