"""The workbench's lists, audit log and statistics as each role meets them: case search, filters,
order and pages; human labels and a title per role; the audit log with reads folded, changes
field by field, filters and a CSV export for staff only; statistics shown on arrival with human
labels, CSV and PNG downloads, and the year chart's legend clear of its bars."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import matplotlib.figure
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from helpers import csrf_token
from openimr.core.process.workflow import TERMINAL
from openimr.services.audit import CSV_COLUMNS, fold, write_csv
from openimr.services.cases import BUSY, operator
from openimr.services.schemas import AuditOut
from openimr.services.stats import By, Group, chart
from openimr.store.schema import CaseRow
from openimr.web import pages
from test_web_stats import client, sign_in

__all__ = ["client"]  # the shared fixture
ROW = re.compile(r'<tr class="[^"]*">\s*<th scope="row"><a href="/cases/([^"]+)">.*?</tr>', re.S)
STAFF = ("coordinator", "admin")


def rows(page: str) -> list[str]:
    """The case numbers of a case table, in order."""
    return ROW.findall(page)


def row_of(page: str, number: str) -> str:
    return next(m.group(0) for m in ROW.finditer(page) if m.group(1) == number)


def service(client: TestClient):
    return client.app.state.cases


def everyone(client: TestClient, **filters):
    return service(client).list_cases(operator("test"), dt.date.today(), **filters).items


# Titles, labels and the header ------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "title"),
    [
        ("coordinator", "Coordinator dashboard"),
        ("admin", "Administrator dashboard"),
        ("analyst", "Analyst overview"),
    ],
)
def test_the_dashboard_is_titled_for_the_role_and_speaks_in_words(
    client: TestClient, username: str, title: str
) -> None:
    sign_in(client, username)
    page = client.get("/dashboard").text
    assert f"<h1>{title}</h1>" in page
    assert "Standard <small>(standard)</small>" not in page  # the timeframe only where it differs
    assert "Standard <small>(formulary dispute)</small>" in page
    assert '">Letter issued</span>' in page and "letter_issued</span>" not in page
    assert "))" not in page  # "Analyst (read-only)" is not wrapped in a second pair
    assert f"{username} · <small>" in page


def test_the_assign_button_says_how_many_wait(client: TestClient) -> None:
    sign_in(client, "coordinator")
    waiting = [c.case_number for c in everyone(client, status="records_requested")]
    assert len(waiting) > 1
    assert ">Assign all now</button>" in client.get("/dashboard").text
    service(client).assign(operator("test"), waiting[1:], dt.date.today())
    page = client.get("/dashboard").text
    assert ">Assign the 1 waiting case</button>" in page and "Assign all" not in page


def test_an_analyst_may_not_assign_and_a_reviewer_has_no_dashboard(client: TestClient) -> None:
    sign_in(client, "analyst")
    assert "/cases/assign" not in client.get("/dashboard").text
    sign_in(client, "lac-01")
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == "/worklist"


# Search, filters, order and pages -------------------------------------------------------------


@pytest.mark.parametrize("username", ["coordinator", "analyst"])
def test_cases_are_searched_filtered_and_sorted(client: TestClient, username: str) -> None:
    sign_in(client, username)
    all_cases = everyone(client)
    first = all_cases[0].case_number
    assert rows(client.get("/dashboard", params={"q": first.lower()}).text) == [first]
    assigned = rows(client.get("/dashboard", params={"status": "assigned"}).text)
    assert assigned and sorted(assigned) == sorted(c.case_number for c in all_cases if c.status == "assigned")
    for standing in ("overdue", "at_risk"):
        page = client.get("/dashboard", params={"standing": standing}).text
        assert sorted(rows(page)) == sorted(c.case_number for c in all_cases if c.standing == standing)
    by_number = rows(client.get("/dashboard", params={"sort": "number", "order": "desc"}).text)
    assert by_number == sorted((c.case_number for c in all_cases), reverse=True)
    lac = rows(client.get("/dashboard", params={"reviewer": "lac-01"}).text)
    assert lac and sorted(lac) == sorted(c.case_number for c in all_cases if c.reviewer == "LAC-01")
    acupuncture = rows(client.get("/dashboard", params={"q": "ACUPUNCTURE"}).text)
    assert acupuncture and len(acupuncture) < len(all_cases)  # the disputed items are searched too


def test_a_search_with_wildcards_matches_them_literally(client: TestClient) -> None:
    sign_in(client, "coordinator")
    for q in ("%", "_", "CM%0001"):
        page = client.get("/dashboard", params={"q": q}).text
        assert rows(page) == [], q
        assert "No cases match" in page


def test_an_unknown_sort_or_filter_is_refused(client: TestClient) -> None:
    sign_in(client, "coordinator")
    for params in ({"sort": "claimant"}, {"status": "lost"}, {"page": "0"}, {"standing": "on_fire"}):
        assert client.get("/dashboard", params=params).status_code == 422, params
    with pytest.raises(ValueError, match="sort must be one of due, received, number"):
        service(client).list_cases(operator("test"), dt.date.today(), sort="claimant")


def test_the_list_is_paged_with_links_that_keep_the_filters(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("openimr.web.dashboard.CASES_PER_PAGE", 4)
    sign_in(client, "coordinator")
    numbers = sorted(c.case_number for c in everyone(client))
    seen: list[str] = []
    path = "/dashboard?sort=number"
    for n in range(1, 5):
        page = client.get(path).text
        seen += rows(page)
        assert len(rows(page)) == (4 if n < 4 else len(numbers) - 12)
        assert ('rel="prev"' in page) == (n > 1)
        if n < 4:
            assert f'href="/dashboard?sort=number&amp;page={n + 1}" rel="next"' in page
            path = f"/dashboard?sort=number&page={n + 1}"
        else:
            assert 'rel="next"' not in page and f"13–{len(numbers)} of {len(numbers)}" in page
    assert seen == numbers


def test_a_reviewers_worklist_has_tabs_and_no_reviewer_filter(client: TestClient) -> None:
    sign_in(client, "lac-01")
    own = [c for c in everyone(client) if c.reviewer == "LAC-01"]
    page = client.get("/worklist").text
    assert sorted(rows(page)) == sorted(c.case_number for c in own if c.status in BUSY)
    assert 'aria-current="page">To review (' in page and 'name="reviewer"' not in page
    closed = rows(client.get("/worklist", params={"show": "closed"}).text)
    assert closed and sorted(closed) == sorted(c.case_number for c in own if c.status in TERMINAL)
    # someone else's reviewer code changes nothing: a reviewer sees only their own cases
    assert sorted(rows(client.get("/worklist", params={"show": "all", "reviewer": "DC-01"}).text)) == sorted(
        c.case_number for c in own
    )


def test_staff_filter_the_worklist_by_reviewer(client: TestClient) -> None:
    sign_in(client, "coordinator")
    page = client.get("/worklist", params={"show": "all", "reviewer": "DC-01"}).text
    listed = rows(page)
    assert listed and all(">DC-01<" in row_of(page, n) for n in listed)
    assert "<option selected>DC-01</option>" in page


# The audit log ------------------------------------------------------------------------------


def _case_with_a_letter(client: TestClient) -> str:
    return next(c.case_number for c in everyone(client) if c.status == "letter_issued")


def _upload(client: TestClient, number: str, name: str) -> None:
    csrf = csrf_token(client.get("/worklist").text)
    answer = client.post(
        f"/cases/{number}/documents",
        data={"csrf_token": csrf, "doc_type": "medical_records"},
        files={"file": (name, b"notes " + name.encode(), "text/plain")},
    )
    assert answer.status_code == 200, answer.text


def test_reads_are_folded_and_changes_shown_field_by_field(client: TestClient) -> None:
    sign_in(client, "coordinator")
    number = _case_with_a_letter(client)
    for _ in range(3):
        client.get(f"/cases/{number}")
    client.get(f"/cases/{number}/letter")
    assert client.get(f"/api/cases/{number}/letter.pdf").status_code in (200, 401)
    _upload(client, number, "Dr. Núñez's notes.txt")
    page = client.get(f"/cases/{number}/audit").text
    assert '<span class="folded">' in page and "reads</span>" in page
    raw = [r for r in service(client).audit_log(operator("t"), number).items if r.actor == "coordinator"]
    folded = fold(raw)
    assert len(folded) < len(raw) and folded[0].count >= 5  # the case page thrice, the letter page's reads
    assert "<dt>Status</dt><dd><del>Received</del> → <ins>Eligibility check</ins></dd>" in page
    assert "Dr. Núñez&#39;s notes.txt" in page  # the name as written, escaped for HTML only
    assert "\\u0027" not in page and "\\u00fa" not in page


def test_the_audit_log_is_filtered_by_case_user_and_action(client: TestClient) -> None:
    sign_in(client, "lac-01")
    client.get("/worklist")
    sign_in(client, "coordinator")
    number = _case_with_a_letter(client)
    page = client.get("/audit", params={"action": "transition"}).text
    actions = re.findall(r'<td class="action"[^>]*>([^<]+)</td>', page)
    assert actions and set(actions) == {"Status changed"}
    page = client.get("/audit", params={"actor": "lac-01"}).text
    actors = re.findall(r'<td class="actor"[^>]*>([^<]+)</td>', page)
    assert actors and set(actors) == {"lac-01"}
    page = client.get("/audit", params={"case": number}).text
    assert f"<h1>Audit log of {number}</h1>" in page
    assert client.get("/audit", params={"case": "CM00-9999999"}).status_code == 404


def test_the_site_wide_log_is_newest_first_and_paged(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("openimr.web.auditlog.ENTRIES_PER_PAGE", 5)
    sign_in(client, "admin")
    page = client.get("/audit", params={"action": "transition"}).text
    assert 'href="/audit?action=transition&amp;page=2" rel="next"' in page
    times = re.findall(r'<time datetime="([^"]+)">', page)
    assert len(times) == 5 and times == sorted(times, reverse=True)
    second = client.get("/audit", params={"action": "transition", "page": 2}).text
    assert 'href="/audit?action=transition" rel="prev"' in second


def test_the_audit_csv_has_a_header_and_the_filtered_rows(client: TestClient) -> None:
    sign_in(client, "coordinator")
    number = _case_with_a_letter(client)
    _upload(client, number, "Café d'été.txt")
    answer = client.get("/audit.csv", params={"case": number, "action": "upload"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert f'filename="audit-{number}.csv"' in answer.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(answer.text)))
    assert tuple(table[0]) == CSV_COLUMNS
    assert len(table) == 2 and table[1][2:4] == ["coordinator", number] and table[1][6] == "upload"
    assert '"name": "Café d\'été.txt"' in table[1][8]
    everything = list(csv.reader(io.StringIO(client.get("/audit.csv").text)))
    assert len(everything) > 20 and {r[3] for r in everything[1:]} > {number}


def test_a_csv_cell_never_starts_a_formula() -> None:
    row = AuditOut(
        id=1,
        at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        actor='=HYPERLINK("x")',
        case_number=None,
        entity="document",
        key="+1",
        action="upload",
        before=None,
        after=None,
    )
    out = io.StringIO()
    write_csv([row], out)
    cells = list(csv.reader(io.StringIO(out.getvalue())))[1]
    assert cells[2] == '\'=HYPERLINK("x")' and cells[5] == "'+1" and cells[1] == "2026-01-02T03:04:05+00:00"


@pytest.mark.parametrize("username", ["analyst", "lac-01"])
def test_only_staff_read_the_audit_log(client: TestClient, username: str) -> None:
    sign_in(client, "coordinator")
    number = _case_with_a_letter(client)
    secrets = {p.name for p in service(client).case(operator("t"), number, dt.date.today()).parties}
    sign_in(client, username)
    assert 'href="/audit"' not in client.get("/worklist").text
    for path in ("/audit", "/audit.csv", f"/audit.csv?case={number}", f"/cases/{number}/audit"):
        answer = client.get(path)
        assert answer.status_code in (403, 404), path  # a reviewer's other cases read as missing
        assert not [s for s in secrets if s in answer.text], path
    sign_in(client, "coordinator")
    denied = client.get("/audit.csv", params={"actor": username, "action": "denied"}).text
    assert len(list(csv.reader(io.StringIO(denied)))) >= 5  # each refusal was written down


@pytest.mark.parametrize("username", STAFF)
def test_staff_find_the_audit_log_in_the_menu(client: TestClient, username: str) -> None:
    sign_in(client, username)
    page = client.get("/worklist").text
    assert '<a href="/audit">Audit log</a>' in page
    assert 'class="button" href="/audit.csv" download' in client.get("/audit").text


def test_folding_keeps_reads_of_other_cases_and_other_people_apart() -> None:
    def row(n: int, actor: str, case: str | None, action: str = "read", entity: str = "case") -> AuditOut:
        at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=n)
        return AuditOut(
            id=n,
            at=at,
            actor=actor,
            case_number=case,
            entity=entity,
            key=case or actor,
            action=action,
            before=None,
            after=None,
        )

    rows = [
        row(1, "a", "C1"),
        row(2, "a", "C1", entity="letter"),
        row(3, "a", "C1"),
        row(4, "b", "C1"),
        row(5, "a", "C2"),
        row(6, "a", "C2", "upload"),
        row(7, "a", "C2"),
        row(8, "a", None, entity="case_list"),
        row(9, "a", None, entity="case_list"),
        row(10, "a", None, entity="audit"),
    ]
    entries = fold(rows)
    assert [(e.first.id, e.count) for e in entries] == [
        (1, 3),
        (4, 1),
        (5, 1),
        (6, 1),
        (7, 1),
        (8, 2),
        (10, 1),
    ]
    assert entries[0].entities == ("case", "letter") and entries[0].changes == []


# Statistics -----------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["analyst", "coordinator", "lac-01", "admin"])
def test_statistics_show_on_arrival_with_a_link_per_grouping(client: TestClient, username: str) -> None:
    sign_in(client, username)
    page = client.get("/corpus/stats").text
    assert '<th scope="row">Acupuncture</th><td>' in page  # the default grouping, no "Show" to press
    assert "_" not in "".join(re.findall(r'<th scope="row">([^<]*)</th>', page))  # no physical_therapy
    assert "<button" not in page.split("<main")[1]
    for by, label in (
        ("family", "Guideline family"),
        ("drug-class", "Drug class"),
        ("year", "Decision year"),
    ):
        assert f'<a href="/corpus/stats?by={by}">{label}</a>' in page
    assert '<a href="/corpus/stats?by=category" aria-current="page">Category</a>' in page
    family = client.get("/corpus/stats", params={"by": "family"}).text
    assert (
        '<th scope="col">Guideline family</th>' in family
        and "<caption>Decisions by guideline family," in family
    )
    assert "drug_class" not in family and ">family<" not in family


def test_statistics_download_as_csv_and_png(client: TestClient) -> None:
    sign_in(client, "analyst")
    page = client.get("/corpus/stats", params={"by": "category"}).text
    assert 'href="/corpus/stats.csv?by=category" download' in page
    assert 'href="/corpus/stats.png?by=category" download="decisions-by-category.png"' in page
    table = client.get("/corpus/stats.csv", params={"by": "category"})
    assert table.headers["content-type"].startswith("text/csv")
    assert 'filename="decisions-by-category.csv"' in table.headers["content-disposition"]
    lines = table.text.splitlines()
    assert lines[0].startswith("group,issues,upheld,overturned")
    assert [line for line in lines[1:] if line.startswith("acupuncture,")]
    image = client.get("/corpus/stats.png", params={"by": "year"})
    assert image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")
    assert client.get("/corpus/stats.gif").status_code in (404, 422)


def test_the_year_charts_legend_covers_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[matplotlib.figure.Figure] = []
    savefig = matplotlib.figure.Figure.savefig

    def keep(fig: matplotlib.figure.Figure, *args, **kwargs) -> None:
        savefig(fig, *args, **kwargs)
        drawn.append(fig)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    years = [Group("2022", 3, 1), Group("2023", 5, 2), Group("2024", 40, 12)]  # the latest, longest, lowest
    chart(years, By.year, io.BytesIO(), fmt="png")
    left = drawn[0].axes[0]
    legend = left.get_legend().get_window_extent()
    assert left.patches and not [p for p in left.patches if legend.overlaps(p.get_window_extent())]


# The workbench: decision support's typed review, in plain words ----------------------------


HOSTILE = "<script>alert(1)</script>"
SUMMARY = f"Wrist pain 7/10 after a fall. {HOSTILE} She has had no acupuncture before. Grip is weak."
RULE = "acupuncture-9792.24.1"


def _at(text: str) -> dict[str, int | str]:
    start = SUMMARY.index(text)
    return {"text": text, "start": start, "end": start + len(text)}


def _review_item(item: str) -> dict:
    """An item of a review as the engine writes it, with evidence at known offsets."""
    criterion = {
        "rule_id": RULE,
        "kind": "condition",
        "role": "required",
        "verified": True,
        "verification": "verified",
    }
    return {
        "item": item,
        "recommendation": "Upheld",
        "basis": "guideline",
        "p_overturn": 0.37,
        "guideline": {
            "family": "MTUS Acupuncture Treatment",
            "citation": "8 CCR 9792.24.1(c)",
            "level": "MTUS",
            "rule": RULE,
            "title": "Acupuncture: a trial for functional improvement",
        },
        "decisive_reason": {
            "code": "indications_not_documented",
            "criterion": f"{RULE} / functional_deficit",
            "label": "a functional deficit to treat",
            "evidence": [],
        },
        "hints": ["document the functional limits the acupuncture is to improve"],
        "partial_authorization": "up to 6 visits are within the guideline's limits",
        "reasons": [f"{RULE}: functional deficit: not documented (chars 10-20)"],
        "request": {"category": "acupuncture"},
        "criteria": [
            {
                **criterion,
                "criterion": "no_prior_trial",
                "label": "no earlier acupuncture trial",
                "status": "met",
                "detail": "the record says there was no acupuncture before",
                # Two overlapping spans and one past the end of the summary.
                "evidence": [
                    _at("no acupuncture"),
                    _at("acupuncture before"),
                    {"text": "x", "start": 500, "end": 510},
                ],
            },
            {
                **criterion,
                "criterion": "functional_deficit",
                "label": "a functional deficit to treat",
                "status": "not_documented",
                "detail": "no functional limit is described",
                "verification": "quoted",  # established, but not read in the guideline itself
                "evidence": [_at(HOSTILE)],
            },
        ],
        "similar": [],
        "draft_rationale": "The records do not document a functional deficit. Therefore, the request is "
        "not medically necessary.",
    }


@pytest.fixture
def crafted(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[dict]]:
    """lac-01's open case with :data:`SUMMARY` as its clinical summary and a crafted review."""
    number = next(
        c.case_number
        for c in everyone(client)
        if c.reviewer == "LAC-01" and c.status in ("assigned", "in_review")
    )
    with service(client).store.transaction() as s:
        s.scalar(select(CaseRow).where(CaseRow.case_number == number)).clinical_summary = SUMMARY
    items = service(client).case(operator("test"), number, dt.date.today()).items
    asked: list[dict] = []

    def review(case: dict, store: str | None = None) -> dict:
        asked.append(case)
        return {"case_number": number, "items": [_review_item(i.item) for i in items]}

    monkeypatch.setattr("openimr.services.support.review_engine", lambda: review)
    return number, asked


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


@pytest.fixture
def reviewer_page(client: TestClient, crafted: tuple[str, list[dict]]) -> str:
    """The crafted case's workbench as its assigned reviewer sees it."""
    number, _ = crafted
    sign_in(client, "lac-01")
    page = client.get(f"/cases/{number}")
    assert page.status_code == 200
    return page.text


def test_the_workbench_shows_the_engines_review_in_plain_words(reviewer_page: str) -> None:
    html = reviewer_page
    assert (
        "Decision support suggests <strong>Upheld</strong>: the governing guideline's criteria, "
        "evaluated on the record, decide it." in html
    )
    assert (
        "Likelihood that an expert reviewer overturns this denial" in html and "<strong>37%</strong>" in html
    )
    assert "About 37 in 100 denials like this one are overturned" in html
    assert (
        "<strong>MTUS Acupuncture Treatment</strong>: Acupuncture: a trial for functional improvement" in html
    )
    assert "8 CCR 9792.24.1(c)" in html
    assert (
        "Decisive reason: <strong>indications not documented</strong> — a functional deficit to treat" in html
    )
    assert "What documentation would change this" in html
    assert "Partial authorization: up to 6 visits are within the guideline&#39;s limits." in html
    assert "<li>document the functional limits the acupuncture is to improve</li>" in html
    rows = re.findall(
        r'<tr class="(\w+)"><th scope="row">([^<]+)</th><td><span class="tag">([^<]+)</span>'
        r"</td><td>([^<]+)</td><td>([^<]+)</td></tr>",
        html,
    )
    assert (
        "for",
        "no earlier acupuncture trial",
        "met",
        "the record says there was no acupuncture before",
        "verified",
    ) in rows
    assert (
        "against",
        "a functional deficit to treat",
        "not documented",
        "no functional limit is described",
        "quoted",
    ) in rows
    text = _text(html)
    assert "(chars " not in text and RULE not in text and "not_documented" not in text


def test_without_a_basis_the_workbench_recommends_nothing_and_claims_no_criteria_met(
    client: TestClient, crafted: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch
) -> None:
    number, _ = crafted

    def review(case: dict, store: str | None = None) -> dict:
        items = service(client).case(operator("test"), number, dt.date.today()).items
        return {
            "case_number": number,
            "items": [
                {
                    **_review_item(i.item),
                    "recommendation": None,
                    "basis": "none",
                    "p_overturn": 0.15,
                    "decisive_reason": None,
                    "criteria": [],
                    "partial_authorization": None,
                }
                for i in items
            ],
        }

    monkeypatch.setattr("openimr.services.support.review_engine", lambda: review)
    sign_in(client, "lac-01")
    html = client.get(f"/cases/{number}").text
    assert "Decision support makes <strong>no recommendation</strong>" in html
    assert "no guideline criterion decides this item" in html
    assert "an overturn is the less likely outcome" in html
    assert "criteria met" not in _text(html).lower() and "Decisive reason" not in html


def test_the_workbench_marks_evidence_at_its_offsets_escaped(reviewer_page: str) -> None:
    html = reviewer_page
    summary = html.split('<p class="summary">')[1].split("</p>")[0]
    assert re.findall(r"<mark>(.*?)</mark>", summary) == [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "no acupuncture before",  # two overlapping spans, marked once; the one past the end ignored
    ]
    assert HOSTILE not in html
    assert "evidence decision support found" in html


def test_the_decision_form_preselects_no_decision(reviewer_page: str) -> None:
    html = reviewer_page
    forms = re.findall(r'<form method="post" action="[^"]*/decide" class="decision">.*?</form>', html, re.S)
    assert forms, "the assigned reviewer gets the decision form"
    for form in forms:
        assert "checked" not in form and "selected" not in form, form
        # The draft states an outcome: it is offered beside the rationale box, never put in it.
        assert "Start from this draft" in form and "the request is not medically necessary" in form
        assert re.search(r'<textarea id="rationale-\d+"[^>]*></textarea>', form), form


def test_readers_without_recommendations_get_no_guideline(
    client: TestClient, crafted: tuple[str, list[dict]]
) -> None:
    number, asked = crafted
    sign_in(client, "analyst")
    html = client.get(f"/cases/{number}").text
    assert "Governing guideline" not in html and "MTUS Acupuncture Treatment" not in html
    assert "Decisive reason" not in html and not asked


def test_evidence_is_marked_by_offsets_merged_and_escaped() -> None:
    text = "ab <b>cd</b> ef"
    assert pages.highlight(text, [(3, 6), (4, 8), (13, 15), (14, 99), (-1, 2), (9, 9)]) == (
        "ab <mark>&lt;b&gt;cd</mark>&lt;/b&gt; <mark>ef</mark>"
    )
    assert pages.highlight(text, []) == "ab &lt;b&gt;cd&lt;/b&gt; ef"
    assert pages.highlight(None, [(0, 1)]) == ""


# The guideline browser ---------------------------------------------------------------------


def test_the_guideline_browser_shows_the_rules_in_force_on_a_date(client: TestClient) -> None:
    sign_in(client, "analyst")
    assert 'href="/guidelines"' in client.get("/").text
    today = client.get("/guidelines", params={"on": "2026-06-01"}).text
    old = client.get("/guidelines", params={"on": "2016-06-01"}).text
    # A 2026 date of service: the chapter in force since 2020, named but with its criteria not encoded.
    assert "Low Back Disorders (ACOEM February 13, 2020)" in today and "Criteria not encoded" in today
    assert "in force on 2026-06-01" in today
    # The 2009 chronic pain guidelines ended on 2017-11-30; in 2016 they govern, with quoted limits.
    assert "Physical medicine for myalgia and myositis" in old
    assert "Physical medicine for myalgia and myositis" not in today
    # The index links to the rule's anchor on its page, where its limits are quoted in letters.
    link = re.search(r'<a href="([^"]*)#rule-([^"]+)">Physical medicine for myalgia and myositis</a>', old)
    assert link, "the rule is in the index"
    there = client.get(html.unescape(link.group(1)) or "/guidelines?on=2016-06-01").text
    assert f'id="rule-{link.group(2)}"' in there
    assert "quoted" in there and re.search(r"quoted in CM\d{2}-\d{7}", there)


def test_the_guideline_browser_filters_by_words_and_refuses_a_bad_date(client: TestClient) -> None:
    sign_in(client, "lac-01")
    page = client.get("/guidelines", params={"q": "acupuncture", "on": "2016-06-01"}).text
    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert titles and all("cupuncture" in t for t in titles)
    assert client.get("/guidelines", params={"on": "not-a-date"}).status_code in (400, 422)
    hostile = client.get("/guidelines", params={"q": "<script>alert(1)</script>"}).text
    assert "<script>alert(1)</script>" not in hostile and "&lt;script&gt;" in hostile


def test_the_case_list_is_where_people_look_for_it(client: TestClient) -> None:
    assert client.get("/cases", follow_redirects=False).headers["location"].startswith("/login")
    sign_in(client, "coordinator")
    moved = client.get("/cases", params={"status": "assigned"}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/dashboard?status=assigned"
    assert "CM26-" in client.get("/cases").text
    client.cookies.clear()
    sign_in(client, "lac-01")
    assert client.get("/cases", follow_redirects=False).headers["location"] == "/worklist"
