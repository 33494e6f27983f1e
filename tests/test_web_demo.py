"""The ``serve --demo`` letter corpus: invented letters, marked as demo, stored and indexed, so that
Statistics and the case page's similar past decisions (linked to their letters) have data."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import func, select

from openimr.services import demo_corpus, web_demo
from openimr.services.cases import CaseService
from openimr.store.db import Store
from openimr.store.schema import LetterRow
from test_web_admin import Person, app, cases_of

__all__ = ["app"]  # the shared fixture


def test_the_demo_corpus_is_thirty_marked_letters_stored_once(app) -> None:
    with app.state.store.transaction() as s:
        rows = list(s.scalars(select(LetterRow)))
        files = sorted(r.file for r in rows)
        summaries = {r.clinical_summary.split(".")[0] for r in rows}
    assert files == [f"demo-letter-{n:02d}" for n in range(1, 31)]
    assert summaries == {"Demo letter written for OpenIMR; no real person"}
    assert demo_corpus.load(app.state.store, dt.date.today()) == 0  # loading again adds nothing


def test_serve_demo_loads_the_letters_and_a_plain_store_has_none(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        count = select(func.count()).select_from(LetterRow)
        with store.transaction() as s:
            assert s.scalar(count) == 0
        web_demo.load(CaseService(store), dt.date.today())
        with store.transaction() as s:
            assert s.scalar(count) == 30
    finally:
        store.close()


def test_statistics_show_the_demo_decisions_to_those_who_may_search(app) -> None:
    for name in ("analyst", "lac-01", "coordinator"):
        page = Person(app, name).get("/corpus/stats")
        assert page.status_code == 200
        assert re.search(r"\b40\b", page.text), name  # 30 letters, every third with two items


def test_similar_decisions_link_to_the_demo_letters_item(app) -> None:
    reviewer = Person(app, "lac-01")
    number = cases_of(app, "assigned", "LAC-01")[0]
    page = reviewer.get(f"/cases/{number}").text
    links = re.findall(r'href="/corpus/letters/(demo-letter-\d\d)#item-(\d)"', page)
    assert links, "no similar decision links to its letter"
    letter, item = links[0]
    past = reviewer.get(f"/corpus/letters/{letter}")
    assert past.status_code == 200 and f'id="item-{item}"' in past.text
    assert "000_" not in page


def test_an_analyst_sees_similar_letters_only_where_allowed(app) -> None:
    analyst = Person(app, "analyst")
    assert analyst.get("/corpus/letters/demo-letter-01").status_code == 200
    number = cases_of(app, "assigned", "LAC-01")[0]
    assert "/corpus/letters/" not in analyst.get(f"/cases/{number}").text  # no decision support
