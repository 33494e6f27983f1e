"""Schemathesis against /openapi.json: generated requests, as an admin and as a reviewer, never get
a 5xx, and every response matches the schema (status code, content type, body). A valid-looking
request may still be refused (4xx): cases must pass intake rules the schema cannot state, so the
"schema-valid request rejected" check is left out.

Each operation gets a bounded number of generated cases, driven by Hypothesis directly (the
schemathesis pytest plugin is not used).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from openimr.web.app import create_app
from test_web_api import Api, demo_db

__all__ = ["demo_db"]  # the shared fixture
EXAMPLES = 5


@pytest.fixture(scope="module")
def app(demo_db: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("schema") / "web.db"
    shutil.copy(demo_db, path)
    app = create_app(f"sqlite:///{path}")
    yield app
    app.state.store.close()


@pytest.mark.parametrize("who", ["admin", "lac-01"])
def test_every_operation_conforms_to_the_schema(app, who: str) -> None:
    with TestClient(app) as client:
        token = Api(client).token(who)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Revoking tokens by generated id would revoke the one this test signs in with.
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if not (op.method.upper() == "DELETE" and op.path.startswith("/api/tokens"))
    ]
    assert len(operations) > 20
    headers = {"Authorization": f"Bearer {token}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def conforms(case) -> None:
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        conforms()
