"""The workbench's screens as people meet them: irreversible actions ask first (``data-confirm``
naming what happens, handled by a static script the CSP allows), a withdrawn case says who, when
and why, closed cases carry no deadline, the waiting list names its cases, and the guideline
browser pages with an index of anchors. (The browser side, 390 px and print: tests/e2e.)"""

from __future__ import annotations

import datetime as dt
import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from helpers import csrf_token
from openimr.services.cases import operator
from openimr.store.schema import CaseRow, ReviewerRow
from test_web_stats import client, sign_in

__all__ = ["client"]  # the shared fixture
CONFIRM = re.compile(r'<form method="post" action="([^"]+)"[^>]*data-confirm="([^"]+)"')


def _cases(client: TestClient, status: str | None = None) -> list[str]:
    found = client.app.state.cases.list_cases(operator("test"), dt.date.today(), status).items
    return [c.case_number for c in found]


def _confirms(page: str) -> dict[str, str]:
    """Each form that asks first: its action -> the question, unescaped."""
    return {action: html.unescape(words) for action, words in CONFIRM.findall(page)}


def _withdraw(client: TestClient, number: str, reason: str) -> str:
    csrf = csrf_token(client.get(f"/cases/{number}").text)
    answer = client.post(f"/cases/{number}/withdraw", data={"csrf_token": csrf, "reason": reason})
    assert answer.status_code == 200, answer.text
    return answer.text


# Confirmations ----------------------------------------------------------------------------------


def test_every_page_loads_the_confirming_script_from_this_site_and_no_inline_handler(
    client: TestClient,
) -> None:
    sign_in(client, "coordinator")
    page = client.get("/dashboard").text
    assert re.search(r'<script src="/static/confirm.js" nonce="[^"]+" defer></script>', page)
    assert "onsubmit" not in page and "onclick" not in page
    script = client.get("/static/confirm.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "dataset.confirm" in script.text and "preventDefault" in script.text


def test_assigning_all_waiting_cases_asks_first_and_says_how_many(client: TestClient) -> None:
    sign_in(client, "coordinator")
    waiting = _cases(client, "records_requested")
    asks = _confirms(client.get("/dashboard").text)
    assert f"Assign reviewers to all {len(waiting)} waiting cases now?" in asks["/cases/assign"]
    one = _confirms(client.get(f"/cases/{waiting[0]}").text)
    assert one["/cases/assign"].startswith(f"Assign a reviewer to case {waiting[0]} now?")


def test_withdrawing_and_issuing_ask_first_naming_the_case(client: TestClient) -> None:
    sign_in(client, "coordinator")
    number = _cases(client, "assigned")[0]
    asks = _confirms(client.get(f"/cases/{number}").text)
    assert asks[f"/cases/{number}/withdraw"].startswith(f"Withdraw case {number}?")
    assert "cannot be reopened" in asks[f"/cases/{number}/withdraw"]
    with client.app.state.cases.store.transaction() as s:
        s.scalar(select(CaseRow).where(CaseRow.case_number == number)).status = "decided"
    asks = _confirms(client.get(f"/cases/{number}").text)
    assert asks[f"/cases/{number}/issue"].startswith(
        f"Issue the Final Determination letter of case {number}?"
    )


def test_disabling_an_account_asks_first_and_enabling_does_not(client: TestClient) -> None:
    sign_in(client, "admin")
    page = client.get("/admin/users").text
    asks = _confirms(page)
    disabling = [words for action, words in asks.items() if action.endswith("/active")]
    assert disabling and all(w.startswith("Disable the account ") for w in disabling)
    forms = re.findall(r'<form method="post" action="/admin/users/\d+/active"[^>]*>', page)
    assert len(forms) == len(disabling)  # every account is active in the demo: each asks
    user = re.search(r'action="(/admin/users/\d+/active)"', page)[1]
    answer = client.post(user, data={"csrf_token": csrf_token(page), "active": "false"})
    assert answer.status_code == 200
    again = client.get("/admin/users").text
    assert user not in _confirms(again)  # enabling it again asks nothing


# A withdrawn case ---------------------------------------------------------------------------------


def test_a_withdrawn_case_says_who_withdrew_it_when_and_why(client: TestClient) -> None:
    sign_in(client, "coordinator")
    number = _cases(client, "assigned")[0]
    page = _withdraw(client, number, "  The claims administrator authorized <b>the treatment</b>.  ")
    assert "Withdrawn by <strong>coordinator</strong> on <time datetime=" in page
    assert f"{dt.datetime.now(dt.UTC):%Y-%m-%d}" in page.split('id="withdrawn-h"')[1]
    assert "Why: The claims administrator authorized &lt;b&gt;the treatment&lt;/b&gt;." in page
    assert f"/cases/{number}/withdraw" not in page  # nothing left to withdraw
    assert "d left" not in page and "<dt>Due</dt>" not in page


def test_an_analyst_sees_who_withdrew_a_case_but_not_the_free_text_reason(client: TestClient) -> None:
    sign_in(client, "coordinator")
    number = _cases(client, "assigned")[0]
    _withdraw(client, number, "Authorized for Jane Roe after a call.")
    sign_in(client, "analyst")
    page = client.get(f"/cases/{number}").text
    assert "Withdrawn by <strong>coordinator</strong>" in page
    assert "Jane Roe" not in page and "The reason is in the audit log" in page


def test_a_case_that_is_not_withdrawn_shows_no_withdrawal(client: TestClient) -> None:
    sign_in(client, "coordinator")
    page = client.get(f"/cases/{_cases(client, 'assigned')[0]}").text
    assert 'id="withdrawn-h"' not in page and "Withdrawn by" not in page


def test_the_withdrawal_reads_in_words_in_the_audit_log(client: TestClient) -> None:
    sign_in(client, "coordinator")
    number = _cases(client, "assigned")[0]
    _withdraw(client, number, "Authorized.")
    page = client.get(f"/cases/{number}/audit").text
    assert '<td class="action" data-label="Action">Withdrawn</td>' in page
    assert "<dt>Reason</dt><dd><ins>Authorized.</ins></dd>" in page
    assert "<dt>Status</dt><dd><del>Assigned</del> → <ins>Withdrawn</ins></dd>" in page
    changes = "".join(re.findall(r'<dl class="changes">(.*?)</dl>', page, re.S))
    assert changes and "{&#34;" not in changes and '{"' not in changes


# The dashboard ----------------------------------------------------------------------------------


def test_closed_cases_show_no_days_left_and_open_ones_do(client: TestClient) -> None:
    sign_in(client, "coordinator")
    page = client.get("/dashboard").text
    rows = dict(re.findall(r'<th scope="row"><a href="/cases/([^"]+)">.*?</th>(.*?)</tr>', page, re.S))
    closed = {*_cases(client, "letter_issued"), *_cases(client, "ineligible")}
    assert closed and all(re.search(r"\d+ d (left|late)", rows[n]) is None for n in closed)
    assert all(">closed<" in rows[n] for n in closed)
    open_ = _cases(client, "assigned")
    assert all(re.search(r"\(\d+ d (left|late)\)", rows[n]) for n in open_)


def test_the_waiting_list_names_each_waiting_case_with_a_link(client: TestClient) -> None:
    sign_in(client, "coordinator")
    waiting = _cases(client, "records_requested")
    page = client.get("/dashboard").text
    section = page.split('id="to-assign"')[1].split("</section>")[0]
    assert f"Awaiting a reviewer ({len(waiting)})" in section
    assert re.findall(r'<a href="/cases/([^"]+)">', section) == sorted(waiting, key=waiting.index)
    sign_in(client, "analyst")
    assert 'id="to-assign"' not in client.get("/dashboard").text


# The guideline browser --------------------------------------------------------------------------


def _rule_ids(page: str) -> list[str]:
    return re.findall(r'<article class="rule card" id="rule-([^"]+)">', page)


def test_the_guideline_browser_pages_and_its_index_links_every_rule_to_its_anchor(client: TestClient) -> None:
    sign_in(client, "analyst")
    first = client.get("/guidelines").text
    total = int(re.search(r"(\d+) of \d+ rules", first)[1])
    pages = int(re.search(r"Page 1 of (\d+)", first)[1])
    assert pages > 1 and len(_rule_ids(first)) == 20
    seen = list(_rule_ids(first))
    for n in range(2, pages + 1):
        seen += _rule_ids(client.get("/guidelines", params={"page": n}).text)
    assert len(seen) == len(set(seen)) == total  # each rule on exactly one page
    index = re.findall(r'<a href="([^"#]*)#rule-([^"]+)">', first.split('id="index-h"')[1].split("</nav>")[0])
    assert sorted(rule for _, rule in index) == sorted(seen)
    for link, rule in index[-3:]:  # rules on later pages link to their page
        assert f'id="rule-{rule}"' in client.get(html.unescape(link) or "/guidelines").text


def test_a_page_past_the_last_shows_the_last_and_words_narrow_the_index(client: TestClient) -> None:
    sign_in(client, "analyst")
    last = client.get("/guidelines", params={"page": 399}).text
    assert re.search(r"Page (\d+) of \1", last)
    assert client.get("/guidelines", params={"page": 0}).status_code in (400, 422)
    page = client.get("/guidelines", params={"q": "acupuncture"}).text
    titles = re.findall(r'#rule-[^"]+">([^<]+)</a>', page)
    assert titles and all("cupuncture" in t.lower() for t in titles)
    assert 'rel="next"' not in page


def test_reassigning_asks_first_naming_the_case_and_the_reviewer_it_leaves(client: TestClient) -> None:
    with client.app.state.cases.store.transaction() as s:  # LAC-02 unconflicted: a case may move
        s.scalar(select(ReviewerRow).where(ReviewerRow.code == "LAC-02")).affiliations = []
    sign_in(client, "coordinator")
    found = client.app.state.cases.list_cases(operator("t"), dt.date.today(), "assigned", reviewer="LAC-01")
    number = found.items[0].case_number
    question = _confirms(client.get(f"/cases/{number}").text)[f"/cases/{number}/reassign"]
    assert question.startswith(f"Reassign case {number} to the reviewer chosen? LAC-01 stops work on it")
