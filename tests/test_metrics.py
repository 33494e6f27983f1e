"""CMS-0057-F style measures of IMR determinations: counted per item and per case, on time or late
against the due date set at intake, days from complete records to decision, by priority and year;
as JSON, CSV, a chart and a table, from the command line and GET /api/metrics, by role."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import shutil
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from openimr.cli import app as cli
from openimr.services import fhir
from openimr.services.cases import CaseService, operator
from openimr.services.demo import REVIEWERS
from openimr.services.metrics import COLUMNS, metrics
from openimr.store.db import Store
from openimr.store.schema import AuditRow
from openimr.web.app import create_app
from test_fhir import CLAIM, DOCUMENT, MTUS, actions, example, raw
from test_web_api import Api

WHO = operator("metrics-test")


def _bundle(sent: dt.date, ur: dt.date, stat: bool = False, mri_only: bool = False) -> bytes:
    bundle = copy.deepcopy(example())
    bundle["timestamp"] = f"{sent.isoformat()}T12:00:00Z"
    bundle["entry"][-1]["resource"]["created"] = ur.isoformat()
    bundle["entry"][CLAIM]["resource"]["accident"]["date"] = (ur - dt.timedelta(days=200)).isoformat()
    bundle["entry"][DOCUMENT]["resource"]["date"] = f"{sent - dt.timedelta(days=1)}T09:00:00Z"
    if stat:
        bundle["entry"][CLAIM]["resource"]["priority"]["coding"][0]["code"] = "stat"
    if mri_only:
        actions(bundle, "A3", "A1", "A1", "A1")
    return raw(bundle)


def _decide(cases: CaseService, body: bytes, decisions: list[str], on: dt.date) -> tuple[str, dt.date]:
    """Take the Bundle in, assign, decide each item, issue the letter on *on*: (case, due date)."""
    number = fhir.submit(cases, WHO, body, on).case_number
    cases.assign(WHO, [number], on)
    for position, decision in enumerate(decisions, 1):
        cases.decide(WHO, number, position, decision, MTUS, f"Our reasons, item {position}.")
    cases.issue(WHO, number, on)
    return number, cases.case(WHO, number, on).due_date


@pytest.fixture
def decided(db_url: str) -> Iterator[tuple[CaseService, dict]]:
    """Three determinations: two in 2026 (a standard one, partly overturned; an expedited one,
    overturned, late) and one in 2025 (upheld)."""
    store = Store.open(db_url)
    cases = CaseService(store)
    cases.import_reviewers(WHO, REVIEWERS)
    facts = {
        "standard": _decide(
            cases, _bundle(dt.date(2026, 11, 20), dt.date(2026, 11, 10)), ["Upheld", "Overturned", "Upheld"],
            dt.date(2026, 12, 7),
        ),
        "expedited": _decide(
            cases, _bundle(dt.date(2026, 11, 21), dt.date(2026, 11, 12), stat=True, mri_only=True),
            ["Overturned"], dt.date(2026, 11, 30),
        ),
        "last_year": _decide(
            cases, _bundle(dt.date(2025, 12, 1), dt.date(2025, 11, 25)), ["Upheld"] * 3,
            dt.date(2025, 12, 20),
        ),
    }  # fmt: skip
    try:
        yield cases, facts
    finally:
        store.close()


def test_measures_per_item_case_priority_and_year(decided: tuple[CaseService, dict]) -> None:
    cases, facts = decided
    report = {r["priority"]: r for r in metrics(cases, WHO, 2026).rows()}
    assert report["All"]["cases"] == 2 and report["All"]["items"] == 4
    assert (report["All"]["items_upheld"], report["All"]["items_overturned"]) == (2, 2)
    assert report["All"]["item_overturn_rate"] == 0.5
    assert (report["Standard"]["cases_partly_overturned"], report["Expedited"]["cases_overturned"]) == (1, 1)
    assert report["All"]["case_overturn_rate"] == 1.0 and report["All"]["cases_upheld"] == 0
    days = {"standard": (dt.date(2026, 12, 7) - dt.date(2026, 11, 20)).days, "expedited": 9}
    assert report["Standard"]["median_days_records_to_decision"] == days["standard"]
    assert report["Expedited"]["mean_days_records_to_decision"] == days["expedited"]
    assert report["All"]["median_days_records_to_decision"] == statistics.median(days.values())
    on_time = {
        "standard": dt.date(2026, 12, 7) <= facts["standard"][1],
        "expedited": dt.date(2026, 11, 30) <= facts["expedited"][1],
    }
    assert on_time == {"standard": True, "expedited": False}  # 30 days; an expedited review is due in days
    assert report["All"]["within_statutory_time"] == 1 and report["All"]["within_statutory_time_share"] == 0.5
    earlier = {r["priority"]: r for r in metrics(cases, WHO, 2025).rows()}
    assert earlier["All"]["cases"] == 1 and earlier["All"]["cases_upheld"] == 1
    assert earlier["Expedited"]["cases"] == 0 and earlier["Expedited"]["item_overturn_rate"] is None
    assert metrics(cases, WHO, 2024).rows()[0]["cases"] == 0


def test_the_command_writes_table_json_csv_and_chart(
    decided: tuple[CaseService, dict], tmp_path: Path
) -> None:
    cases, _ = decided
    db = str(cases.store.url)
    run = CliRunner()
    table = run.invoke(cli, ["report", "metrics", "--year", "2026", "--db", db])
    assert table.exit_code == 0 and "Expedited" in table.stdout and "CMS-0057-F" in table.stdout
    data = json.loads(
        run.invoke(cli, ["report", "metrics", "--year", "2026", "-f", "json", "--db", db]).stdout
    )
    assert data["measures"][0]["cases"] == 2 and "within_statutory_time" in data["definitions"]
    as_csv = run.invoke(cli, ["report", "metrics", "--year", "2026", "-f", "csv", "--db", db])
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert (
        tuple(rows[0]) == COLUMNS
        and rows[2]["priority"] == "Expedited"
        and rows[2]["cases_overturned"] == "1"
    )
    chart = tmp_path / "m.png"
    done = run.invoke(cli, ["report", "metrics", "--year", "2026", "-f", "png", "-o", str(chart), "--db", db])
    assert done.exit_code == 0 and chart.read_bytes().startswith(b"\x89PNG")
    bad = run.invoke(cli, ["report", "metrics", "--year", "1800", "--db", db])
    assert bad.exit_code == 2


@pytest.fixture
def api(demo_db: Path, tmp_path: Path) -> Iterator[Api]:
    path = tmp_path / "metrics.db"
    shutil.copy(demo_db, path)
    app = create_app(f"sqlite:///{path}")
    with TestClient(app) as client:
        yield Api(client)
    app.state.store.close()


def test_the_api_answers_json_csv_and_png_by_role(api: Api) -> None:
    year = dt.date.today().year
    everyone = api.call("coordinator", "GET", "/api/metrics", params={"year": year}).json()
    assert everyone["year"] == year and everyone["measures"][0]["priority"] == "All"
    assert everyone["measures"][0]["cases"] >= 1  # the demo has issued letters
    analyst = api.call("analyst", "GET", "/api/metrics", params={"year": year})
    assert analyst.status_code == 200 and analyst.json() == everyone
    own = api.call("lac-01", "GET", "/api/metrics", params={"year": year}).json()
    assert own["measures"][0]["cases"] <= everyone["measures"][0]["cases"]  # a reviewer: their own cases
    assert api.call(None, "GET", "/api/metrics").status_code == 401
    as_csv = api.call("admin", "GET", "/api/metrics", params={"year": year, "format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv") and as_csv.text.startswith("year,priority,")
    png = api.call("admin", "GET", "/api/metrics", params={"format": "png"})
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert api.call("admin", "GET", "/api/metrics", params={"format": "xls"}).status_code == 422
    assert api.call("admin", "GET", "/api/metrics", params={"year": 99999}).status_code == 422
    with api.client.app.state.store.transaction() as s:
        readers = set(s.scalars(select(AuditRow.actor).where(AuditRow.entity == "metrics")))
    assert readers == {"coordinator", "analyst", "lac-01", "admin"}  # every read audited
