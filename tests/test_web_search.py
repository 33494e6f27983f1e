"""The corpus search page: the command line's filters, every hit linking to its past decision."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from test_web_stats import client, sign_in

__all__ = ["client"]  # the shared fixture


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


def test_filters_narrow_the_hits(client: TestClient) -> None:
    sign_in(client, "analyst")
    overturned = client.get("/search", params={"q": "acupuncture", "decision": "Overturned"}).text
    rows = re.findall(
        r"<tr>\s*<td><a href=\"/corpus/letters/[^\"]+\">[^<]+</a></td>\s*<td>[^<]*</td>\s*<td>(\w+)</td>",
        overturned,
    )
    assert rows == ["Overturned"]
    nothing = client.get("/search", params={"q": "acupuncture", "year": 1901}).text
    assert "No past decision matches" in nothing


def test_an_empty_search_shows_the_form_and_an_unknown_letter_is_404(client: TestClient) -> None:
    sign_in(client, "analyst")
    form = client.get("/search")
    assert form.status_code == 200 and '<input id="q"' in form.text and "<table>" not in form.text
    assert client.get("/corpus/letters/CM99-9999999").status_code == 404


def test_search_needs_a_sign_in(client: TestClient) -> None:
    answer = client.get("/search", params={"q": "acupuncture"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
