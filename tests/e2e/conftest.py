"""End-to-end fixtures: the web app served by uvicorn on loopback, and headless Chromium.

The browser is Debian's ``chromium`` (``$OPENIMR_CHROMIUM`` names another) driven by Playwright.
Without it the tests skip with the reason, or fail under ``CI=true``. Screenshots and the
downloaded letter go to ``$OPENIMR_ARTIFACTS`` (default: ``<tmp>/openimr-artifacts``)/e2e; the
page-by-page suite's full-page screenshots to ``$OPENIMR_E2E_SHOTS`` (default: a pytest temporary
folder), never inside the repository.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from openimr.services import web_demo as demo
from openimr.services.cases import CaseService
from openimr.store.db import Store
from openimr.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = (
    Path(os.environ.get("OPENIMR_ARTIFACTS", Path(tempfile.gettempdir()) / "openimr-artifacts")) / "e2e"
)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder for full-page screenshots: ``$OPENIMR_E2E_SHOTS``, else a temporary one."""
    chosen = os.environ.get("OPENIMR_E2E_SHOTS")
    folder = Path(chosen).resolve() if chosen else tmp_path_factory.mktemp("shots")
    if folder.is_relative_to(REPO):
        pytest.fail(f"OPENIMR_E2E_SHOTS must be outside the repository, not {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo served on a free loopback port for the whole session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'web.db'}"
    store = Store.open(url)
    demo.load(CaseService(store), dt.date.today())
    store.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # a readiness wait, not a timed assertion
        if not thread.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join()
    app.state.store.close()


@pytest.fixture(scope="session")
def browser():
    executable = (
        os.environ.get("OPENIMR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not executable:
        _skip_or_fail("no Chromium found (apt-get install chromium, or set OPENIMR_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("Playwright for Python is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()
