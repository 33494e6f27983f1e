"""Accounts: no default role, reviewer codes on the roster, changing one's own password (the current
one required; every session and API token of the account ended) and an administrator's reset, in the
web, the API and the command line, each audited and never with the password."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from helpers import csrf_token
from openimr.cli import app as cli
from openimr.services import web_demo as demo
from openimr.services.accounts import SignInSettings
from openimr.store.schema import AuditRow
from openimr.web.app import create_app
from test_web_admin import Person

NEW = "a new long password"


@pytest.fixture
def api(app) -> TestClient:
    return TestClient(app)


def bearer(api: TestClient, username: str, password: str = demo.PASSWORD) -> dict[str, str]:
    answer = api.post("/api/tokens", json={"username": username, "password": password})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def signs_in(api: TestClient, username: str, password: str) -> bool:
    return api.post("/api/tokens", json={"username": username, "password": password}).status_code == 201


def audit(app, action: str) -> list[AuditRow]:
    with app.state.store.transaction() as s:
        rows = list(s.scalars(select(AuditRow).where(AuditRow.action == action)))
        s.expunge_all()
        return rows


def signed_in(person: Person) -> bool:
    return person.get("/worklist", follow_redirects=False).status_code == 200


# Changing one's own password ------------------------------------------------------------------


def test_the_header_links_to_change_password_and_the_page_asks_for_the_current_one(app) -> None:
    page = Person(app, "analyst").get("/account/password")
    assert page.status_code == 200 and 'href="/account/password"' in page.text
    assert 'name="old_password"' in page.text and 'autocomplete="current-password"' in page.text


def test_changing_ones_password_ends_every_other_session_and_token_and_keeps_this_browser(app, api) -> None:
    here, elsewhere = Person(app, "coordinator"), Person(app, "coordinator")
    old_token = bearer(api, "coordinator")
    other = Person(app, "analyst")
    done = here.post(
        "/account/password", {"old_password": demo.PASSWORD, "new_password": NEW, "confirm_password": NEW}
    )
    assert done.status_code == 200 and "Password changed" in done.text
    here.csrf = csrf_token(done.text)
    assert signed_in(here)  # re-signed in with a new session
    assert not signed_in(elsewhere)  # the account's other session ended
    assert api.get("/api/me", headers=old_token).status_code == 401  # and its token
    assert signed_in(other)  # nobody else's
    assert not signs_in(api, "coordinator", demo.PASSWORD) and signs_in(api, "coordinator", NEW)
    (row,) = audit(app, "password_changed")
    assert (row.actor, row.entity_key) == ("coordinator", "coordinator")
    assert row.after == {"sessions_ended": 2, "tokens_revoked": 1}
    assert NEW not in json.dumps([r.after for r in audit(app, "sign_in")] + [row.after])


@pytest.mark.parametrize(
    ("form", "status", "words"),
    [
        (
            {"old_password": "wrong password", "new_password": NEW, "confirm_password": NEW},
            401,
            "not your current",
        ),
        ({"old_password": demo.PASSWORD, "new_password": NEW, "confirm_password": NEW + "x"}, 422, "differ"),
        (
            {"old_password": demo.PASSWORD, "new_password": "short", "confirm_password": "short"},
            422,
            "New password",
        ),
        ({"old_password": "", "new_password": NEW, "confirm_password": NEW}, 422, "Current password"),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(app, api, form: dict, status: int, words: str) -> None:
    person = Person(app, "analyst")
    answer = person.post("/account/password", form)
    assert answer.status_code == status and words in answer.text
    assert signed_in(person) and signs_in(api, "analyst", demo.PASSWORD)
    assert not audit(app, "password_changed")


def test_a_change_without_the_forms_token_is_refused(app) -> None:
    person = Person(app, "analyst")
    answer = person.client.post(
        "/account/password",
        data={"old_password": demo.PASSWORD, "new_password": NEW, "confirm_password": NEW},
    )
    assert answer.status_code == 403 and not audit(app, "password_changed")


def test_wrong_current_passwords_count_as_failed_sign_ins_and_are_throttled(app, api) -> None:
    app.state.sign_in = SignInSettings(max_failures=2, delay_s=60)
    person = Person(app, "analyst")
    wrong = {"old_password": "guess one", "new_password": NEW, "confirm_password": NEW}
    assert [person.post("/account/password", wrong).status_code for _ in range(2)] == [401, 401]
    right = {"old_password": demo.PASSWORD, "new_password": NEW, "confirm_password": NEW}
    throttled = person.post("/account/password", right)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"]
    assert [r.after["via"] for r in audit(app, "failed")] == ["password_change"] * 2
    assert not signs_in(api, "analyst", demo.PASSWORD)  # the account is throttled for sign-ins too


def test_the_api_changes_ones_password_and_answers_a_new_token(app, api) -> None:
    old = bearer(api, "analyst")
    other = bearer(api, "analyst")
    wrong = api.put("/api/me/password", json={"old_password": "nope", "new_password": NEW}, headers=old)
    assert wrong.status_code == 401 and "old_password" in wrong.json()["message"]
    assert api.get("/api/me", headers=old).status_code == 200  # nothing ended
    done = api.put("/api/me/password", json={"old_password": demo.PASSWORD, "new_password": NEW}, headers=old)
    assert done.status_code == 200
    fresh = {"Authorization": f"Bearer {done.json()['token']}"}
    assert api.get("/api/me", headers=fresh).json()["username"] == "analyst"
    assert (
        api.get("/api/me", headers=old).status_code == 401
        and api.get("/api/me", headers=other).status_code == 401
    )
    assert signs_in(api, "analyst", NEW) and not signs_in(api, "analyst", demo.PASSWORD)


@pytest.mark.parametrize(
    "body",
    [
        {"new_password": NEW},
        {"old_password": demo.PASSWORD, "new_password": "short"},
        {"old_password": demo.PASSWORD, "new_password": NEW, "username": "admin"},
    ],
)
def test_the_api_refuses_a_malformed_change(app, api, body: dict) -> None:
    who = bearer(api, "analyst")
    assert api.put("/api/me/password", json=body, headers=who).status_code == 422
    assert api.put("/api/me/password", json=body).status_code == 401
    assert signs_in(api, "analyst", demo.PASSWORD) and signs_in(api, "admin", demo.PASSWORD)


# An administrator's reset ---------------------------------------------------------------------


def test_the_admin_resets_a_password_on_the_accounts_page_and_the_account_is_signed_out(app, api) -> None:
    victim, token = Person(app, "coordinator"), bearer(api, "coordinator")
    admin = Person(app, "admin")
    page = admin.get("/admin/users").text
    assert (
        'action="/admin/users/password"' in page and '<option value="admin"' not in page.split("Reset a")[1]
    )
    done = admin.post("/admin/users/password", {"username": "coordinator", "password": "temporary 123"})
    assert done.status_code == 200 and "Password of coordinator reset" in done.text
    assert not signed_in(victim) and api.get("/api/me", headers=token).status_code == 401
    assert signs_in(api, "coordinator", "temporary 123") and not signs_in(api, "coordinator", demo.PASSWORD)
    (row,) = audit(app, "password_reset")
    assert (row.actor, row.entity_key, row.after) == (
        "admin",
        "coordinator",
        {"sessions_ended": 1, "tokens_revoked": 1},
    )
    assert "temporary 123" not in json.dumps(row.after)


def test_the_admin_may_not_reset_their_own_password_and_a_short_one_is_refused(app, api) -> None:
    admin = Person(app, "admin")
    own = admin.post("/admin/users/password", {"username": "admin", "password": "temporary 123"})
    assert own.status_code == 422 and "Change password" in own.text
    short = admin.post("/admin/users/password", {"username": "analyst", "password": "short"})
    assert short.status_code == 422 and "Temporary password" in short.text
    assert signed_in(admin) and signs_in(api, "analyst", demo.PASSWORD) and not audit(app, "password_reset")


def test_the_api_reset_is_for_admins_only(app, api) -> None:
    body = {"password": "temporary 123"}
    for name in ("coordinator", "analyst", "lac-01"):
        answer = api.put("/api/users/admin/password", json=body, headers=bearer(api, name))
        assert answer.status_code == 403
    assert api.put("/api/users/admin/password", json=body).status_code == 401
    admin = bearer(api, "admin")
    assert api.put("/api/users/nobody/password", json=body, headers=admin).status_code == 404
    assert (
        api.put("/api/users/analyst/password", json={"password": "short"}, headers=admin).status_code == 422
    )
    assert api.put("/api/users/admin/password", json=body, headers=admin).status_code == 422  # your own
    assert signs_in(api, "admin", demo.PASSWORD) and not audit(app, "password_reset")
    assert api.put("/api/users/analyst/password", json=body, headers=admin).status_code == 204
    assert signs_in(api, "analyst", "temporary 123")


def test_the_command_line_resets_a_password(demo_db: Path, tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    shutil.copy(demo_db, path)
    url = f"sqlite:///{path}"
    runner = CliRunner()
    done = runner.invoke(cli, ["users", "reset-password", "analyst", "--db", url], input="temporary 123\n")
    assert done.exit_code == 0, done.output
    assert "Password of analyst reset" in done.output and "temporary 123" not in done.output
    missing = runner.invoke(cli, ["users", "reset-password", "nobody", "--db", url], input="temporary 123\n")
    assert missing.exit_code != 0 and "no account nobody" in missing.output
    short = runner.invoke(cli, ["users", "reset-password", "analyst", "--db", url], input="short\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    application = create_app(url)
    try:
        api = TestClient(application)
        assert signs_in(api, "analyst", "temporary 123") and not signs_in(api, "analyst", demo.PASSWORD)
        assert [r.actor for r in audit(application, "password_reset")] != []
    finally:
        application.state.store.close()


# New accounts: a chosen role, a code on the roster -------------------------------------------


def test_the_new_account_form_has_no_default_role(app) -> None:
    admin = Person(app, "admin")
    form = admin.get("/admin/users").text.split('id="role"')[1].split("</select>")[0]
    assert "required" in form and '<option value="" selected>Choose a role</option>' in form
    assert form.count("selected") == 1
    missing = admin.post("/admin/users", {"username": "newbie", "password": "long enough 1", "role": ""})
    assert missing.status_code == 422 and "Role: choose" in missing.text


def test_a_reviewer_account_must_name_a_code_on_the_roster(app, api) -> None:
    admin = Person(app, "admin")
    form = {"username": "ghost", "password": "long enough 1", "role": "reviewer", "reviewer_code": "GHOST-99"}
    page = admin.post("/admin/users", form)
    assert page.status_code == 422 and "reviewer code GHOST-99 is not on the roster" in page.text
    who = bearer(api, "admin")
    answer = api.post("/api/users", json=form, headers=who)
    assert answer.status_code == 422 and "not on the roster" in answer.json()["message"]
    assert not signs_in(api, "ghost", "long enough 1")
    staff = api.post("/api/users", json={**form, "role": "analyst", "reviewer_code": "GHOST-99"}, headers=who)
    assert staff.status_code == 422 and "only a reviewer account has one" in staff.json()["message"]
    good = api.post("/api/users", json={**form, "reviewer_code": "DC-01"}, headers=who)
    assert good.status_code == 201 and good.json()["reviewer_code"] == "DC-01"


def test_the_api_requires_a_role(app, api) -> None:
    body = {"username": "newbie", "password": "long enough 1"}
    answer = api.post("/api/users", json=body, headers=bearer(api, "admin"))
    assert answer.status_code == 422 and "role" in answer.text
    assert not signs_in(api, "newbie", "long enough 1")
