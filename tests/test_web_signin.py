"""Signing in: throttling with backoff per account and per client address (API and form), token
expiry, listing and revoking tokens, the audit of it all, Secure cookies and HSTS, and the
``0006_sign_in`` migration (on SQLite, and on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from helpers import csrf_token, demo_app
from openimr.services import web_demo as demo
from openimr.services.accounts import SignInSettings, hash_password
from openimr.store.db import alembic_config, make_engine, migrate
from openimr.store.schema import AuditRow, Base, SignInFailureRow, TokenRow, UserRow
from openimr.web.app import create_app

RIGHT = {"username": "coordinator", "password": demo.PASSWORD}
WRONG = {"username": "coordinator", "password": "not the password"}
WEB_TABLES = {"web_users", "web_tokens", "web_sessions", "web_sign_in_failures"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(demo_db: Path, tmp_path: Path, clock: Clock) -> Iterator[FastAPI]:
    with demo_app("sqlite", demo_db, tmp_path) as app:
        app.state.sign_in = SignInSettings(clock=clock)
        yield app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def configure(app: FastAPI, clock: Clock, **values) -> None:
    app.state.sign_in = SignInSettings(clock=clock, **values)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token(client: TestClient, username: str = "coordinator", name: str = "api") -> str:
    answer = client.post("/api/tokens", json={"username": username, "password": demo.PASSWORD, "name": name})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def form_login(client: TestClient, username: str, password: str):
    page = client.get("/login")
    csrf = csrf_token(page.text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf},
        follow_redirects=False,
    )


def audit(app: FastAPI, entity: str) -> list[AuditRow]:
    with app.state.store.transaction() as s:
        return list(s.scalars(select(AuditRow).where(AuditRow.entity == entity).order_by(AuditRow.id)))


def test_fifty_wrong_passwords_then_the_right_one_is_refused_by_the_api(
    app: FastAPI, client: TestClient, clock: Clock
) -> None:
    for _ in range(50):
        assert client.post("/api/tokens", json=WRONG).status_code in {401, 429}
    refused = client.post("/api/tokens", json=RIGHT)
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"] == "throttled" and body["detail"] is None and "try again in" in body["message"]
    assert int(refused.headers["retry-after"]) > 0
    # The account is throttled whatever the address it is tried from.
    with TestClient(app, client=("198.51.100.7", 4000)) as elsewhere:
        assert elsewhere.post("/api/tokens", json=RIGHT).status_code == 429
    clock.advance(int(refused.headers["retry-after"]))
    assert client.post("/api/tokens", json=RIGHT).status_code == 201
    # The success cleared the account's failures: the next wrong password is a plain 401.
    assert client.post("/api/tokens", json=WRONG).status_code == 401


def test_fifty_wrong_passwords_then_the_right_one_is_refused_by_the_form(
    client: TestClient, clock: Clock
) -> None:
    for _ in range(50):
        assert form_login(client, **WRONG).status_code in {401, 429}
    refused = form_login(client, **RIGHT)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "Too many failed sign-ins: try again in" in refused.text
    assert "openimr_session=" not in refused.headers.get("set-cookie", "")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    clock.advance(int(refused.headers["retry-after"]))
    signed = form_login(client, **RIGHT)
    assert signed.status_code == 303 and "openimr_session=" in signed.headers["set-cookie"]


def test_the_delay_doubles_with_each_failure_up_to_its_cap_and_then_expires(
    app: FastAPI, client: TestClient, clock: Clock
) -> None:
    configure(app, clock, max_failures=3, delay_s=10, max_delay_s=40)
    for _ in range(3):
        assert client.post("/api/tokens", json=WRONG).status_code == 401
    waits = []
    for _ in range(4):
        refused = client.post("/api/tokens", json=RIGHT)
        assert refused.status_code == 429
        waits.append(int(refused.headers["retry-after"]))
        clock.advance(waits[-1] - 1)
        assert client.post("/api/tokens", json=RIGHT).status_code == 429  # a second short
        clock.advance(1)
        assert client.post("/api/tokens", json=WRONG).status_code == 401  # a try, and a failure
    assert waits == [10, 20, 40, 40]
    clock.advance(40)
    assert client.post("/api/tokens", json=RIGHT).status_code == 201


def test_failures_older_than_the_window_no_longer_count(
    app: FastAPI, client: TestClient, clock: Clock
) -> None:
    configure(app, clock, max_failures=2, window_s=60, delay_s=30)
    for _ in range(2):
        assert client.post("/api/tokens", json=WRONG).status_code == 401
    assert client.post("/api/tokens", json=WRONG).status_code == 429
    clock.advance(61)
    assert client.post("/api/tokens", json=WRONG).status_code == 401
    with app.state.store.transaction() as s:
        assert len(s.scalars(select(SignInFailureRow)).all()) == 1  # the old ones are pruned


def test_one_address_trying_many_usernames_is_throttled(
    app: FastAPI, client: TestClient, clock: Clock
) -> None:
    configure(app, clock, max_failures=10, max_address_failures=4, delay_s=60)
    for name in ("analyst", "lac-01", "nobody-at-all", "ghost"):
        assert client.post("/api/tokens", json={"username": name, "password": "guess"}).status_code == 401
    refused = client.post("/api/tokens", json={"username": "admin", "password": demo.PASSWORD})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert form_login(client, "analyst", demo.PASSWORD).status_code == 429
    # Another address is not held back; its success does not clear the first address's count.
    with TestClient(app, client=("203.0.113.9", 5000)) as other:
        assert (
            other.post("/api/tokens", json={"username": "admin", "password": demo.PASSWORD}).status_code
            == 201
        )
    assert client.post("/api/tokens", json=RIGHT).status_code == 429


def test_failed_and_throttled_sign_ins_are_audited(app: FastAPI, client: TestClient, clock: Clock) -> None:
    configure(app, clock, max_failures=2)
    for _ in range(2):
        client.post("/api/tokens", json=WRONG)
    assert form_login(client, **RIGHT).status_code == 429
    clock.advance(1)
    assert client.post("/api/tokens", json=RIGHT).status_code == 201
    rows = audit(app, "sign_in")
    assert [(r.action, r.actor, r.case_number, r.entity_key) for r in rows] == [
        ("failed", "coordinator", None, "testclient"),
        ("failed", "coordinator", None, "testclient"),
        ("throttled", "coordinator", None, "testclient"),
        ("signed_in", "coordinator", None, "testclient"),
    ]
    assert rows[2].after == {"via": "form", "retry_after": 1} and rows[3].after == {"via": "api"}


def test_a_long_made_up_username_is_recorded_cut_to_the_column(app: FastAPI, client: TestClient) -> None:
    long_name = "ü" * 500  # the form, unlike the API, does not limit it
    assert form_login(client, long_name, "guess").status_code == 401
    assert [r.actor for r in audit(app, "sign_in")] == [long_name[:80]]
    with app.state.store.transaction() as s:
        assert s.scalars(select(SignInFailureRow.username)).all() == [long_name[:80]]


def test_tokens_expire_after_the_configured_days(app: FastAPI, client: TestClient, clock: Clock) -> None:
    configure(app, clock, token_days=2)
    fresh = token(client)
    listed = client.get("/api/tokens", headers=bearer(fresh)).json()
    assert dt.datetime.fromisoformat(listed[0]["expires"]) - dt.datetime.fromisoformat(
        listed[0]["created"]
    ) == dt.timedelta(days=2)
    clock.advance(-3 * 86400)  # issued three days ago, for two days
    stale = token(client)
    answer = client.get("/api/me", headers=bearer(stale))
    assert answer.status_code == 401 and answer.json()["error"] == "unauthenticated"
    assert client.get("/api/me", headers=bearer(fresh)).status_code == 200


def test_an_account_lists_and_revokes_only_its_own_tokens(app: FastAPI, client: TestClient) -> None:
    laptop, script = token(client, name="laptop"), token(client, name="script")
    theirs = token(client, "admin", "admin's")
    listed = client.get("/api/tokens", headers=bearer(laptop))
    assert listed.status_code == 200
    items = listed.json()
    assert [t["name"] for t in items] == ["laptop", "script"]
    assert all(set(t) == {"id", "name", "created", "expires", "last_used"} for t in items)
    assert laptop not in listed.text and script not in listed.text
    assert items[0]["last_used"] is not None and items[1]["last_used"] is None
    admin_id = client.get("/api/tokens", headers=bearer(theirs)).json()[0]["id"]

    foreign = client.delete(f"/api/tokens/{admin_id}", headers=bearer(laptop))
    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"
    assert client.get("/api/me", headers=bearer(theirs)).status_code == 200
    assert client.delete("/api/tokens/999999", headers=bearer(laptop)).status_code == 404

    revoked = client.delete(f"/api/tokens/{items[1]['id']}", headers=bearer(laptop))
    assert revoked.status_code == 204 and revoked.content == b""
    assert client.get("/api/me", headers=bearer(script)).status_code == 401
    assert [t["name"] for t in client.get("/api/tokens", headers=bearer(laptop)).json()] == ["laptop"]
    assert client.delete(f"/api/tokens/{items[1]['id']}", headers=bearer(laptop)).status_code == 404
    assert client.get("/api/tokens").status_code == 401
    rows = audit(app, "api_token")
    assert [(r.actor, r.entity_key, r.action, r.after) for r in rows] == [
        ("coordinator", str(items[1]["id"]), "revoked", {"name": "script"})
    ]


def test_a_signed_in_page_revokes_a_token_with_its_csrf_token(client: TestClient) -> None:
    api_token = token(client)
    assert form_login(client, **RIGHT).status_code == 303
    page = client.get("/dashboard")
    csrf = csrf_token(page.text)
    token_id = client.get("/api/tokens").json()[0]["id"]
    assert client.delete(f"/api/tokens/{token_id}").status_code == 403
    assert client.delete(f"/api/tokens/{token_id}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/me", headers=bearer(api_token)).status_code == 401


def test_sessions_last_the_configured_hours(app: FastAPI, client: TestClient, clock: Clock) -> None:
    configure(app, clock, session_hours=2)
    signed = form_login(client, **RIGHT)
    assert "Max-Age=7200" in signed.headers["set-cookie"]
    assert client.get("/dashboard").status_code == 200
    client.cookies.clear()
    clock.advance(-3 * 3600)  # signed in three hours ago, for two hours
    assert form_login(client, **RIGHT).status_code == 303
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == "/login?next=/dashboard"


def test_over_http_cookies_are_not_secure_and_there_is_no_hsts(client: TestClient) -> None:
    form = client.get("/login")
    assert "strict-transport-security" not in form.headers
    assert "secure" not in form.headers["set-cookie"].lower()
    signed = form_login(client, **RIGHT)
    assert "secure" not in signed.headers["set-cookie"].lower()
    assert "strict-transport-security" not in client.get("/api/me").headers


def test_the_https_setting_marks_cookies_secure_and_sends_hsts(app: FastAPI, clock: Clock) -> None:
    configure(app, clock, https=True)
    with TestClient(app) as client:  # plain http to the app, as behind a TLS-terminating proxy
        form = client.get("/login")
        assert form.headers["strict-transport-security"] == "max-age=31536000"
        assert "Secure" in form.headers["set-cookie"]
        assert client.get("/api/me").headers["strict-transport-security"] == "max-age=31536000"


def test_a_request_over_https_gets_secure_cookies_and_hsts(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/login").headers["strict-transport-security"] == "max-age=31536000"
        signed = form_login(client, **RIGHT)
        assert signed.status_code == 303
        assert "openimr_session=" in signed.headers["set-cookie"] and "Secure" in signed.headers["set-cookie"]


def test_settings_come_from_the_environment() -> None:
    assert SignInSettings.from_env({}) == SignInSettings()
    cfg = SignInSettings.from_env(
        {"OPENIMR_LOGIN_MAX_FAILURES": "3", "OPENIMR_TOKEN_DAYS": "7.5", "OPENIMR_HTTPS": "1"}
    )
    assert (cfg.max_failures, cfg.token_days, cfg.https) == (3, 7.5, True)
    for variable, raw in [
        ("OPENIMR_LOGIN_MAX_FAILURES", "five"),
        ("OPENIMR_LOGIN_MAX_FAILURES", "2.5"),
        ("OPENIMR_LOGIN_WINDOW_S", "-1"),
        ("OPENIMR_LOGIN_DELAY_S", "nan"),
        ("OPENIMR_HTTPS", "maybe"),
    ]:
        with pytest.raises(ValueError, match=variable):
            SignInSettings.from_env({variable: raw})


def test_the_environment_configures_the_app(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENIMR_LOGIN_MAX_FAILURES", "1")
    monkeypatch.setenv("OPENIMR_LOGIN_DELAY_S", "120")
    path = tmp_path / "web.db"
    shutil.copy(demo_db, path)
    app = create_app(f"sqlite:///{path}")
    try:
        with TestClient(app) as client:
            assert client.post("/api/tokens", json=WRONG).status_code == 401
            refused = client.post("/api/tokens", json=RIGHT)
            assert refused.status_code == 429 and refused.headers["retry-after"] == "120"
    finally:
        app.state.store.close()


def test_the_sign_in_migration_matches_the_models_and_dates_old_tokens(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0005_corpus_docs")
        with engine.begin() as conn:
            user = conn.execute(
                insert(UserRow.__table__).values(
                    username="old",
                    role="analyst",
                    password_hash=hash_password("x"),
                    active=True,
                    created_at=dt.datetime.now(dt.UTC),
                )
            ).inserted_primary_key[0]
            conn.execute(
                insert(TokenRow.__table__).values(
                    user_id=user,
                    digest="d" * 64,
                    name="old",
                    created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                )
            )
        migrate(db_url)
        with engine.connect() as conn:
            opts = {
                "include_name": lambda name, kind, _parent: kind != "table" or name in WEB_TABLES,
                "include_object": lambda _o, name, kind, _r, _c: kind != "table" or name in WEB_TABLES,
            }
            assert compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata) == []
            expires, revoked = conn.execute(select(TokenRow.expires_at, TokenRow.revoked_at)).one()
        expires = expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)
        assert revoked is None
        assert dt.timedelta(days=29) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
        command.downgrade(alembic_config(engine), "0005_corpus_docs")
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() == "0005_corpus_docs"
    finally:
        engine.dispose()
