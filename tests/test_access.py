"""The one gate: errors carry how every adapter answers them, and the web and the command line run
the same operation with the same rules (accounts created through the API are audited as the admin
page audits them; a withdrawal needs a reason wherever it comes from)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from openimr.cli import app as cli
from openimr.core.errors import ImmutableError, OpenIMRError
from openimr.core.process.workflow import TransitionError
from openimr.services import web_demo as demo
from openimr.services.access import ConflictError, Forbidden, NotFound, ProcessError, Taken, Unavailable
from openimr.store.schema import AuditRow
from openimr.web.errors import TooLarge, Unauthenticated, Unreadable, classify


@pytest.mark.parametrize(
    ("error", "status", "code", "exit_code"),
    [
        (ProcessError, 422, "invalid", 1),
        (NotFound, 404, "not_found", 1),
        (Forbidden, 403, "forbidden", 1),
        (ConflictError, 409, "conflict", 3),
        (Taken, 409, "conflict", 3),
        (Unavailable, 503, "unavailable", 1),
        (TransitionError, 409, "invalid_transition", 1),
        (ImmutableError, 409, "immutable", 1),
        (Unauthenticated, 401, "unauthenticated", 1),
        (TooLarge, 413, "too_large", 1),
        (Unreadable, 422, "unreadable", 1),
    ],
)
def test_each_error_carries_its_status_code_and_exit_code(
    error: type[OpenIMRError], status: int, code: str, exit_code: int
) -> None:
    raised = error("why")
    assert (raised.status, raised.code, raised.exit_code) == (status, code, exit_code)
    assert classify(raised) == (status, code)


def _bearer(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post("/api/tokens", json={"username": username, "password": demo.PASSWORD})
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _audited(app, action: str, entity: str) -> list[tuple[str, str, dict | None]]:
    with app.state.store.transaction() as s:
        query = select(AuditRow).where(AuditRow.action == action, AuditRow.entity == entity)
        return [(r.actor, r.entity_key, r.after) for r in s.scalars(query.order_by(AuditRow.id))]


def test_an_account_made_through_the_api_is_audited_and_its_problems_are_422_or_409(app) -> None:
    client = TestClient(app)
    admin = _bearer(client, "admin")
    body = {"username": "nurse", "password": "long enough", "role": "coordinator"}
    assert client.post("/api/users", json=body, headers=admin).status_code == 201
    assert _audited(app, "create", "user") == [
        ("admin", "nurse", {"role": "coordinator", "reviewer_code": None})
    ]
    again = client.post("/api/users", json=body, headers=admin)
    assert again.status_code == 409 and "taken" in again.json()["message"]
    no_code = {"username": "rev", "password": "long enough", "role": "reviewer"}
    answer = client.post("/api/users", json=no_code, headers=admin)
    assert answer.status_code == 422 and "reviewer code" in answer.json()["message"]
    assert len(_audited(app, "create", "user")) == 1


def _open_case(client: TestClient, headers: dict[str, str]) -> str:
    listed = client.get("/api/cases?status=records_requested&limit=1", headers=headers).json()["items"]
    return listed[0]["case_number"]


def test_a_withdrawal_needs_a_reason_through_the_api_as_on_the_page_and_it_is_trimmed(app) -> None:
    client = TestClient(app)
    coordinator = _bearer(client, "coordinator")
    number = _open_case(client, coordinator)
    blank = client.post(f"/api/cases/{number}/withdraw", json={"reason": "   "}, headers=coordinator)
    assert blank.status_code == 422 and "say why" in blank.json()["message"]
    done = client.post(
        f"/api/cases/{number}/withdraw", json={"reason": "  authorized  "}, headers=coordinator
    )
    assert done.status_code == 200 and done.json()["status"] == "withdrawn"
    assert [after for _, _, after in _audited(app, "withdraw", "case")] == [{"reason": "authorized"}]
    # the case record says who withdrew it, when and why; an analyst gets who and when only
    shown = client.get(f"/api/cases/{number}", headers=coordinator).json()["withdrawal"]
    assert shown["by"] == "coordinator" and shown["reason"] == "authorized" and shown["at"].endswith("Z")
    analyst = client.get(f"/api/cases/{number}", headers=_bearer(client, "analyst")).json()["withdrawal"]
    assert analyst == {**shown, "reason": None}
    other = _open_case(client, coordinator)
    assert client.get(f"/api/cases/{other}", headers=coordinator).json()["withdrawal"] is None


def test_a_withdrawal_needs_a_reason_at_the_command_line_too(app) -> None:
    url = str(app.state.store.url)
    number = _open_case(TestClient(app), _bearer(TestClient(app), "coordinator"))
    app.state.store.close()
    result = CliRunner().invoke(cli, ["cases", "withdraw", number, "--reason", " ", "--db", url])
    assert result.exit_code == 1 and "say why" in result.output
    done = CliRunner().invoke(cli, ["cases", "withdraw", number, "--reason", " authorized ", "--db", url])
    assert done.exit_code == 0, done.output
