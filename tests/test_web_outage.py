"""The database away and back: 503 with Retry-After while it is gone (JSON or a page), a pooled
connection the server closed replaced instead of failing a request, and a fresh server's pool
opened and sized for its worker threads; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from helpers import demo_app
from openimr.services import web_demo as demo
from openimr.store.db import POOL_SIZE

THREADS = 40  # anyio's worker threads, which run the app's plain-def routes


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, demo_db: Path, tmp_path: Path) -> Iterator[FastAPI]:
    def named(url: str) -> str:  # a name of its own, so the test can end this app's connections and only them
        name = {"application_name": f"oi{uuid.uuid4().hex[:12]}"}
        return make_url(url).update_query_dict(name).render_as_string(hide_password=False)

    with demo_app(request.param, demo_db, tmp_path, named) as application:
        yield application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def bearer(client: TestClient) -> dict[str, str]:
    answer = client.post("/api/tokens", json={"username": "coordinator", "password": demo.PASSWORD})
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def end_server_side(app: FastAPI) -> None:
    """What a database restart does to the app's pooled connections: the server closes them."""
    engine = app.state.store.engine
    if engine.dialect.name == "sqlite":
        pytest.skip("a SQLite file has no server to close its connections")
    name = engine.url.query["application_name"]
    admin = create_engine(engine.url.set(query={}))
    with admin.begin() as conn:
        ended = conn.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :n"),
            {"n": name},
        ).scalar()
    admin.dispose()
    assert ended >= 1


def test_a_fresh_servers_pool_is_open_and_holds_a_connection_per_worker_thread(app: FastAPI) -> None:
    pool = app.state.store.engine.pool
    assert pool.checkedin() >= POOL_SIZE  # opened at start-up, before any request
    assert pool.size() + pool._max_overflow >= THREADS  # type: ignore[attr-defined]


def test_fifty_clients_at_once_on_a_fresh_server_get_no_errors(app: FastAPI, client: TestClient) -> None:
    headers = bearer(client)
    case = client.get("/api/cases", headers=headers).json()["items"][0]["case_number"]
    codes: list[int] = []
    start = threading.Barrier(50)

    def user() -> None:
        start.wait(30)
        for path in ("/api/cases", f"/api/cases/{case}"):
            codes.append(client.get(path, headers=headers).status_code)

    threads = [threading.Thread(target=user, daemon=True) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert codes == [200] * 100


def test_a_connection_the_server_closed_is_replaced_not_a_500(app: FastAPI, client: TestClient) -> None:
    headers = bearer(client)
    end_server_side(app)
    answers = [client.get("/api/cases", headers=headers).status_code for _ in range(POOL_SIZE + 2)]
    assert answers == [200] * (POOL_SIZE + 2)


def test_while_the_database_is_away_requests_get_503_with_retry_after(
    app: FastAPI, client: TestClient
) -> None:
    headers = bearer(client)
    engine = app.state.store.engine

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise engine.dialect.loaded_dbapi.OperationalError("connection refused: the server is away")

    event.listen(engine, "do_connect", refuse)
    engine.pool.dispose()  # every pooled connection gone, as after a restart; new ones are refused
    try:
        answer = client.get("/api/cases", headers=headers)
        assert answer.status_code == 503 and int(answer.headers["retry-after"]) > 0
        assert answer.json()["error"] == "unavailable" and "database" in answer.json()["message"]
        assert client.post("/api/tokens", json={"username": "admin", "password": "x"}).status_code == 503
        page = client.get("/login")
        assert page.status_code == 200  # the sign-in form needs no database
        client.cookies.set("openimr_session", "whatever")
        page = client.get("/dashboard", follow_redirects=False)
        assert page.status_code == 503 and "text/html" in page.headers["content-type"]
        assert "retry-after" in page.headers and "Traceback" not in page.text
    finally:
        event.remove(engine, "do_connect", refuse)
    assert client.get("/api/cases", headers=headers).status_code == 200  # back without a restart
