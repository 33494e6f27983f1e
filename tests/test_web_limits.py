"""Request bodies are capped before they are read, uploads are signed in before theirs is read,
letters are parsed off the event loop, every error is JSON under /api (file names, the unexpected),
downloads of non-ASCII names work, and a case a reviewer may not see reads as a missing one, with
every refusal written to the audit log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from helpers import a_pdf, csrf_token, demo_app
from openimr.core.letters.parse import Parsed
from openimr.services.render import render
from openimr.store.schema import AuditRow
from openimr.web.app import BodyLimits
from test_web_api import Api, examples_letter, first

LIMIT = 4096  # OPENIMR_MAX_BODY_BYTES in these tests; JSON bodies get OPENIMR_MAX_JSON_BYTES = 1024
TOO_LARGE = {
    "error": "too_large",
    "message": "the request body is larger than the limit of 1024 bytes",
    "detail": None,
}


@pytest.fixture
def app(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setenv("OPENIMR_MAX_BODY_BYTES", str(LIMIT))
    monkeypatch.setenv("OPENIMR_MAX_JSON_BYTES", "1024")
    with demo_app("sqlite", demo_db, tmp_path) as app:
        yield app


@pytest.fixture
def api(app: FastAPI) -> Iterator[Api]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client)


def raw(app: FastAPI, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, bytes, int]:
    """POST *chunks* to *path* straight through ASGI: (status, body, how many chunks the app read)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    pending, read, answer = list(chunks), [0], {"status": 0, "body": b""}

    async def receive() -> dict:
        if not pending:
            return {"type": "http.disconnect"}
        read[0] += 1
        return {"type": "http.request", "body": pending.pop(0), "more_body": bool(pending)}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    # In a thread of its own: the browser tests may leave an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    return answer["status"], answer["body"], read[0]


def multipart(name: str, content: bytes) -> tuple[dict[str, str], bytes]:
    boundary = "openimr-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return {"content-type": f"multipart/form-data; boundary={boundary}"}, body


def test_a_body_over_its_declared_limit_is_refused_unread(app: FastAPI) -> None:
    headers = {"content-type": "application/json", "content-length": str(200 * 2**20)}
    status, body, read = raw(app, "/api/tokens", headers, [b"{" * 1024] * 4)
    assert (status, read) == (413, 0)
    assert json.loads(body) == TOO_LARGE


def test_a_streamed_body_is_cut_off_at_the_limit(api: Api) -> None:
    chunks = (b" " * 512 for _ in range(100))  # no Content-Length: sent chunked
    answer = api.client.post("/api/tokens", content=chunks, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and answer.json() == TOO_LARGE


def test_uploads_have_their_own_limit_and_pages_get_a_page(api: Api) -> None:
    number = first(api, "coordinator", "records_requested")
    path = f"/api/cases/{number}/documents"
    small = api.call("coordinator", "POST", path, files={"file": ("a.txt", b"x" * 2000)})
    assert small.status_code == 201  # over the JSON limit, under the upload one
    big = api.call("coordinator", "POST", path, files={"file": ("b.txt", b"x" * LIMIT)})
    assert big.status_code == 413 and big.json()["error"] == "too_large"
    assert "4096 bytes" in big.json()["message"]
    page = api.client.post(f"/cases/{number}/documents", files={"file": ("b.txt", b"x" * LIMIT)})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "4096 bytes" in page.text and "content-security-policy" in page.headers


@pytest.mark.parametrize("path", ["/api/cases/{}/documents", "/cases/{}/documents", "/api/letters/parse"])
def test_an_anonymous_upload_is_refused_before_its_body_is_read(app: FastAPI, api: Api, path: str) -> None:
    headers, body = multipart("a.txt", b"x" * 1000)
    number = first(api, "coordinator", "records_requested")
    status, _, read = raw(app, path.format(number), headers, [body[:500], body[500:]])
    assert read == 0 and status == (401 if path.startswith("/api") else 303)


def test_malformed_limits_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BodyLimits.from_env({}) == BodyLimits(uploads=25 * 2**20, other=2**20)
    for value in ("25MB", "0", "-1"):
        with pytest.raises(ValueError, match="OPENIMR_MAX_BODY_BYTES must be a positive whole number"):
            BodyLimits.from_env({"OPENIMR_MAX_BODY_BYTES": value})


def test_letters_are_parsed_off_the_event_loop(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    threads = []

    def read_bytes(data: bytes, name: str) -> Parsed:
        try:
            asyncio.get_running_loop()
            threads.append("event loop")
        except RuntimeError:
            threads.append("worker")
        return Parsed(examples_letter(), "hash")

    monkeypatch.setattr("openimr.web.corpus_api.read_bytes", read_bytes)
    letter = render(examples_letter(), "txt").encode()
    answer = api.call("analyst", "POST", "/api/letters/parse", files={"file": ("l.txt", letter)})
    assert answer.status_code == 200 and threads == ["worker"]


@pytest.mark.parametrize(
    "name",
    ["..", ".", "/", "a/..", "x" * 300, "名" * 90],
    ids=["..", ".", "slash", "a-slash-..", "300-chars", "270-bytes"],
)
@pytest.mark.parametrize(
    ("path", "field", "loc"),
    [
        ("/api/letters/parse", "file", ["body", "file"]),
        ("/api/letters/ingest", "files", ["body", "files", 0]),
        ("/api/cases/{}/documents", "file", ["body", "file"]),
    ],
)
def test_unusable_file_names_are_422_naming_the_field(
    api: Api, name: str, path: str, field: str, loc: list
) -> None:
    number = first(api, "coordinator", "records_requested")
    answer = api.call("coordinator", "POST", path.format(number), files=[(field, (name, b"hello"))])
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid" and answer.json()["detail"][0]["loc"] == loc
    assert "file name" in answer.json()["message"]


def test_a_document_with_a_non_ascii_name_downloads(api: Api) -> None:
    number = first(api, "coordinator", "records_requested")
    name = "名前 with space.pdf"
    upload = api.call(
        "coordinator", "POST", f"/api/cases/{number}/documents", files={"file": (name, a_pdf())}
    )
    assert upload.status_code == 201 and upload.json()["name"] == name
    download = api.call("coordinator", "GET", f"/api/cases/{number}/documents/{upload.json()['id']}")
    assert download.status_code == 200 and download.content == a_pdf()
    disposition = download.headers["content-disposition"]
    assert disposition.startswith('inline; filename="___with_space.pdf"; ')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == name


def test_an_unexpected_error_is_json_on_the_api_and_a_page_elsewhere(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("openimr.services.cases.CaseService.list_cases", broken)
    answer = api.call("coordinator", "GET", "/api/cases")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "internal",
        "message": "an unexpected error on the server",
        "detail": None,
    }
    api.client.cookies.clear()
    form = api.client.get("/login")
    csrf = csrf_token(form.text)
    api.client.post("/login", data={"username": "coordinator", "password": "demo", "csrf_token": csrf})
    page = api.client.get("/worklist")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "an unexpected error on the server" in page.text and "secret internals" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"


def test_a_case_that_is_not_the_reviewers_reads_as_missing_and_refusals_are_audited(
    app: FastAPI, api: Api
) -> None:
    other = next(c["case_number"] for c in api.cases("coordinator") if c["reviewer"] == "DC-01")
    for path in ("", "/items", "/documents", "/letter", "/recommendations"):
        hidden = api.call("lac-01", "GET", f"/api/cases/{other}{path}")
        missing = api.call("lac-01", "GET", f"/api/cases/CM00-0000000{path}")
        assert hidden.status_code == missing.status_code == 404, path
        assert hidden.json() == {**missing.json(), "message": f"no case {other}"}, path
    assert api.call("analyst", "POST", "/api/assignments", json={"case_numbers": [other]}).status_code == 403
    assert api.call("analyst", "GET", f"/api/cases/{other}/letter").status_code == 403
    assert api.call("lac-01", "GET", "/api/reviewers").status_code == 403
    with app.state.store.transaction() as s:
        denied = {
            (r.actor, r.case_number, r.after["wanted"])
            for r in s.scalars(select(AuditRow).where(AuditRow.action == "denied"))
        }
    assert {
        ("lac-01", other, "read_case"),
        ("lac-01", other, "read_document"),
        ("lac-01", other, "read_letter"),
        ("analyst", None, "assign"),
        ("analyst", other, "read_letter"),
        ("lac-01", None, "read_reviewers"),
    } <= denied
    assert not any(case == "CM00-0000000" for _, case, _ in denied)  # a missing case is no refusal
