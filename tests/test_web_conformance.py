"""How the web answers, beyond its operations: flash messages only from the server, ``Allow`` on
every 405, timestamps with their zone, and ``X-Forwarded-For`` believed only from configured
proxies (a real server: a client cannot pick the address it is throttled and audited by)."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from helpers import csrf_token
from openimr.services import web_demo as demo
from openimr.web.app import proxy_options

PAYLOAD = "Your session expired: call 555-0100 with your password"


def signed_in(app: FastAPI, username: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    page = client.get("/login")
    csrf = csrf_token(page.text)
    form = {"username": username, "password": demo.PASSWORD, "csrf_token": csrf}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    csrf = csrf_token(client.get("/dashboard").text)
    return client, csrf


def test_a_link_cannot_put_a_message_on_a_page(app: FastAPI) -> None:
    anonymous = TestClient(app)
    assert PAYLOAD not in anonymous.get("/login", params={"msg": PAYLOAD, "kind": "warning"}).text
    client, _ = signed_in(app, "coordinator")
    assert PAYLOAD not in client.get("/dashboard", params={"msg": PAYLOAD, "kind": "warning"}).text
    client.cookies.set("openimr_flash", "not base64 at all")
    assert client.get("/dashboard").status_code == 200


def test_a_flash_comes_from_the_server_once(app: FastAPI) -> None:
    client, csrf = signed_in(app, "coordinator")
    done = client.post("/cases/assign", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303 and "msg" not in done.headers["location"]
    first = client.get(done.headers["location"]).text
    assert 'class="flash' in first
    assert 'class="flash' not in client.get(done.headers["location"]).text


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/cases", "GET, POST"),
        ("DELETE", "/api/me", "GET"),
        ("PATCH", "/api/tokens", "GET, POST"),
        ("GET", "/api/assignments", "POST"),
    ],
)
def test_a_405_says_which_methods_are_allowed(app: FastAPI, method: str, path: str, allowed: str) -> None:
    answer = TestClient(app).request(method, path)
    assert answer.status_code == 405 and answer.headers["allow"] == allowed
    assert answer.json()["error"] == "method_not_allowed"


def test_timestamps_carry_their_zone(app: FastAPI) -> None:
    client = TestClient(app)
    token = client.post("/api/tokens", json={"username": "coordinator", "password": demo.PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    (info,) = client.get("/api/tokens", headers=headers).json()
    number = client.get("/api/cases", headers=headers).json()["items"][0]["case_number"]
    client.get(f"/api/cases/{number}", headers=headers)
    audit = client.get(f"/api/cases/{number}/audit", headers=headers).json()["items"]
    for moment in [info["created"], info["expires"], *(row["at"] for row in audit)]:
        assert dt.datetime.fromisoformat(moment).tzinfo is not None, moment


def test_proxies_are_trusted_only_when_listed() -> None:
    assert proxy_options({}) == {"proxy_headers": False, "forwarded_allow_ips": ""}
    assert proxy_options({"OPENIMR_TRUSTED_PROXIES": "10.0.0.2, 10.1.0.0/16"}) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.2", "10.1.0.0/16"],
    }
    with pytest.raises(ValueError, match="OPENIMR_TRUSTED_PROXIES"):
        proxy_options({"OPENIMR_TRUSTED_PROXIES": "proxy.example"})


def test_a_served_client_cannot_choose_its_address_with_x_forwarded_for(
    demo_db: Path, tmp_path: Path
) -> None:
    path = tmp_path / "served.db"
    shutil.copy(demo_db, path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-c", "from openimr.cli import app; app()", "serve"]
    command += ["--db", f"sqlite:///{path}", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                httpx.get(f"{base}/openapi.json", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.25)
        for n in range(3):
            body = {"username": "admin", "password": "wrong"}
            headers = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
            assert httpx.post(f"{base}/api/tokens", json=body, headers=headers, timeout=30).status_code == 401
    finally:
        server.terminate()
        server.wait(30)
    with sqlite3.connect(path) as db:
        keys = [k for (k,) in db.execute("SELECT entity_key FROM audit_log WHERE entity = 'sign_in'")]
    assert keys == ["127.0.0.1"] * 3
