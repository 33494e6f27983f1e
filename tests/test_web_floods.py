"""Sign-in floods and races, on SQLite and PostgreSQL: a password check holds no database lock and
only a bounded number run at once (one over the bound is refused at once, 429 with Retry-After),
a signed-in user is served while they run, concurrent wrong passwords at one account are checked
exactly the account's limit of times, and a disabled account's API tokens stay revoked."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from helpers import demo_app
from openimr.services import accounts as auth
from openimr.services import web_demo as demo
from openimr.store.schema import AuditRow, UserRow

WAIT_S = 20  # how long a test waits for a thread before it calls the server stuck


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, demo_db: Path, tmp_path: Path) -> Iterator[FastAPI]:
    """The demo on SQLite (a copy of the shared file) or in a fresh PostgreSQL schema."""
    with demo_app(request.param, demo_db, tmp_path) as application:
        yield application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def token(client: TestClient, username: str) -> str:
    answer = client.post("/api/tokens", json={"username": username, "password": demo.PASSWORD})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


class Hasher:
    """Stands in for the argon2 hasher: counts the password checks and, while *hold* is clear,
    keeps each one waiting inside the check."""

    def __init__(self, real: object, hold: bool = False) -> None:
        self.real = real
        self.checks = 0
        self.inside = threading.Semaphore(0)
        self.go = threading.Event()
        if not hold:
            self.go.set()
        self._lock = threading.Lock()

    def verify(self, hashed: str, password: str) -> bool:
        with self._lock:
            self.checks += 1
        self.inside.release()
        self.go.wait(WAIT_S)
        return self.real.verify(hashed, password)  # type: ignore[attr-defined]

    def hash(self, password: str) -> str:
        return self.real.hash(password)  # type: ignore[attr-defined]


def in_thread(call) -> tuple[threading.Thread, list]:
    box: list = []
    thread = threading.Thread(target=lambda: box.append(call()), daemon=True)
    thread.start()
    return thread, box


def test_password_checks_hold_no_lock_and_one_over_the_bound_is_refused_at_once(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.state.sign_in = auth.SignInSettings(concurrency=2)
    reader = token(client, "coordinator")
    case = client.get("/api/cases", headers=bearer(reader)).json()["items"][0]["case_number"]
    hasher = Hasher(auth._hasher, hold=True)
    monkeypatch.setattr(auth, "_hasher", hasher)
    wrong = [{"username": name, "password": "not it"} for name in ("analyst", "admin")]
    flood = [in_thread(lambda body=body: client.post("/api/tokens", json=body)) for body in wrong]
    try:
        assert hasher.inside.acquire(timeout=WAIT_S) and hasher.inside.acquire(timeout=WAIT_S), (
            "two sign-ins could not check passwords at the same time"
        )
        # Both slots are taken: a third sign-in is refused at once, before it reaches the store.
        third, answer = in_thread(lambda: client.post("/api/tokens", json=wrong[0]))
        third.join(WAIT_S)
        assert answer, "a sign-in over the bound waited instead of being refused"
        assert answer[0].status_code == 429 and answer[0].headers["retry-after"] == "1"
        assert answer[0].json()["error"] == "busy"
        # While both check their passwords, a signed-in user reads a case (an audited write).
        read, case_answer = in_thread(lambda: client.get(f"/api/cases/{case}", headers=bearer(reader)))
        read.join(WAIT_S)
        assert case_answer and case_answer[0].status_code == 200, "a case read waited on sign-ins"
        if app.state.store.engine.dialect.name == "sqlite":
            probe = sqlite3.connect(app.state.store.engine.url.database, timeout=0)
            try:
                probe.execute("BEGIN IMMEDIATE")  # fails at once if a sign-in holds the write lock
                probe.rollback()
            finally:
                probe.close()
    finally:
        hasher.go.set()
        for thread, _ in flood:
            thread.join(WAIT_S)
    assert [box[0].status_code for _, box in flood] == [401, 401]
    with app.state.store.transaction() as s:
        actions = s.scalars(select(AuditRow.action).where(AuditRow.entity == "sign_in")).all()
    assert sorted(actions).count("failed") == 2 and "throttled" not in actions  # the refusal wrote nothing


def test_a_flood_of_wrong_passwords_leaves_a_signed_in_user_served(app: FastAPI, client: TestClient) -> None:
    reader = token(client, "coordinator")
    case = client.get("/api/cases", headers=bearer(reader)).json()["items"][0]["case_number"]
    stop = threading.Event()
    codes: list[int] = []

    def flood(n: int) -> None:
        while not stop.is_set():
            body = {"username": f"nobody-{n}", "password": "guess"}
            codes.append(client.post("/api/tokens", json=body).status_code)

    threads = [threading.Thread(target=flood, args=(n,), daemon=True) for n in range(20)]
    for thread in threads:
        thread.start()
    try:
        reads = [client.get(f"/api/cases/{case}", headers=bearer(reader)).status_code for _ in range(10)]
    finally:
        stop.set()
        for thread in threads:
            thread.join(WAIT_S)
    assert reads == [200] * 10
    assert codes and set(codes) <= {401, 429}
    assert 429 in codes  # the bound (or the address's throttle) refused some at once


def test_concurrent_wrong_passwords_are_checked_exactly_the_accounts_limit_of_times(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.state.sign_in = auth.SignInSettings(max_failures=5, max_address_failures=1000, concurrency=64)
    hasher = Hasher(auth._hasher)
    monkeypatch.setattr(auth, "_hasher", hasher)
    start = threading.Barrier(40)

    def attempt() -> int:
        start.wait(WAIT_S)
        return client.post("/api/tokens", json={"username": "analyst", "password": "wrong"}).status_code

    runs = [in_thread(attempt) for _ in range(40)]
    for thread, _ in runs:
        thread.join(WAIT_S * 2)
    codes = sorted(box[0] for _, box in runs if box)
    assert hasher.checks == 5
    assert codes == [401] * 5 + [429] * 35
    with app.state.store.transaction() as s:
        actions = s.scalars(select(AuditRow.action).where(AuditRow.actor == "analyst")).all()
    assert actions.count("failed") == 5 and actions.count("throttled") == 35


def test_a_disabled_accounts_tokens_stay_revoked_when_it_is_enabled_again(
    app: FastAPI, client: TestClient
) -> None:
    old = token(client, "analyst")
    assert client.get("/api/me", headers=bearer(old)).status_code == 200
    with app.state.store.transaction() as s:
        analyst = s.scalar(select(UserRow).where(UserRow.username == "analyst"))
        admin = s.scalar(select(UserRow).where(UserRow.username == "admin"))
        who = auth._principal(admin, "token")
        auth.set_active(s, who, analyst.id, False)
    assert client.get("/api/me", headers=bearer(old)).status_code == 401
    with app.state.store.transaction() as s:
        auth.set_active(s, who, analyst.id, True)
        assert auth.tokens_of(s, analyst.id) == []
    assert client.get("/api/me", headers=bearer(old)).status_code == 401
    assert client.get("/api/me", headers=bearer(token(client, "analyst"))).status_code == 200
