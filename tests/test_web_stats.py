"""The decision-statistics page: a table with Wilson intervals and its SVG chart, by role."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from helpers import csrf_token
from openimr.core.models import Issue
from openimr.store.db import make_engine
from openimr.store.ingest import store_letter
from openimr.web.app import create_app
from test_web_api import examples_letter


@pytest.fixture
def client(demo_db: Path, tmp_path: Path):
    """The demo with two decided letters in the corpus: three acupuncture items, one overturned."""
    path = tmp_path / "stats.db"
    shutil.copy(demo_db, path)
    engine = make_engine(f"sqlite:///{path}")
    first = examples_letter()
    extra = first.issues[0].model_copy(update={"decision": "Overturned", "item": "Acupuncture 6 sessions"})
    second = first.model_copy(
        update={"case_number": "CM24-0000002", "issues": [*first.issues, Issue(**dict(extra))]}
    )
    with engine.begin() as conn:
        store_letter(conn, first, "a")
        store_letter(conn, second, "b")
    engine.dispose()
    app = create_app(f"sqlite:///{path}")
    with TestClient(app) as test_client:
        yield test_client
    app.state.store.close()


def sign_in(client: TestClient, username: str) -> None:
    form = client.get("/login")
    csrf = csrf_token(form.text)
    answer = client.post("/login", data={"username": username, "password": "demo", "csrf_token": csrf})
    assert answer.status_code == 200


@pytest.mark.parametrize("username", ["analyst", "coordinator", "lac-01"])
def test_statistics_page_shows_rates_with_intervals(client: TestClient, username: str) -> None:
    sign_in(client, username)
    page = client.get("/corpus/stats", params={"by": "category"})
    assert page.status_code == 200
    assert "<caption>Decisions by category, 3 issues</caption>" in page.text
    assert '<th scope="row">Acupuncture</th><td>3</td><td>2</td><td>1</td><td>33.3%</td>' in page.text
    assert 'href="/corpus/stats"' in page.text  # the navigation links it
    chart = client.get("/corpus/stats.svg", params={"by": "year"})
    assert chart.headers["content-type"].startswith("image/svg+xml") and b"<svg" in chart.content


def test_statistics_need_an_account(client: TestClient) -> None:
    answer = client.get("/corpus/stats", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_by_specialty_the_page_counts_each_issue_once(demo_db: Path, tmp_path: Path) -> None:
    """A letter whose reviewer has two specialties shows under both, but the total counts it once."""
    from openimr.core.models import Reviewer

    path = tmp_path / "specialties.db"
    shutil.copy(demo_db, path)
    engine = make_engine(f"sqlite:///{path}")
    letter = examples_letter().model_copy(
        update={
            "reviewer": Reviewer(license_states=["California"], specialties=["Acupuncture", "Pain Medicine"])
        }
    )
    with engine.begin() as conn:
        store_letter(conn, letter, "a")
    engine.dispose()
    app = create_app(f"sqlite:///{path}")
    with TestClient(app) as test_client:
        sign_in(test_client, "analyst")
        page = test_client.get("/corpus/stats", params={"by": "specialty"}).text
    app.state.store.close()
    issues = len(letter.issues)
    assert f"{issues} issues (an issue counts under each of its reviewer" in page
    assert page.count(f"<td>{issues}</td><td>") >= 2  # each specialty row holds all the letter's issues
