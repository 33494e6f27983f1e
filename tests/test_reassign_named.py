"""Reassigning a case to a named reviewer: every other reviewer listed with why they may or may not
take it (one line each, by code, in words that read right), workload figures that add up, no
reassign form when nobody else qualifies, and the API's refusals."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from openimr.core.process.assignment import Candidate, Need, assign, why_not
from openimr.core.process.roster import License
from openimr.core.roles import PERMISSIONS, Action
from openimr.services import web_demo as demo
from openimr.store.schema import AuditRow, ReviewerRow
from test_web_admin import Person

TODAY = dt.date.today()


def token(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post("/api/tokens", json={"username": username, "password": demo.PASSWORD})
    return {"Authorization": f"Bearer {answer.json()['token']}"}


@pytest.fixture
def api(app) -> TestClient:
    return TestClient(app)


def lac01_case(api: TestClient) -> str:
    listed = api.get("/api/cases?limit=200", headers=token(api, "admin")).json()["items"]
    return next(c["case_number"] for c in listed if c["status"] == "assigned" and c["reviewer"] == "LAC-01")


def unconflict_lac02(app) -> None:
    with app.state.store.transaction() as s:
        s.scalar(select(ReviewerRow).where(ReviewerRow.code == "LAC-02")).affiliations = []


def test_with_nobody_else_qualified_there_is_no_reassign_form_and_one_line_per_reviewer(app, api) -> None:
    number = lac01_case(api)
    page = Person(app, "coordinator").get(f"/cases/{number}").text
    assert f'action="/cases/{number}/reassign"' not in page
    assert "No other reviewer can take this case now." in page
    lines = re.findall(r"<li><strong>([A-Z]+-\d+)</strong>([^<]*)</li>", page.split('class="candidates"')[1])
    assert [code for code, _ in lines] == ["DC-01", "IM-01", "LAC-02", "ORTH-01", "PMR-01"]  # not LAC-01
    said = dict(lines)
    assert "conflict of interest" in said["LAC-02"] and "not qualified" in said["ORTH-01"]
    assert "only 3.0 years of active practice, where more than 5 are required" in said["ORTH-01"]
    assert "no licence in good standing" in said["IM-01"]
    assert all(len(line) < 300 for line in said.values())  # one short line each, never a wall of text
    assert "not more than" not in page and "/8 after it" not in page


def test_the_api_lists_each_candidate_with_its_figures_and_reasons(app, api) -> None:
    number = lac01_case(api)
    who = token(api, "coordinator")
    listed = api.get(f"/api/cases/{number}/assignment/candidates", headers=who)
    assert listed.status_code == 200
    by_code = {c["code"]: c for c in listed.json()}
    assert "LAC-01" not in by_code and not any(c["qualifies"] for c in by_code.values())
    assert by_code["LAC-02"]["why_not"][0].startswith("conflict of interest: affiliated with")
    roster = {r["code"]: r for r in api.get("/api/reviewers", headers=who).json()["items"]}
    for code, c in by_code.items():
        assert (c["open_cases"], c["capacity"]) == (roster[code]["open_cases"], roster[code]["capacity"])
    unconflict_lac02(app)
    again = {c["code"]: c for c in api.get(f"/api/cases/{number}/assignment/candidates", headers=who).json()}
    assert again["LAC-02"]["qualifies"] and again["LAC-02"]["why_not"] == []


def test_the_coordinator_reassigns_through_the_api_to_a_named_reviewer_with_the_right_workload(
    app, api
) -> None:
    number = lac01_case(api)
    who = token(api, "coordinator")
    unconflict_lac02(app)
    before = next(c for c in api.get("/api/reviewers", headers=who).json()["items"] if c["code"] == "LAC-02")
    done = api.put(f"/api/cases/{number}/assignment", json={"reviewer": "LAC-02"}, headers=who)
    assert done.status_code == 200, done.text
    assert done.json()["reviewer"] == "LAC-02"
    load = f"{before['open_cases'] + 1} of {before['capacity']} open cases with this one"
    assert any(load in line for line in done.json()["why"]), done.json()["why"]
    assert api.get(f"/api/cases/{number}", headers=who).json()["assignment"]["reviewer"] == "LAC-02"
    with app.state.store.transaction() as s:
        rows = list(s.scalars(select(AuditRow).where(AuditRow.action == "reassign")))
        assert [(r.before["reviewer"], r.after["reviewer"]) for r in rows] == [("LAC-01", "LAC-02")]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"reviewer": "NOPE-99"}, 422, "no reviewer NOPE-99 on the roster"),
        ({"reviewer": "ORTH-01"}, 422, "ORTH-01 may not take case"),
        ({"reviewer": "LAC-01"}, 422, "already assigned to LAC-01"),
        ({}, 422, "no other reviewer may take case"),  # LAC-02 conflicted: nobody, by default
        ({"reviewer": "LAC-02", "force": True}, 422, "force"),
        ({"reviewer": ""}, 422, "reviewer"),
    ],
)
def test_a_reassignment_that_cannot_be_is_refused_saying_why_and_changes_nothing(
    app, api, body: dict, status: int, words: str
) -> None:
    number = lac01_case(api)
    who = token(api, "coordinator")
    answer = api.put(f"/api/cases/{number}/assignment", json=body, headers=who)
    assert answer.status_code == status and words in answer.text, answer.text
    assert api.get(f"/api/cases/{number}", headers=who).json()["assignment"]["reviewer"] == "LAC-01"


def test_only_those_who_assign_may_reassign_or_read_the_candidates(app, api) -> None:
    number = lac01_case(api)
    for name in ("lac-01", "analyst"):
        who = token(api, name)
        assert api.put(f"/api/cases/{number}/assignment", json={}, headers=who).status_code in {403, 404}
        assert api.get(f"/api/cases/{number}/assignment/candidates", headers=who).status_code in {403, 404}
    assert api.put(f"/api/cases/{number}/assignment", json={}).status_code == 401
    # The candidates name the parties a reviewer is tied to: everyone who may assign may see them.
    assert all(Action.SEE_CLAIMANT in actions for actions in PERMISSIONS.values() if Action.ASSIGN in actions)


def test_the_page_refuses_a_named_reviewer_with_that_reviewers_reasons_only(app, api) -> None:
    number = lac01_case(api)
    unconflict_lac02(app)
    coordinator = Person(app, "coordinator")
    page = coordinator.get(f"/cases/{number}").text
    assert re.search(r'<option value="LAC-02">LAC-02 — [^<]* \(\d+ of 5 open cases\)</option>', page)
    refused = coordinator.post(f"/cases/{number}/reassign", {"reviewer": "ORTH-01"}).text
    flash = re.search(r'class="flash warning"[^>]*>([^<]*)<', refused)[1]
    assert flash.startswith("Not reassigned: ORTH-01 may not take case") and "LAC-02" not in flash
    done = coordinator.post(f"/cases/{number}/reassign", {"reviewer": ""})
    assert "Reassigned to LAC-02" in done.text


def _reviewer(code: str, open_cases: int = 0, capacity: int = 8, since: int = 10) -> Candidate:
    return Candidate(
        code=code,
        name=code,
        licenses=(License(state="California", kind="LAc", status="active"),),
        specialties=("Licensed Acupuncturist",),
        active_practice_since=TODAY.replace(year=TODAY.year - since),
        weekly_clinical_hours=30,
        affiliations=(),
        capacity=capacity,
        open_cases=open_cases,
    )


def test_workload_figures_count_open_cases_and_the_one_being_assigned() -> None:
    need = Need("CM26-0000001", TODAY, ("acupuncture",), None, ())
    (outcome,) = assign([need], [_reviewer("A", open_cases=2), _reviewer("B", open_cases=6)], TODAY)
    assert outcome.reviewer == "A"
    assert any("3 of 8 open cases with this one" in line for line in outcome.reasons)
    assert outcome.others["B"] == "qualifies too, with 6 of 8 open cases; another reviewer had more room"
    full = _reviewer("C", open_cases=8)
    assert [r.text() for r in why_not(full, need, TODAY)] == ["at capacity: 8 of 8 open cases"]
    young = _reviewer("D", since=3)
    assert (
        why_not(young, need, TODAY)[0]
        .text()
        .startswith("only 3.0 years of active practice, where more than 5")
    )
