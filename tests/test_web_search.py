"""The corpus search page and API: the command line's filters (alone too), the real count, pages,
snippets with the matched words marked and escaped, and the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from openimr.core.models import Issue, Letter, Reviewer
from openimr.store.db import make_engine
from openimr.store.ingest import store_letter
from openimr.web.app import create_app
from openimr.web.corpus import HITS_PER_PAGE
from test_web_api import Api
from test_web_stats import client, sign_in

__all__ = ["client"]  # the shared fixture

ACUPUNCTURE = 31  # letters with one acupuncture item each: more than a page
HOSTILE = "<script>alert(1)</script> Norco is not supported here."
FORMULA = '=HYPERLINK("http://evil.example","x") massage'


def _letter(n: int) -> Letter:
    return Letter(
        file=f"{n}.txt",
        case_number=f"CM25-{n:07d}",
        decision_date=dt.date(2024 if n < 10 else 2025, 3, 1),
        reviewer=Reviewer(specialties=["Physical Medicine & Rehabilitation"]),
        clinical_summary="Chronic low back pain after a lifting injury.",
        issues=[
            Issue(
                item="Acupuncture 6 sessions",
                decision="Overturned" if n % 3 == 0 else "Upheld",
                rationale=f"Acupuncture is recommended as an option when pain medication is reduced ({n}).",
            )
        ],
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, demo_db: Path) -> Path:
    """The demo with :data:`ACUPUNCTURE` acupuncture letters and one whose rationale is hostile."""
    path = tmp_path_factory.mktemp("search") / "search.db"
    shutil.copy(demo_db, path)
    engine = make_engine(f"sqlite:///{path}")
    hostile = Letter(
        file="hostile.txt",
        case_number="CM25-0000999",
        decision_date=dt.date(2025, 6, 1),
        reviewer=Reviewer(specialties=["Pain Medicine"]),
        issues=[
            Issue(item="Norco 10/325mg #120", decision="Upheld", rationale=HOSTILE),
            Issue(item=FORMULA, decision="Upheld", rationale="Massage is passive care."),
        ],
    )
    with engine.begin() as conn:
        for n, letter in enumerate([*map(_letter, range(ACUPUNCTURE)), hostile]):
            store_letter(conn, letter, f"h{n}")
    engine.dispose()
    return path


@pytest.fixture
def big(corpus: Path, tmp_path: Path):
    path = tmp_path / "search.db"
    shutil.copy(corpus, path)
    app = create_app(f"sqlite:///{path}")
    with TestClient(app) as test_client:
        sign_in(test_client, "analyst")
        yield test_client
    app.state.store.close()


def _letters(page: str) -> list[str]:
    return re.findall(r'href="/corpus/letters/([^"#]+)#item-\d+"', page)


def _caption(page: str) -> str:
    return re.search(r"<caption>([^<]*)</caption>", page).group(1)


@pytest.mark.parametrize("username", ["analyst", "coordinator", "lac-01"])
def test_search_finds_past_decisions_and_links_to_each(client: TestClient, username: str) -> None:
    sign_in(client, username)
    page = client.get("/search", params={"q": "acupuncture"})
    assert page.status_code == 200
    links = re.findall(r'href="(/corpus/letters/[^"#]+)#item-(\d+)"', page.text)
    assert {link for link, _ in links} == {
        "/corpus/letters/CM24-0000002",
        f"/corpus/letters/{_first(client)}",
    }
    for link, number in links:
        letter = client.get(link)
        assert letter.status_code == 200
        assert f'id="item-{number}"' in letter.text


def _first(client: TestClient) -> str:
    page = client.get("/search", params={"q": "acupuncture", "decision": "Upheld"})
    numbers = set(re.findall(r'href="/corpus/letters/([^"#]+)#', page.text))
    return (numbers - {"CM24-0000002"}).pop()


def test_the_count_is_every_match_and_the_pages_split_them(big: TestClient) -> None:
    first = big.get("/search", params={"q": "acupuncture"}).text
    assert _caption(first) == f"{ACUPUNCTURE} decisions matching “acupuncture”, best first"
    assert f"1–{HITS_PER_PAGE} of {ACUPUNCTURE}" in first and 'rel="next"' in first
    second = big.get("/search", params={"q": "acupuncture", "page": 2}).text
    one, two = _letters(first), _letters(second)
    assert len(one) == HITS_PER_PAGE and len(two) == ACUPUNCTURE - HITS_PER_PAGE
    assert not set(one) & set(two) and len(set(one + two)) == ACUPUNCTURE
    assert 'rel="prev"' in second and 'rel="next"' not in second
    past = big.get("/search", params={"q": "acupuncture", "page": 3}).text
    assert not _letters(past) and "back to the first page" in past


def test_the_snippet_marks_the_words_and_escapes_the_letter(big: TestClient) -> None:
    page = big.get("/search", params={"q": "norco"}).text
    assert _letters(page) == ["CM25-0000999"]
    assert "<mark>Norco</mark> is not supported" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    stemmed = big.get("/search", params={"q": "medications reduce"}).text  # matched as the index stems
    assert stemmed.count("<mark>medication</mark> is <mark>reduced</mark>") == HITS_PER_PAGE


def test_filters_alone_list_what_they_keep(big: TestClient) -> None:
    overturned = big.get("/search", params={"decision": "Overturned"}).text
    expected = sum(1 for n in range(ACUPUNCTURE) if n % 3 == 0)
    assert _caption(overturned) == f"{expected} decisions with these filters, newest first"
    assert len(_letters(overturned)) == expected
    form = big.get("/search").text  # each text filter suggests the corpus's values
    suggested = re.search(r'<datalist id="specialty-values">(.*?)</datalist>', form).group(1)
    assert re.findall(r'value="([^"]+)"', suggested) == [
        "pain medicine",
        "physical medicine &amp; rehabilitation",
    ]
    assert '<datalist id="drug_class-values"><option value="opioid"></datalist>' in form
    assert _letters(big.get("/search", params={"drug_class": "Opioid"}).text) == ["CM25-0000999"]
    assert _letters(big.get("/search", params={"specialty": "pain medicine"}).text) == ["CM25-0000999"] * 2
    in_2024 = big.get("/search", params={"year": 2024, "body_part": "", "q": ""}).text
    assert sorted(_letters(in_2024)) == [f"CM25-{n:07d}" for n in range(10)]
    assert "No past decision meets these filters" in big.get("/search", params={"year": 1901}).text
    assert "<table" not in big.get("/search", params={"q": " ", "family": ""}).text  # nothing asked


def test_filters_narrow_the_hits(big: TestClient) -> None:
    both = big.get("/search", params={"q": "acupuncture", "decision": "Overturned", "year": 2025}).text
    assert sorted(_letters(both)) == [f"CM25-{n:07d}" for n in range(10, ACUPUNCTURE) if n % 3 == 0]
    nothing = big.get("/search", params={"q": "acupuncture", "category": "imaging"}).text
    assert "No past decision matches “acupuncture” with these filters" in nothing


def test_the_csv_export_holds_every_hit_and_no_formula(big: TestClient) -> None:
    page = big.get("/search", params={"q": "acupuncture", "decision": "Upheld"}).text
    link = re.search(r'href="(/search\.csv\?[^"]+)"', page).group(1).replace("&amp;", "&")
    answer = big.get(link)
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == sum(1 for n in range(ACUPUNCTURE) if n % 3) > HITS_PER_PAGE - 10
    assert {r["decision"] for r in rows} == {"Upheld"}
    hostile = list(csv.DictReader(io.StringIO(big.get("/search.csv", params={"q": "massage"}).text)))
    assert [(r["letter"], r["item_number"]) for r in hostile] == [("CM25-0000999", "2")]
    assert hostile[0]["item"] == f"'{FORMULA}" and hostile[0]["snippet"] == "Massage is passive care."


def test_the_api_counts_pages_and_marks(big: TestClient) -> None:
    api = Api(big)
    first = api.call("analyst", "GET", "/api/search", params={"q": "acupuncture", "limit": 20})
    assert first.status_code == 200 and first.headers["x-total-count"] == str(ACUPUNCTURE)
    second = api.call("analyst", "GET", "/api/search", params={"q": "acupuncture", "limit": 20, "offset": 20})
    letters = [h["letter"] for h in first.json() + second.json()]
    assert len(letters) == len(set(letters)) == ACUPUNCTURE
    (hit,) = api.call("analyst", "GET", "/api/search", params={"q": "norco"}).json()
    assert [hit["snippet"][a:b] for a, b in hit["marks"]] == ["Norco"] and "<script>" in hit["snippet"]
    alone = api.call("analyst", "GET", "/api/search", params={"drug_class": "opioid"})
    assert alone.headers["x-total-count"] == "1" and alone.json()[0]["item"] == "Norco 10/325mg #120"


def test_an_empty_search_shows_the_form_and_an_unknown_letter_is_404(client: TestClient) -> None:
    sign_in(client, "analyst")
    form = client.get("/search")
    assert form.status_code == 200 and '<input id="q"' in form.text and "<table" not in form.text
    assert client.get("/corpus/letters/CM99-9999999").status_code == 404


def test_search_needs_a_sign_in(client: TestClient) -> None:
    answer = client.get("/search", params={"q": "acupuncture"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert client.get("/search.csv", params={"q": "acupuncture"}, follow_redirects=False).status_code == 303
