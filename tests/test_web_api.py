"""The HTTP API on the demo data: authentication, cases, documents, assignment, decisions, letters,
decision support, the corpus, errors and pagination; on SQLite, and once through on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient

import openimr.store.schema as web_tables
from helpers import csrf_token, load_demo
from openimr.services import demo as examples
from openimr.services import web_demo as demo
from openimr.services.render import render
from openimr.store.db import Store
from openimr.store.schema import Base
from openimr.web.app import create_app
from store_pg import pg_schema_url

TODAY = dt.date.today()
WEB_TABLES = {"web_users", "web_tokens", "web_sessions"}
SEED_CASE = {
    "application_received": (TODAY - dt.timedelta(days=2)).isoformat(),
    "date_of_injury": (TODAY - dt.timedelta(days=300)).isoformat(),
    "ur_decision_date": (TODAY - dt.timedelta(days=12)).isoformat(),
    "ur_decision_served": (TODAY - dt.timedelta(days=11)).isoformat(),
    "claimant": {"age": 44, "sex": "female"},
    "parties": [
        {"role": "employer", "name": "Harbor Freight Lines"},
        {"role": "requesting_provider", "name": "Dr. Ana Ruiz", "specialty": "Hand Surgery"},
    ],
    "ur_items": [{"item": "Acupuncture 2 x week for 3 weeks", "outcome": "denied"}],
    "clinical_summary": "A 44-year-old with wrist pain after a fall at work; UR denied acupuncture.",
    "disputed_items": [{"item": "Acupuncture 2 x week for 3 weeks", "category": "acupuncture"}],
}
MTUS = "Decision based on MTUS Acupuncture Medical Treatment Guidelines, 8 CCR 9792.24.1."


class Api:
    """A test client and a Bearer token per demo account."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            answer = self.client.post("/api/tokens", json={"username": username, "password": demo.PASSWORD})
            assert answer.status_code == 201, answer.text
            self.tokens[username] = answer.json()["token"]
        return self.tokens[username]

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def call(self, username: str | None, method: str, path: str, **kwargs):
        headers = self.headers(username) if username else {}
        return self.client.request(method, path, headers=headers, **kwargs)

    def cases(self, username: str, **params) -> list[dict]:
        answer = self.call(username, "GET", "/api/cases", params={"limit": 200, **params})
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]


@pytest.fixture
def api(demo_db: Path, tmp_path: Path) -> Iterator[Api]:
    path = tmp_path / "web.db"
    shutil.copy(demo_db, path)
    app = create_app(f"sqlite:///{path}")
    with TestClient(app) as client:
        yield Api(client)
    app.state.store.close()


def first(api: Api, username: str, status: str) -> str:
    return next(c["case_number"] for c in api.cases(username) if c["status"] == status)


def test_anonymous_requests_get_401_with_a_json_message(api: Api) -> None:
    answer = api.client.get("/api/cases")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"] == "unauthenticated" and "Bearer" in answer.json()["message"]
    assert api.client.get("/api/cases", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_wrong_password_gets_no_token(api: Api) -> None:
    answer = api.client.post("/api/tokens", json={"username": "admin", "password": "wrong"})
    assert answer.status_code == 401
    assert answer.json()["message"] == "wrong username or password"


def test_the_openapi_schema_describes_the_api(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/cases", "/api/cases/{case_number}/letter.pdf", "/api/letters/parse", "/api/search"):
        assert path in schema["paths"]


def test_cases_are_paged_by_due_date(api: Api) -> None:
    everything = api.cases("coordinator")
    page = api.call("coordinator", "GET", "/api/cases", params={"limit": 4, "offset": 2}).json()
    assert page["total"] == len(everything) > 6
    assert [c["case_number"] for c in page["items"]] == [c["case_number"] for c in everything[2:6]]
    dues = [c["due_date"] for c in everything]
    assert dues == sorted(dues)
    overdue = api.cases("coordinator", standing="overdue")
    assert overdue and all(c["standing"] == "overdue" for c in overdue)
    bad = api.call("coordinator", "GET", "/api/cases", params={"limit": 0})
    assert bad.status_code == 422 and "Limit: must be at least 1" in bad.json()["message"]


def test_a_reviewer_lists_and_reads_only_their_own_cases(api: Api) -> None:
    mine = api.cases("lac-01")
    assert mine and {c["reviewer"] for c in mine} == {"LAC-01"}
    other = next(c["case_number"] for c in api.cases("coordinator") if c["reviewer"] == "DC-01")
    refused = api.call("lac-01", "GET", f"/api/cases/{other}")
    missing = api.call("lac-01", "GET", "/api/cases/CM00-0000000")
    assert refused.status_code == missing.status_code == 404  # another's case reads as a missing one
    assert refused.json() == {**missing.json(), "message": f"no case {other}"}
    audit = api.call("coordinator", "GET", f"/api/cases/{other}/audit").json()["items"]
    assert any(r["actor"] == "lac-01" and r["action"] == "denied" for r in audit)


def test_an_analyst_sees_no_claimant_details(api: Api) -> None:
    number = first(api, "analyst", "letter_issued")
    case = api.call("analyst", "GET", f"/api/cases/{number}").json()
    assert case["redacted"] is True
    for field in ("claimant", "clinical_summary", "parties", "documents", "date_of_injury"):
        assert case[field] is None
    assert case["items"][0]["decision"]["decision"] in ("Upheld", "Overturned")
    assert api.call("analyst", "GET", f"/api/cases/{number}/letter").status_code == 403
    full = api.call("coordinator", "GET", f"/api/cases/{number}").json()
    assert full["redacted"] is False and full["clinical_summary"]


def test_a_case_from_intake_to_the_pdf_letter(api: Api) -> None:
    created = api.call("coordinator", "POST", "/api/cases", json=SEED_CASE)
    assert created.status_code == 201, created.text
    number = created.json()["case_number"]
    assert created.json()["status"] == "records_requested"
    again = api.call("coordinator", "POST", "/api/cases", json=SEED_CASE).json()
    assert again == {**created.json(), "created": False}

    upload = api.call(
        "coordinator",
        "POST",
        f"/api/cases/{number}/documents",
        files={"file": ("notes.txt", b"Progress note: wrist pain 6/10.", "text/plain")},
        data={"doc_type": "medical_records"},
    )
    assert upload.status_code == 201, upload.text
    document = upload.json()["id"]

    (outcome,) = api.call("coordinator", "POST", "/api/assignments", json={"case_numbers": [number]}).json()
    reviewer = outcome["reviewer"]
    assert reviewer and outcome["why"]
    username = reviewer.lower()
    download = api.call(username, "GET", f"/api/cases/{number}/documents/{document}")
    assert download.status_code == 200 and download.content == b"Progress note: wrist pain 6/10."
    assert download.headers["content-disposition"].startswith("inline")  # shown in the browser

    (item,) = api.call(username, "GET", f"/api/cases/{number}/items").json()
    assert item["request"]["sessions"] == 6 and "guideline" not in item  # decision support's, not the item's
    (rec,) = api.call(username, "GET", f"/api/cases/{number}/recommendations").json()["items"]
    assert rec["guideline"]["family"].startswith("MTUS")
    body = {
        "decision": "Overturned",
        "guideline": MTUS,
        "rationale": "A first trial of 6 visits is supported.",
    }
    decided = api.call(username, "PUT", f"/api/cases/{number}/items/1/decision", json=body)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "decided"
    stale = api.call(
        username, "PUT", f"/api/cases/{number}/items/1/decision", json={**body, "decision": "Upheld"}
    )
    assert stale.status_code == 409 and "version" in stale.json()["message"]

    preview = api.call(username, "GET", f"/api/cases/{number}/letter.html")
    assert preview.status_code == 200 and "Overturned" in preview.text
    assert api.call(username, "GET", f"/api/cases/{number}/letter.pdf").status_code == 404  # not issued
    assert api.call(username, "POST", f"/api/cases/{number}/letter").status_code == 403
    issued = api.call("coordinator", "POST", f"/api/cases/{number}/letter")
    assert issued.status_code == 200 and issued.json()["issues"][0]["decision"] == "Overturned"
    pdf = api.call(username, "GET", f"/api/cases/{number}/letter.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    audit = api.call("coordinator", "GET", f"/api/cases/{number}/audit").json()["items"]
    actions = [(r["actor"], r["entity"], r["action"]) for r in audit]
    for expected in [
        ("coordinator", "case", "create"),
        ("coordinator", "document", "upload"),
        ("coordinator", "assignment", "create"),
        (username, "document", "download"),
        (username, "items", "read"),
        (username, "decision", "decide"),
        (username, "decision", "decide_conflict"),
        ("coordinator", "letter", "issue"),
        (username, "letter", "read"),
    ]:
        assert expected in actions


def test_errors_say_what_went_wrong(api: Api) -> None:
    missing = api.call("admin", "GET", "/api/cases/CM00-0000000")
    assert missing.status_code == 404 and missing.json() == {
        "error": "not_found",
        "message": "no case CM00-0000000",
        "detail": None,
    }
    bad = api.call("coordinator", "POST", "/api/cases", json={**SEED_CASE, "disputed_items": []})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "disputed_items"
    closed = first(api, "coordinator", "letter_issued")
    withdraw = api.call("coordinator", "POST", f"/api/cases/{closed}/withdraw", json={"reason": "authorized"})
    assert withdraw.status_code == 409 and "cannot become withdrawn" in withdraw.json()["message"]
    assert api.call("admin", "GET", "/api/nothing").json()["error"] == "not_found"


def test_recommendations_say_when_decision_support_is_unavailable(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = first(api, "lac-01", "assigned")
    monkeypatch.setattr("openimr.services.support.review_engine", lambda: None)
    answer = api.call("lac-01", "GET", f"/api/cases/{number}/recommendations")
    assert answer.status_code == 503 and "decision support unavailable" in answer.json()["message"]
    malformed = {"items": [{"item": "x", "recommendation": "Upheld", "p_overturn": 0.2, "guideline": {}}]}
    monkeypatch.setattr("openimr.services.support.review_engine", lambda: lambda case, store=None: malformed)
    answer = api.call("lac-01", "GET", f"/api/cases/{number}/recommendations")
    message = answer.json()["message"]
    assert answer.status_code == 503 and "\n" not in message
    assert message.startswith(f"decision support gave case {number} a malformed review: ")
    assert "items.0" in message and "more problems" in message
    review = {
        "case_number": number,
        "items": [
            {
                "item": "x",
                "recommendation": "Upheld",
                "basis": "statistical",
                "p_overturn": 0.2,
                "guideline": {"family": "Non-MTUS"},
                "reasons": [],
                "request": {},
            }
        ],
    }
    monkeypatch.setattr("openimr.services.support.review_engine", lambda: lambda case, store=None: review)
    answer = api.call("lac-01", "GET", f"/api/cases/{number}/recommendations")
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["items"]
    assert item["basis"] == "statistical" and item["criteria"] == [] and item["decisive_reason"] is None


def test_the_openapi_document_describes_the_typed_review(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    ok = spec["paths"]["/api/cases/{case_number}/recommendations"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Review"}
    schemas = spec["components"]["schemas"]
    fields = {name: set(schemas[name]["properties"]) for name in ("ItemReview", "Criterion", "Guideline")}
    assert {"recommendation", "basis", "p_overturn", "guideline", "decisive_reason", "hints", "criteria"} <= (
        fields["ItemReview"]
    )
    assert {"status", "evidence", "verified", "label", "detail"} <= fields["Criterion"]
    assert {"family", "citation", "rule", "title"} <= fields["Guideline"]
    assert {"text", "start", "end"} <= set(schemas["Evidence"]["properties"])
    assert {"code", "criterion", "label", "evidence"} <= set(schemas["DecisiveReason"]["properties"])
    assert "guideline" not in schemas["ItemOut"]["properties"]


def test_the_recommendations_match_the_review_schema(api: Api, schemas_dir: Path) -> None:
    review = json.loads((schemas_dir / "review.schema.json").read_text())
    request = json.loads((schemas_dir / "request.schema.json").read_text())
    review["properties"]["items"]["items"]["properties"]["request"] = request
    number = first(api, "lac-01", "assigned")
    answer = api.call("lac-01", "GET", f"/api/cases/{number}/recommendations")
    assert answer.status_code == 200, answer.text
    data = answer.json()
    jsonschema.validate(data, review)
    assert data["items"] and all("criteria" in i and "hints" in i for i in data["items"])


def test_letters_parse_ingest_and_search(api: Api, tmp_path: Path) -> None:
    letter = examples_letter()
    text = render(letter, "txt")
    parsed = api.call("analyst", "POST", "/api/letters/parse", files={"file": ("letter.txt", text.encode())})
    assert parsed.status_code == 200, parsed.text
    assert parsed.json()["issues"][0]["decision"] == letter.issues[0].decision
    junk = api.call("analyst", "POST", "/api/letters/parse", files={"file": ("junk.txt", b"hello")})
    assert junk.status_code == 422 and "not an IMR" in junk.json()["message"]

    files = [("files", ("one.txt", text.encode())), ("files", ("junk.txt", b"hello"))]
    assert api.call("analyst", "POST", "/api/letters/ingest", files=files).status_code == 403
    report = api.call("coordinator", "POST", "/api/letters/ingest", files=files).json()
    assert len(report["stored"]) == 1 and len(report["errors"]) == 1
    hits = api.call("analyst", "GET", "/api/search", params={"q": "acupuncture"}).json()
    assert hits and hits[0]["category"] == "acupuncture"


def examples_letter():
    """The demo's first letter as the process issues it."""
    from openimr.core.models import Claimant, Issue, Letter

    example = examples.examples(TODAY)[0]
    decision, guideline, _, rationale = example.decisions[0]
    return Letter(
        file="seed.txt",
        case_number="CM24-0000001",
        decision_date=TODAY,
        application_received=example.case.application_received,
        ur_denial_date=example.case.ur_decision_date,
        priority="Standard",
        claimant=Claimant(age=55),
        clinical_summary=example.case.clinical_summary,
        issues=[
            Issue(
                item=example.case.disputed_items[0].item,
                decision=decision,
                imro_guideline=guideline,
                rationale=rationale,
            )
        ],
    )


def test_accounts_are_created_by_an_admin_only(api: Api) -> None:
    body = {"username": "nurse", "password": "long enough", "role": "coordinator"}
    assert api.call("coordinator", "POST", "/api/users", json=body).status_code == 403
    assert api.call("admin", "POST", "/api/users", json=body).status_code == 201
    assert api.call("admin", "POST", "/api/users", json=body).status_code == 409
    token = api.client.post("/api/tokens", json={"username": "nurse", "password": "long enough"}).json()[
        "token"
    ]
    me = api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"username": "nurse", "role": "coordinator", "reviewer_code": None}


def test_the_web_migration_matches_the_models(demo_db: Path) -> None:
    store = Store.open(f"sqlite:///{demo_db}")
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_object": lambda _o, n, k, _r, _c: k != "table" or n in WEB_TABLES}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        store.close()
    assert {t.name for t in Base.metadata.sorted_tables} >= WEB_TABLES
    assert web_tables.ROLES == ("admin", "coordinator", "reviewer", "analyst")


@pytest.mark.postgres
def test_the_api_on_postgresql() -> None:
    with pg_schema_url() as url:
        load_demo(url)
        app = create_app(url)
        try:
            with TestClient(app) as client:
                api = Api(client)
                assert api.cases("lac-01") and {c["reviewer"] for c in api.cases("lac-01")} == {"LAC-01"}
                number = first(api, "lac-01", "assigned")
                case = api.call("lac-01", "GET", f"/api/cases/{number}").json()
                body = {"decision": "Upheld", "guideline": MTUS, "rationale": "Beyond the trial."}
                version = case["items"][0]["version"]
                path = f"/api/cases/{number}/items/1/decision"
                answer = api.call("lac-01", "PUT", path, json={**body, "expected_version": version})
                assert answer.status_code == 200, answer.text
                assert api.call("coordinator", "POST", f"/api/cases/{number}/letter").status_code == 200
                assert api.call("lac-01", "GET", f"/api/cases/{number}/letter.pdf").content.startswith(
                    b"%PDF"
                )
        finally:
            app.state.store.close()


def test_sessions_are_httponly_samesite_and_forms_need_their_csrf_token(api: Api) -> None:
    client = api.client
    form = client.get("/login")
    assert "script-src 'self' 'nonce-" in form.headers["content-security-policy"]
    csrf = csrf_token(form.text)
    forged = client.post("/login", data={"username": "coordinator", "password": "demo", "csrf_token": "x"})
    assert forged.status_code == 403
    signed = client.post(
        "/login",
        data={"username": "coordinator", "password": "demo", "csrf_token": csrf},
        follow_redirects=False,
    )
    cookie = signed.headers["set-cookie"]
    assert "openimr_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get("/dashboard")
    assert page.status_code == 200 and "Coordinator dashboard" in page.text
    session_csrf = csrf_token(page.text)
    assert client.post("/cases/assign", data={"csrf_token": "stolen"}).status_code == 403
    assert (
        client.post("/cases/assign", data={"csrf_token": session_csrf}, follow_redirects=False).status_code
        == 303
    )
    # The API takes the session cookie too, but a write needs the CSRF token as a header.
    assert client.get("/api/me").json()["username"] == "coordinator"
    number = first(api, "coordinator", "assigned")
    path = f"/api/cases/{number}/withdraw"
    assert client.post(path, json={"reason": "authorized"}).status_code == 403
    assert (
        client.post(path, json={"reason": "authorized"}, headers={"X-CSRF-Token": session_csrf}).status_code
        == 200
    )
    client.post("/logout", data={"csrf_token": session_csrf})
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == "/login?next=/dashboard"
