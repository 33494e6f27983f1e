"""Redaction by role on the demo data: every GET of the API and every page, as the analyst and as a
reviewer, holds no claimant or party value the reader may not see, and a reviewer sees no other
reviewer's licence or conflict; the coordinator still reads the facts."""

from __future__ import annotations

import html
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from helpers import csrf_token, demo_app
from openimr.core.process.reasons import WITHHELD
from openimr.store.schema import AssignmentRow, CaseRow
from openimr.web import api as api_routes
from openimr.web import pages as page_routes
from openimr.web.app import create_app
from test_web_api import Api

REVIEWER = "lac-01"
ROUTES = [
    r.path
    for router in (api_routes.router, api_routes.public, page_routes.router)
    for r in router.routes
    if "GET" in r.methods
]
QUERY = {"q": "acupuncture", "limit": 100}


@pytest.fixture(scope="module")
def app(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    with demo_app("sqlite", demo_db, tmp_path_factory.mktemp("redaction")) as app:
        yield app


def signed_in(app: FastAPI, username: str) -> TestClient:
    """A client with *username*'s session cookie (the API takes it for reads, the pages need it)."""
    client = TestClient(app)
    form = client.get("/login")
    csrf = csrf_token(form.text)
    signed = client.post(
        "/login", data={"username": username, "password": "demo", "csrf_token": csrf}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text
    return client


@pytest.fixture(scope="module")
def seen(app: FastAPI) -> dict:
    """What the coordinator reads: every case in full, the roster, and each document id."""
    coordinator = Api(TestClient(app))
    numbers = [c["case_number"] for c in coordinator.cases("coordinator")]
    cases = {n: coordinator.call("coordinator", "GET", f"/api/cases/{n}").json() for n in numbers}
    roster = coordinator.call("coordinator", "GET", "/api/reviewers", params={"limit": 200}).json()["items"]
    documents = {d["id"] for c in cases.values() for d in c["documents"]} or {1}
    return {"cases": cases, "roster": roster, "documents": sorted(documents)}


def private_values(case: dict) -> set[str]:
    """The claimant and party values of a case as the coordinator sees it."""
    values = {p["name"] for p in case["parties"]}
    return values | ({case["date_of_injury"]} if case["date_of_injury"] else set())


def responses(client: TestClient, numbers: list[str], documents: list[int]) -> Iterator[tuple[str, str]]:
    """(path, body) of every GET route, the API's and the pages', for every case."""
    for route in ROUTES:
        if route in ("/login", "/"):
            continue
        cases = numbers if "{case_number}" in route else [""]
        docs = documents if "{document_id}" in route else [0]
        for number in cases:
            for doc in docs:
                path = route.replace("{case_number}", number).replace("{document_id}", str(doc))
                answer = client.get(path, params=QUERY, follow_redirects=False)
                assert answer.status_code != 500, (path, answer.text)
                yield path, answer.content.decode("utf-8", "replace")


def leaks(client: TestClient, seen: dict, secrets: set[str]) -> list[tuple[str, str]]:
    """(path, value) for each secret in a response, as given or HTML-escaped."""
    numbers = list(seen["cases"])
    return [
        (path, secret)
        for path, body in responses(client, numbers, seen["documents"])
        for secret in secrets
        if secret in body or html.escape(secret) in body
    ]


def test_the_analyst_sees_no_claimant_or_party_value_anywhere(app: FastAPI, seen: dict) -> None:
    secrets = set().union(*(private_values(c) for c in seen["cases"].values()))
    assert len(secrets) > 5  # the demo's parties and dates of injury
    analyst = signed_in(app, "analyst")
    assert leaks(analyst, seen, secrets) == []
    # The reasons are still there, naming each fact instead of giving it.
    findings = [
        f for n in seen["cases"] for f in analyst.get(f"/api/cases/{n}").json()["eligibility"]["findings"]
    ]
    assert any(f["reason"].startswith("the date of injury is on or after") for f in findings)
    assigned = next(
        analyst.get(f"/api/cases/{n}").json() for n, c in seen["cases"].items() if c["assignment"]
    )
    assert any(
        "no affiliation with the employer, the claims administrator" in w
        for w in assigned["assignment"]["why"]
    )
    assert assigned["assignment"]["others"]  # the analyst reads the roster, so why not the others


def test_a_reviewer_sees_no_other_reviewer_and_no_other_case(app: FastAPI, seen: dict) -> None:
    code = REVIEWER.upper()
    mine = [c for c in seen["cases"].values() if c["assignment"] and c["assignment"]["reviewer"] == code]
    theirs = [c for c in seen["cases"].values() if c not in mine]
    assert mine and theirs
    others = [r for r in seen["roster"] if r["code"] != code]
    secrets = {r["name"] for r in others} | {lic["number"] for r in others for lic in r["licenses"]}
    # Why each other reviewer was not chosen (their practice, licences, conflicts), as staff read it.
    secrets |= {part for c in mine for why in c["assignment"]["others"].values() for part in why.split("; ")}
    assert any("conflict of interest: affiliated with" in s for s in secrets)
    secrets |= set().union(*map(private_values, theirs)) - set().union(*map(private_values, mine))
    reviewer = signed_in(app, REVIEWER)
    assert leaks(reviewer, seen, secrets) == []
    own = reviewer.get(f"/api/cases/{mine[0]['case_number']}").json()
    assert own["assignment"]["others"] == {} and own["parties"]  # their own case in full


def test_the_coordinator_reads_every_fact_in_the_reasons(seen: dict) -> None:
    case = next(c for c in seen["cases"].values() if c["assignment"])
    reasons = [f["reason"] for f in case["eligibility"]["findings"]]
    assert f"the date of injury ({case['date_of_injury']}) is on or after" in " ".join(reasons)
    employer = next(p["name"] for p in case["parties"] if p["role"] == "employer")
    assert any(f"no affiliation with {employer} (employer)" in w for w in case["assignment"]["why"])
    conflicts = [
        w for c in seen["cases"].values() if c["assignment"] for w in c["assignment"]["others"].values()
    ]
    assert any("affiliated with Golden State Claims Services (claims administrator)" in w for w in conflicts)


def test_reasons_stored_as_sentences_go_only_to_who_may_see_them(
    demo_db: Path, tmp_path: Path, seen: dict
) -> None:
    """A case stored before reasons were kept as facts: its sentences are withheld from the analyst."""
    number = next(n for n, c in seen["cases"].items() if c["assignment"])
    shutil.copy(demo_db, tmp_path / "old.db")
    app = create_app(f"sqlite:///{tmp_path / 'old.db'}")
    old = "injury on 2020-02-02, employer Harbor Lines"
    with app.state.store.transaction() as s:
        case = s.scalar(select(CaseRow).where(CaseRow.case_number == number))
        finding = {
            "rule": "applicability",
            "passed": True,
            "reason": old,
            "citation": "8 CCR",
            "verified": True,
        }
        case.eligibility = {"eligible": True, "findings": [finding], "items": []}
        row = s.scalar(select(AssignmentRow).where(AssignmentRow.case_id == case.id))
        row.explanation = {"reviewer": row.reviewer.code, "why": [old], "others": {"X-01": old}}
    analyst = signed_in(app, "analyst").get(f"/api/cases/{number}").json()
    assert analyst["eligibility"]["findings"][0]["reason"] == WITHHELD
    assert analyst["assignment"]["why"] == [WITHHELD] and analyst["assignment"]["others"] == {
        "X-01": WITHHELD
    }
    coordinator = signed_in(app, "coordinator").get(f"/api/cases/{number}").json()
    assert coordinator["eligibility"]["findings"][0]["reason"] == old
    assert coordinator["assignment"]["why"] == [old]
    app.state.store.close()
