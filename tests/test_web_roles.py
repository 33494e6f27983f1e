"""The whole role × action matrix: every API action as every role (and as nobody), each allowed
one succeeding and each other refused with 403 (401 without credentials), on the demo data; a
case that is not a reviewer's own answers 404, as a missing case does."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from helpers import csrf_token
from openimr.services.demo import REVIEWERS
from openimr.services.render import render
from openimr.web.app import create_app
from test_web_api import MTUS, SEED_CASE, Api, examples_letter

ROLES = ("admin", "coordinator", "lac-01", "analyst", None)
STAFF = {"admin", "coordinator"}
EVERYONE = {"admin", "coordinator", "lac-01", "analyst"}
HIDDEN = {"read another's case", "decide another's item"}  # lac-01 is told there is no such case
DECISION = {"decision": "Upheld", "guideline": MTUS, "rationale": "Beyond the supported trial."}


@pytest.fixture(scope="module")
def matrix_db(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo, plus: a document on one of LAC-01's cases and another of its cases decided."""
    path = tmp_path_factory.mktemp("matrix") / "matrix.db"
    shutil.copy(demo_db, path)
    app = create_app(f"sqlite:///{path}")
    with TestClient(app) as client:
        api = Api(client)
        cases = api.cases("coordinator")
        mine = [c["case_number"] for c in cases if c["reviewer"] == "LAC-01" and c["status"] == "assigned"]
        waiting = [c["case_number"] for c in cases if c["status"] == "records_requested"]
        names = {
            "own": mine[0],
            "decided": mine[1],
            "other": next(
                c["case_number"] for c in cases if c["reviewer"] == "DC-01" and c["status"] == "assigned"
            ),
            "issued": next(
                c["case_number"]
                for c in cases
                if c["reviewer"] == "LAC-01" and c["status"] == "letter_issued"
            ),
            "waiting": waiting[0],
            "withdrawable": waiting[1],
            "assignable": waiting[2],
        }
        upload = api.call(
            "coordinator", "POST", f"/api/cases/{names['own']}/documents", files={"file": ("n.txt", b"note")}
        )
        names["document"] = upload.json()["id"]
        decided = api.call("lac-01", "PUT", f"/api/cases/{names['decided']}/items/1/decision", json=DECISION)
        assert decided.json()["status"] == "decided"
    app.state.store.close()
    return {"path": path, **names}


def actions(c: dict) -> list[tuple[str, str, str, dict, set[str]]]:
    """(action, method, path, request arguments, roles allowed) for every API action."""
    letter = render(examples_letter(), "txt").encode()
    roster = [REVIEWERS[0].model_dump(mode="json")]
    return [
        ("list cases", "GET", "/api/cases", {}, EVERYONE),
        ("read own case", "GET", f"/api/cases/{c['own']}", {}, EVERYONE),
        ("read another's case", "GET", f"/api/cases/{c['other']}", {}, EVERYONE - {"lac-01"}),
        ("read items", "GET", f"/api/cases/{c['own']}/items", {}, EVERYONE),
        ("create case", "POST", "/api/cases", {"json": SEED_CASE}, STAFF),
        ("list documents", "GET", f"/api/cases/{c['own']}/documents", {}, STAFF | {"lac-01"}),
        (
            "upload document",
            "POST",
            f"/api/cases/{c['waiting']}/documents",
            {"files": {"file": ("a.txt", b"records")}},
            STAFF,
        ),
        (
            "download document",
            "GET",
            f"/api/cases/{c['own']}/documents/{c['document']}",
            {},
            STAFF | {"lac-01"},
        ),
        ("assign", "POST", "/api/assignments", {"json": {"case_numbers": [c["assignable"]]}}, STAFF),
        ("decide own item", "PUT", f"/api/cases/{c['own']}/items/1/decision", {"json": DECISION}, {"lac-01"}),
        (
            "decide another's item",
            "PUT",
            f"/api/cases/{c['other']}/items/1/decision",
            {"json": DECISION},
            set(),
        ),
        ("recommendations", "GET", f"/api/cases/{c['own']}/recommendations", {}, STAFF | {"lac-01"}),
        ("issue letter", "POST", f"/api/cases/{c['decided']}/letter", {}, STAFF),
        ("read letter", "GET", f"/api/cases/{c['issued']}/letter", {}, STAFF | {"lac-01"}),
        ("letter HTML", "GET", f"/api/cases/{c['issued']}/letter.html", {}, STAFF | {"lac-01"}),
        ("letter PDF", "GET", f"/api/cases/{c['issued']}/letter.pdf", {}, STAFF | {"lac-01"}),
        (
            "withdraw",
            "POST",
            f"/api/cases/{c['withdrawable']}/withdraw",
            {"json": {"reason": "authorized"}},
            STAFF,
        ),
        ("audit log", "GET", f"/api/cases/{c['own']}/audit", {}, STAFF),
        ("list reviewers", "GET", "/api/reviewers", {}, STAFF | {"analyst"}),
        ("import reviewers", "POST", "/api/reviewers", {"json": roster}, STAFF),
        ("parse letter", "POST", "/api/letters/parse", {"files": {"file": ("l.txt", letter)}}, EVERYONE),
        ("ingest letters", "POST", "/api/letters/ingest", {"files": [("files", ("l.txt", letter))]}, STAFF),
        ("search corpus", "GET", "/api/search", {"params": {"q": "acupuncture"}}, EVERYONE),
        (
            "create account",
            "POST",
            "/api/users",
            {"json": {"username": "new-user", "password": "long enough", "role": "analyst"}},
            {"admin"},
        ),
        ("who am I", "GET", "/api/me", {}, EVERYONE),
    ]


@pytest.fixture
def role_api(matrix_db: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setattr(
        "openimr.services.support.review_engine", lambda: lambda case, store=None: {"items": []}
    )
    path = tmp_path / "web.db"
    shutil.copy(matrix_db["path"], path)
    app = create_app(f"sqlite:///{path}")
    with TestClient(app) as client:
        yield Api(client)
    app.state.store.close()


@pytest.mark.parametrize("role", ROLES, ids=[r or "anonymous" for r in ROLES])
def test_role_action_matrix(role: str | None, role_api: Api, matrix_db: dict) -> None:
    wrong = []
    for action, method, path, kwargs, allowed in actions(matrix_db):
        status = role_api.call(role, method, path, **kwargs).status_code
        expected = "2xx" if role in allowed else ("401" if role is None else "403")
        if role == "lac-01" and action in HIDDEN:
            expected = "404"
        got = "2xx" if 200 <= status < 300 else str(status)
        if got != expected:
            wrong.append(f"{action}: expected {expected}, got {status}")
    assert not wrong, f"{role or 'anonymous'}: " + "; ".join(wrong)


@pytest.mark.parametrize(
    ("role", "page", "allowed"),
    [
        (role, page, role in allowed)
        for page, allowed in (
            ("/dashboard", STAFF | {"analyst"}),
            ("/intake", STAFF),
            ("/worklist", EVERYONE),
        )
        for role in sorted(EVERYONE)
    ],
)
def test_pages_by_role(role: str, page: str, allowed: bool, role_api: Api) -> None:
    client = role_api.client
    form = client.get("/login")
    csrf = csrf_token(form.text)
    signed = client.post(
        "/login", data={"username": role, "password": "demo", "csrf_token": csrf}, follow_redirects=False
    )
    assert signed.status_code == 303
    answer = client.get(page, follow_redirects=False)
    if allowed:
        assert answer.status_code == 200
    else:
        assert answer.status_code in (303, 403)  # a reviewer's dashboard is their worklist
