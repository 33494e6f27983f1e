"""Schemathesis over the whole API (/openapi.json), signed in as each role: generated requests, valid
and invalid by the schema, never get a 5xx, and every response conforms (status code documented,
content type, headers, body against its schema); a request the schema calls invalid is refused.

A schema-valid request may still be refused (4xx) — a case must pass intake rules the schema cannot
state, a decision needs the item's current version — so the "schema-valid request rejected" check
is left out. Each operation gets a bounded number of generated cases (sized for about a minute),
driven by Hypothesis directly (the schemathesis pytest plugin is not used).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from helpers import demo_app
from test_web_api import Api

RUNS = {  # (who, generation mode, examples per operation)
    "admin-valid": ("admin", GenerationMode.POSITIVE, 3),
    "coordinator-valid": ("coordinator", GenerationMode.POSITIVE, 3),
    "reviewer-valid": ("lac-01", GenerationMode.POSITIVE, 2),
    "coordinator-invalid": ("coordinator", GenerationMode.NEGATIVE, 2),
}


@pytest.fixture(scope="module")
def app(demo_db: Path, tmp_path_factory: pytest.TempPathFactory):
    with demo_app("sqlite", demo_db, tmp_path_factory.mktemp("schema")) as app:
        yield app


def _conformance(operation, mode: GenerationMode, examples: int, headers: dict, excluded: list):
    """A Hypothesis test calling *operation* with generated requests and validating each answer."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,  # the same requests on every run, so a failure reproduces
    )
    def conforms(case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    return conforms


@pytest.mark.parametrize("run", RUNS)
def test_every_operation_conforms_to_the_schema(app, run: str) -> None:
    who, mode, examples = RUNS[run]
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
    failures = []
    for operation in operations:
        excluded = [positive_data_acceptance]
        if any("multipart" in body.media_type for body in operation.body or ()):
            # On the wire a multipart part is bytes: a file the schema calls a binary string, turned
            # into an object, goes out as a part holding that object's JSON text, which is a file like
            # any other. The server reads each file's content and says what is wrong with it (that is
            # checked by the endpoints' own tests); "invalid by the schema" cannot be seen there.
            excluded.append(negative_data_rejection)

        try:
            _conformance(operation, mode, examples, headers, excluded)()
        except Unsatisfiable:  # no request of this mode exists (an operation without parameters)
            continue
        except Exception as exc:  # every operation is tried; the failures are reported together
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
