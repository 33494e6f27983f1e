"""Bounds, on SQLite and PostgreSQL: every value the database would refuse is refused first, with
a 4xx naming it (never a 500): over-long names and codes, NUL anywhere, impossible ages and dates,
too many items or too much text in a case, hostile file names on the pages' uploads; a refused
action on an over-long case number is audited; and the models' bounds are the columns' own."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import String, select

from helpers import csrf_token, demo_app
from openimr.core import bounds
from openimr.core.case import WORKING_AGE, Application, Party
from openimr.core.process.roster import ReviewerIn
from openimr.services import schemas
from openimr.services import web_demo as demo
from openimr.store.schema import AuditRow, CaseRow, DocumentRow, PartyRow, ReviewerRow, TokenRow, UserRow
from test_web_api import SEED_CASE

ROSTER = {
    "code": "rev-new",
    "name": "Dr. Lee Park",
    "licenses": [{"state": "CA", "kind": "MD"}],
    "specialties": ["Orthopedic Surgery"],
    "active_practice_since": "2005-01-01",
    "weekly_clinical_hours": 20,
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with demo_app(request.param, demo_db, tmp_path_factory.mktemp("bounds")) as application:
        yield application


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def headers(client: TestClient) -> dict[str, dict[str, str]]:
    tokens = {}
    for name in ("coordinator", "analyst", "admin"):
        answer = client.post("/api/tokens", json={"username": name, "password": demo.PASSWORD})
        tokens[name] = {"Authorization": f"Bearer {answer.json()['token']}"}
    return tokens


def case_with(**changes: object) -> dict:
    case = copy.deepcopy(SEED_CASE)
    for path, value in changes.items():
        target, *keys = path.split("__")
        holder = case
        parts = [target, *keys]
        for part in parts[:-1]:
            holder = holder[int(part)] if isinstance(holder, list) else holder[part]
        last = parts[-1]
        if isinstance(holder, list):
            holder[int(last)] = value
        else:
            holder[last] = value
    return case


REFUSED_CASES = {
    "party name over 200": case_with(parties__0__name="P" * (bounds.PARTY_NAME + 1)),
    "specialty over 80": case_with(parties__1__specialty="S" * (bounds.SPECIALTY + 1)),
    "age 2**31": case_with(claimant__age=2**31),
    "age 10**20": case_with(claimant__age=10**20),
    "age -1": case_with(claimant__age=-1),
    "NUL in the summary": case_with(clinical_summary="wrist pain\x00"),
    "NUL in an item": case_with(disputed_items__0__item="Acupuncture\x00"),
    "NUL in a party name": case_with(parties__0__name="Harbor\x00"),
    "received 9999-12-31": case_with(application_received="9999-12-31"),
    "injured in year 1": case_with(date_of_injury="0001-01-01"),
    "case number over 16": case_with(case_number="CM24-" + "1" * 20),
    "too many items": case_with(disputed_items=[{"item": f"Item {n}"} for n in range(bounds.MAX_ITEMS + 1)]),
    "summary too long": case_with(clinical_summary="x" * (bounds.SUMMARY + 1)),
}


@pytest.mark.parametrize("name", REFUSED_CASES)
def test_a_case_the_database_would_refuse_is_refused_with_422(
    client: TestClient, headers: dict, name: str
) -> None:
    answer = client.post("/api/cases", json=REFUSED_CASES[name], headers=headers["coordinator"])
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid" and answer.json()["detail"]


def test_a_case_at_its_bounds_is_taken(client: TestClient, headers: dict) -> None:
    case = case_with(
        parties__0__name="P" * bounds.PARTY_NAME,
        parties__1__specialty="S" * bounds.SPECIALTY,
        claimant__age=WORKING_AGE[1],  # intake's bound; the store's (bounds.MAX_AGE) is wider
    )
    answer = client.post("/api/cases", json=case, headers=headers["coordinator"])
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(
    "body",
    [
        {"username": "admin\x00", "password": "x"},
        {"username": "admin", "password": "x\x00"},
        {"username": "admin", "password": "x", "name": "n\x00"},
        {"username": "a" * 81, "password": "x"},
    ],
)
def test_anonymous_sign_in_refuses_nul_and_overlong_fields(client: TestClient, body: dict) -> None:
    assert client.post("/api/tokens", json=body).status_code == 422


@pytest.mark.parametrize(
    "entry",
    [
        {**ROSTER, "code": "c" * (bounds.REVIEWER_CODE + 1)},
        {**ROSTER, "name": "n" * (bounds.REVIEWER_NAME + 1)},
        {**ROSTER, "code": "rev\x00"},
        {**ROSTER, "specialties": ["Ortho\x00"]},
        {**ROSTER, "active_practice_since": "9999-12-31"},
    ],
)
def test_a_roster_entry_the_database_would_refuse_is_refused(
    client: TestClient, headers: dict, entry
) -> None:
    assert client.post("/api/reviewers", json=[entry], headers=headers["coordinator"]).status_code == 422


@pytest.mark.parametrize(
    "path", ["/api/cases/%00", "/api/cases/CM24%000001/items", "/cases/%00", "/api/search?q=a%00"]
)
def test_nul_in_an_address_is_a_4xx(client: TestClient, headers: dict, path: str) -> None:
    answer = client.get(path, headers=headers["coordinator"])
    assert 400 <= answer.status_code < 500, answer.text


def test_a_document_type_over_its_column_is_refused(client: TestClient, headers: dict) -> None:
    number = client.get("/api/cases", headers=headers["coordinator"]).json()["items"][0]["case_number"]
    answer = client.post(
        f"/api/cases/{number}/documents",
        files={"file": ("notes.txt", b"notes")},
        data={"doc_type": "t" * (bounds.DOC_TYPE + 1)},
        headers=headers["coordinator"],
    )
    assert answer.status_code == 422


def test_a_forbidden_action_on_an_overlong_case_number_is_refused_and_audited(
    app: FastAPI, client: TestClient, headers: dict
) -> None:
    number = "CM24-" + "9" * 40
    answer = client.post(f"/api/cases/{number}/letter", headers=headers["analyst"])
    assert answer.status_code == 403
    with app.state.store.transaction() as s:
        row = s.scalars(
            select(AuditRow).where(AuditRow.action == "denied").order_by(AuditRow.id.desc())
        ).first()
    assert row is not None and row.actor == "analyst" and row.entity_key == number and row.case_number is None


def multipart(name: str, csrf: str, doc_type: str | None = None) -> tuple[bytes, dict[str, str]]:
    """A form upload of one file called *name*, its bytes as they are (a client library would
    percent-escape control characters in it)."""
    fields = [("csrf_token", csrf)] + ([("doc_type", doc_type)] if doc_type else [])
    parts = [f'--b0\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields]
    head = f'--b0\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
    parts.append(head.encode() + b"Content-Type: text/plain\r\n\r\nplain notes\r\n--b0--\r\n")
    return b"".join(parts), {"Content-Type": "multipart/form-data; boundary=b0"}


def test_the_pages_upload_takes_only_plain_file_names(app: FastAPI) -> None:
    with TestClient(app) as browser:
        page = browser.get("/login")
        csrf = csrf_token(page.text)
        form = {"username": "coordinator", "password": demo.PASSWORD, "csrf_token": csrf}
        assert browser.post("/login", data=form, follow_redirects=False).status_code == 303
        csrf = csrf_token(browser.get("/dashboard").text)
        with app.state.store.transaction() as s:
            number = s.scalars(select(CaseRow.case_number).order_by(CaseRow.id)).first()
            before = len(s.scalars(select(DocumentRow.id)).all())
        hostile = (
            "report\u202efdp.exe",
            "a\x00b.txt",
            "tab\there.txt",
            "n" * 256 + ".txt",
            "ü" * 128 + ".txt",
        )
        for name in hostile:
            body, head = multipart(name, csrf)
            answer = browser.post(
                f"/cases/{number}/documents", content=body, headers=head, follow_redirects=False
            )
            assert answer.status_code == 422, name
        body, head = multipart("notes.txt", csrf, "t" * (bounds.DOC_TYPE + 1))
        answer = browser.post(
            f"/cases/{number}/documents", content=body, headers=head, follow_redirects=False
        )
        assert answer.status_code == 422
        with app.state.store.transaction() as s:
            assert len(s.scalars(select(DocumentRow.id)).all()) == before
        body, head = multipart("notes.txt", csrf)
        answer = browser.post(
            f"/cases/{number}/documents", content=body, headers=head, follow_redirects=False
        )
        assert answer.status_code == 303


def _limit(model: type, field: str) -> int | None:
    """The max_length the model's field carries (in a list: its entries')."""
    info = model.model_fields[field]
    found = [m.max_length for m in info.metadata if getattr(m, "max_length", None)]
    schema = model.model_json_schema()["properties"][field]
    for option in [schema, *schema.get("anyOf", [])]:
        if "maxLength" in option:
            found.append(option["maxLength"])
    return max(found) if found else None


@pytest.mark.parametrize(
    ("model", "field", "column"),
    [
        (Party, "name", PartyRow.name),
        (Party, "specialty", PartyRow.specialty),
        (Application, "case_number", CaseRow.case_number),
        (Application, "condition_specialty", CaseRow.condition_specialty),
        (ReviewerIn, "code", ReviewerRow.code),
        (ReviewerIn, "name", ReviewerRow.name),
        (schemas.TokenIn, "username", UserRow.username),
        (schemas.TokenIn, "name", TokenRow.name),
        (schemas.UserIn, "username", UserRow.username),
        (schemas.UserIn, "reviewer_code", UserRow.reviewer_code),
    ],
)
def test_each_models_bound_is_its_columns_length(model: type, field: str, column) -> None:
    assert isinstance(column.type, String)
    assert _limit(model, field) == column.type.length
