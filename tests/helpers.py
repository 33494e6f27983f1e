"""Helpers the web tests share: the demo loaded into a store, and a page's CSRF token."""

from __future__ import annotations

import datetime as dt
import functools
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def load_demo(url: str) -> None:
    """Load the web demo's accounts and cases, without letters (the tests add their own), into *url*."""
    from openimr.services import web_demo as demo
    from openimr.services.cases import CaseService
    from openimr.store.db import Store

    store = Store.open(url)
    try:
        demo.load(CaseService(store), dt.date.today(), corpus=False)
    finally:
        store.close()


@contextmanager
def demo_app(backend: str, demo_db: Path, folder: Path, url_of: Callable[[str], str] = str) -> Iterator[Any]:
    """The web application on the demo: on SQLite, a copy of *demo_db* in *folder*; on PostgreSQL
    ("postgres"), a fresh schema with the demo loaded (*url_of* may rewrite its URL, say to name
    the application's connections); its store closed afterwards."""
    from openimr.web.app import create_app
    from store_pg import pg_schema_url

    with ExitStack() as stack:
        if backend == "sqlite":
            path = folder / "web.db"
            shutil.copy(demo_db, path)
            url = f"sqlite:///{path}"
        else:
            url = stack.enter_context(pg_schema_url())
            load_demo(url)
            url = url_of(url)
        application = create_app(url)
        try:
            yield application
        finally:
            application.state.store.close()


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in *html*."""
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found[1]


@functools.cache
def a_pdf(pages: int = 1) -> bytes:
    """A small PDF that opens: *pages* blank pages (an upload must be what its name says); the
    same bytes each time."""
    import io

    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument.new()
    try:
        for _ in range(pages):
            doc.new_page(612, 792).close()
        out = io.BytesIO()
        doc.save(out)
    finally:
        doc.close()
    return out.getvalue()
