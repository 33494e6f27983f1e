"""FHIR in and out: a PAS-shaped Bundle of our own (fictional people) taken in as an IMR case,
every way a Bundle can be wrong answered by an OperationOutcome naming the FHIRPath with nothing
stored, the round trip (Bundle in -> decide -> ClaimResponse out -> read back with
fhir.resources), the roles on the new routes, and idempotency on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from typer.testing import CliRunner

from openimr.cli import app as cli
from openimr.core.fhir.intake import read_bundle
from openimr.core.fhir.outcome import FhirError
from openimr.services import fhir
from openimr.services.cases import CaseService, operator
from openimr.services.demo import REVIEWERS
from openimr.store.db import Store
from openimr.web.app import create_app
from test_web_api import Api

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fhir" / "pas-request-bundle.json"
TODAY = dt.date(2026, 12, 7)
CLAIM, PATIENT, PRACTITIONER, ROLE, EMPLOYER, DOCUMENT, RESPONSE = 0, 1, 2, 3, 6, 8, 9
MTUS = "MTUS Low Back Complaints, 8 CCR 9792.23.5"


def example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


def raw(bundle: Any) -> bytes:
    return json.dumps(bundle).encode()


def actions(bundle: dict, *codes: str) -> dict:
    """*bundle* with the UR's review action on each item set to *codes*, in order."""
    for item, code in zip(bundle["entry"][RESPONSE]["resource"]["item"], codes, strict=True):
        item["adjudication"][0]["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0][
            "code"
        ] = code
    return bundle


# The mapping ---------------------------------------------------------------------------------


def test_the_example_bundle_becomes_an_application() -> None:
    sub = read_bundle(EXAMPLE.read_bytes(), TODAY)
    app = sub.application
    assert (app.application_received, app.ur_decision_date, app.date_of_injury) == (
        dt.date(2026, 11, 20),
        dt.date(2026, 11, 10),
        dt.date(2026, 3, 14),
    )
    assert app.priority == "Standard" and not app.formulary_dispute
    assert (app.claimant.age, app.claimant.sex) == (41, "female")
    assert {(p.role, p.name) for p in app.parties} == {
        ("employee", "Dana Fictional"),
        ("requesting_provider", "Dr. Lee Placeholder"),
        ("claims_administrator", "Golden Example Claims Services"),
        ("ur_organization", "Sierra Example Utilization Review"),
        ("employer", "Pacific Example Freight"),
    }
    assert app.condition_specialty == "Orthopedic Surgery"
    items = [i.item for i in app.disputed_items]
    assert items == [
        "MRI lumbar spine without contrast (CPT 72148)",
        "Physical therapy, therapeutic exercise (CPT 97110), quantity 12",
        "gabapentin 300 MG Oral Capsule (RxNorm 310431), quantity 90",
    ]  # the office visit was certified: not disputed
    assert [u.outcome for u in app.ur_items] == ["denied", "modified", "denied", "approved"]
    assert app.disputed_items[0].claims_administrator_guideline.startswith("MTUS Low Back Complaints")
    assert "Diagnoses: M54.16 Radiculopathy, lumbar region." in app.clinical_summary
    assert [d.path for d in app.documents] == ["01-progress-note.txt", "fhir-claim.json"]
    assert sub.contents["01-progress-note.txt"].startswith(b"Progress note (fictional")
    assert sub.claim["claim"]["identifier"][0]["value"] == "UR-2026-4471"


def test_an_expedited_dispute_over_drugs_only_is_a_formulary_dispute() -> None:
    bundle = actions(example(), "A1", "A1", "A3", "A1")
    bundle["entry"][CLAIM]["resource"]["priority"]["coding"][0]["code"] = "stat"
    app = read_bundle(raw(bundle), TODAY).application
    assert app.priority == "Expedited" and app.formulary_dispute
    assert [i.item for i in app.disputed_items] == [
        "gabapentin 300 MG Oral Capsule (RxNorm 310431), quantity 90"
    ]


def _claim(b: dict) -> dict:
    return b["entry"][CLAIM]["resource"]


def _response(b: dict) -> dict:
    return b["entry"][RESPONSE]["resource"]


def _deep(depth: int) -> bytes:
    return b'{"resourceType": "Bundle", "x": ' + b"[" * depth + b"]" * depth + b"}"


WRONG: list[tuple[str, Any, int, str]] = [
    ("not JSON", b"{not json", 400, "Bundle"),
    ("not UTF-8", b"\xff\xfe{", 400, "Bundle"),
    ("not an object", b"[]", 400, "Bundle"),
    ("not a Bundle", {"resourceType": "Patient"}, 400, "Bundle.resourceType"),
    ("nested too deep", _deep(200), 400, "Bundle"),
    ("unknown resource type", lambda b: b["entry"].append({"resource": {"resourceType": "Nope"}}), 400,
     "Bundle.entry[10].resource.resourceType"),
    ("invalid R4", lambda b: _claim(b)["item"][0].update(sequence="first"), 400,
     "Bundle.entry[0].resource.item[0].sequence"),
    ("R4 required element missing", lambda b: _claim(b)["item"][0].pop("productOrService"), 400,
     "Bundle.entry[0].resource.item[0].productOrService"),
    ("bad date", lambda b: b["entry"][PATIENT]["resource"].update(birthDate="1985-13-40"), 400,
     "Bundle.entry[1].resource.birthDate"),
    ("code outside its value set", lambda b: _response(b).update(outcome="approved"), 400,
     "Bundle.entry[9].resource.outcome"),
    ("unknown gender", lambda b: b["entry"][PATIENT]["resource"].update(gender="x"), 400,
     "Bundle.entry[1].resource.gender"),
    ("not a collection", lambda b: b.update(type="transaction"), 422, "Bundle.type"),
    ("no Claim", lambda b: b["entry"].pop(CLAIM), 422, "Bundle.entry"),
    ("two Claims", lambda b: b["entry"].append(copy.deepcopy(b["entry"][CLAIM])), 422, "Bundle.entry"),
    ("no ClaimResponse", lambda b: b["entry"].pop(RESPONSE), 422, "Bundle.entry"),
    ("ClaimResponse for another Claim", lambda b: _response(b).update(request={"reference": "Claim/x"}),
     422, "Bundle.entry[9].resource.request"),
    ("no item denied", lambda b: actions(b, "A1", "A1", "A1", "A1"), 422, "Bundle.entry[9].resource.item"),
    ("unknown review action", lambda b: actions(b, "ZZ", "A1", "A1", "A1"), 422,
     "Bundle.entry[9].resource.item[0].adjudication"),
    ("no review action", lambda b: _response(b)["item"][0]["adjudication"][0].pop("extension"), 422,
     "Bundle.entry[9].resource.item[0].adjudication"),
    ("answer to no Claim item", lambda b: _response(b)["item"][0].update(itemSequence=99), 422,
     "Bundle.entry[9].resource.item[0].itemSequence"),
    ("unnamed service", lambda b: _claim(b)["item"][0].update(productOrService={"coding": [{"code": "X"}]}),
     422, "Bundle.entry[0].resource.item[0].productOrService"),
    ("UR decision after the application", lambda b: _response(b).update(created="2026-11-25"), 422,
     "Bundle.entry[9].resource.created"),
    ("application in the future", lambda b: b.update(timestamp="2031-01-01T00:00:00Z"), 422,
     "Bundle.timestamp"),
    ("injury after the UR decision", lambda b: _claim(b)["accident"].update(date="2026-11-15"), 422,
     "Bundle.entry[0].resource.accident.date"),
    ("born after the injury", lambda b: b["entry"][PATIENT]["resource"].update(birthDate="2026-06-01"), 422,
     "Bundle.entry[1].resource.birthDate"),
    ("no clinical summary", lambda b: [_claim(b).pop("supportingInfo"), _claim(b).pop("diagnosis")], 422,
     "Bundle.entry[0].resource.supportingInfo"),
    ("patient not in the Bundle", lambda b: _claim(b).update(patient={"reference": "Patient/nobody"}), 422,
     "Bundle.entry[0].resource.patient"),
    ("hostile control character", lambda b: b["entry"][PRACTITIONER]["resource"]["name"][0].update(
        family="Placeholder\u0007\u001b[2J"), 422, "Bundle.entry"),
    ("hostile NUL in a summary", lambda b: _claim(b)["supportingInfo"][0].update(valueString="a\u0000b"), 422,
     "Bundle.entry[0].resource.supportingInfo"),
    ("too many entries", lambda b: b["entry"].extend([{"resource": {"resourceType": "Basic"}}] * 501), 413,
     "Bundle.entry"),
]  # fmt: skip


def _bad(case: Any) -> bytes:
    if isinstance(case, bytes):
        return case
    if callable(case):
        bundle = example()
        case(bundle)
        return raw(bundle)
    return raw(case)


@pytest.mark.parametrize(("name", "change", "status", "where"), WRONG, ids=[w[0] for w in WRONG])
def test_a_wrong_bundle_names_the_problem_by_fhirpath(
    name: str, change: Any, status: int, where: str
) -> None:
    with pytest.raises(FhirError) as caught:
        read_bundle(_bad(change), TODAY)
    assert caught.value.status == status, caught.value
    assert where in [p.where for p in caught.value.problems], caught.value.problems


def test_an_oversized_bundle_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("openimr.core.fhir.intake.MAX_BUNDLE_BYTES", 1000)
    with pytest.raises(FhirError) as caught:
        read_bundle(EXAMPLE.read_bytes(), TODAY)
    assert caught.value.status == 413


def test_hostile_markup_is_kept_as_text() -> None:
    bundle = example()
    _claim(bundle)["item"][0]["productOrService"]["coding"][0]["display"] = "<script>alert(1)</script> MRI"
    app = read_bundle(raw(bundle), TODAY).application
    assert app.disputed_items[0].item.startswith("<script>alert(1)</script> MRI")  # data; templates escape it


# The web: roles, errors, round trip ----------------------------------------------------------


@pytest.fixture
def api(demo_db: Path, tmp_path: Path) -> Iterator[Api]:
    path = tmp_path / "fhir.db"
    shutil.copy(demo_db, path)
    app = create_app(f"sqlite:///{path}")
    with TestClient(app) as client:
        yield Api(client)
    app.state.store.close()


def submit(api: Api, who: str | None, body: bytes | None = None):
    return api.call(
        who, "POST", "/fhir/Claim/$submit", content=EXAMPLE.read_bytes() if body is None else body
    )


def decide_and_issue(api: Api, number: str) -> str:
    """Assign, decide (1 Upheld, 2 Overturned, 3 Upheld) and issue through the API; the reviewer's code."""
    assigned = api.call("coordinator", "POST", "/api/assignments", json={"case_numbers": [number]})
    assert assigned.status_code == 200, assigned.text
    code = api.call("coordinator", "GET", f"/api/cases/{number}").json()["assignment"]["reviewer"]
    for position, decision in ((1, "Upheld"), (2, "Overturned"), (3, "Upheld")):
        body = {"decision": decision, "guideline": MTUS, "rationale": f"Our reasons for item {position}."}
        done = api.call(code.lower(), "PUT", f"/api/cases/{number}/items/{position}/decision", json=body)
        assert done.status_code == 200, done.text
    assert api.call("coordinator", "POST", f"/api/cases/{number}/letter").status_code == 200
    return code


def test_metadata_is_a_capability_statement_for_anyone(api: Api) -> None:
    answer = api.client.get("/fhir/metadata")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/fhir+json")
    statement = CapabilityStatement.model_validate(answer.json())
    resources = {r.type: r for r in statement.rest[0].resource}
    assert resources["Claim"].operation[0].name == "submit"
    assert resources["ClaimResponse"].searchParam[0].name == "request"


def test_round_trip_bundle_in_decision_claimresponse_out(api: Api) -> None:
    first = submit(api, "coordinator")
    assert first.status_code == 201, first.text
    ack = Bundle.model_validate(first.json()).entry[0].resource
    number = ack.preAuthRef
    assert ack.outcome == "queued" and [i.itemSequence for i in ack.item] == [1, 2, 3]
    again = submit(api, "admin")
    assert again.status_code == 200 and again.json()["entry"][0]["resource"]["preAuthRef"] == number
    case = api.call("coordinator", "GET", f"/api/cases/{number}").json()
    assert case["status"] == "records_requested" and len(case["items"]) == 3
    assert {d["name"] for d in case["documents"]} == {"01-progress-note.txt", "fhir-claim.json"}

    early = api.call("coordinator", "GET", "/fhir/ClaimResponse", params={"request": f"Claim/{number}"})
    assert (
        early.status_code == 404
        and OperationOutcome.model_validate(early.json()).issue[0].code == "not-found"
    )

    code = decide_and_issue(api, number)
    answer = api.call("coordinator", "GET", "/fhir/ClaimResponse", params={"request": f"Claim/{number}"})
    assert answer.status_code == 200, answer.text
    bundle = Bundle.model_validate(answer.json())  # read back with fhir.resources
    found = {e.resource.get_resource_type(): e.resource for e in bundle.entry}
    response = found["ClaimResponse"]
    assert response.request.identifier.value == "UR-2026-4471" and response.outcome == "complete"
    assert [i.itemSequence for i in response.item] == [1, 2, 3]
    reasons = [i.adjudication[0].reason for i in response.item]
    assert [r.coding[0].code for r in reasons] == ["upheld", "overturned", "upheld"]
    assert reasons[1].text == "Our reasons for item 2."
    actions_out = [
        i.adjudication[0].extension[0].extension[0].valueCodeableConcept.coding[0].code for i in response.item
    ]
    assert actions_out == ["A3", "A1", "A3"]
    attachment = found["DocumentReference"].content[0].attachment  # the model decodes base64
    assert attachment.contentType == "application/pdf" and attachment.data.startswith(b"%PDF")
    assert answer.json()["entry"][1]["resource"]["content"][0]["attachment"]["data"].startswith("JVBERi")
    provenance = found["Provenance"]
    assert provenance.agent[0].who.display and provenance.contained[0].qualification
    reviewer = next(r for r in REVIEWERS if r.code == code)
    text = answer.text
    assert reviewer.name not in text and code not in text  # qualifications, never the reviewer
    assert found["Organization"].name

    exported = CliRunner().invoke(
        cli, ["cases", "export", number, "--db", str(api.client.app.state.store.url)]
    )
    assert exported.exit_code == 0, exported.output
    assert Bundle.model_validate_json(exported.stdout).entry[0].resource.preAuthRef == number

    audit = api.call("admin", "GET", f"/api/cases/{number}/audit", params={"limit": 200}).json()["items"]
    assert any(
        a["actor"] == "coordinator" and a["entity"] == "letter" and a["action"] == "read" for a in audit
    )


def test_a_bad_bundle_stores_nothing(api: Api) -> None:
    before = len(api.cases("coordinator"))
    bad = example()
    bad["entry"].pop(RESPONSE)
    answer = submit(api, "coordinator", raw(bad))
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/fhir+json")
    issues = OperationOutcome.model_validate(answer.json()).issue
    assert issues[0].expression == ["Bundle.entry"] and "ClaimResponse" in issues[0].diagnostics
    assert submit(api, "coordinator", b"\x00garbage").status_code == 400
    assert len(api.cases("coordinator")) == before


def test_what_the_app_refuses_before_fhir_is_json(api: Api) -> None:
    big = submit(api, "coordinator", b" " * (2**20 + 1))  # over the JSON body limit: refused unread
    assert big.status_code == 413 and big.json()["error"] == "too_large"
    control = api.call("coordinator", "GET", "/fhir/ClaimResponse", params={"request": "Claim/\x00"})
    assert control.status_code == 400 and control.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("who", "status"), [("admin", 201), ("coordinator", 201), ("lac-01", 403), ("analyst", 403), (None, 401)]
)
def test_who_may_submit(api: Api, who: str | None, status: int) -> None:
    answer = submit(api, who)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    if status >= 400:
        assert answer.json()["resourceType"] == "OperationOutcome"


def test_who_may_read_a_determination(api: Api) -> None:
    number = submit(api, "coordinator").json()["entry"][0]["resource"]["preAuthRef"]
    code = decide_and_issue(api, number)
    other = next(r.code for r in REVIEWERS if r.code != code).lower()
    params = {"request": f"Claim/{number}"}
    expected = {"admin": 200, "coordinator": 200, code.lower(): 200, other: 404, "analyst": 403, None: 401}
    for who, status in expected.items():
        answer = api.call(who, "GET", "/fhir/ClaimResponse", params=params)
        assert answer.status_code == status, (who, answer.text)
    bad = api.call("admin", "GET", "/fhir/ClaimResponse", params={"request": "Patient/x"})
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["ClaimResponse.request"]


# The store: the same Bundle twice is one case ------------------------------------------------


def test_the_same_bundle_twice_is_one_case(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        cases = CaseService(store)
        who = operator("fhir-test")
        one = fhir.submit(cases, who, EXAMPLE.read_bytes(), TODAY)
        two = fhir.submit(cases, who, EXAMPLE.read_bytes(), TODAY)
        assert one.created and not two.created and one.case_number == two.case_number
        assert len(cases.documents(who, one.case_number)) == 2
        assert cases.list_cases(who, TODAY).total == 1
    finally:
        store.close()


def test_the_same_bundle_at_once_is_one_case(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        cases = CaseService(store)
        results: list[str] = []

        def send() -> None:
            results.append(fhir.submit(cases, operator("fhir-test"), EXAMPLE.read_bytes(), TODAY).case_number)

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 4 and len(set(results)) == 1
        assert cases.list_cases(operator("fhir-test"), TODAY).total == 1
    finally:
        store.close()


def test_the_command_line_imports_and_explains(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    run = CliRunner()
    first = run.invoke(cli, ["cases", "import", str(EXAMPLE), "--db", db, "--today", TODAY.isoformat()])
    assert first.exit_code == 0 and first.stdout.strip() == "CM26-0000001: records_requested"
    again = run.invoke(cli, ["cases", "import", str(EXAMPLE), "--db", db, "--today", TODAY.isoformat()])
    assert again.stdout.strip() == "CM26-0000001: records_requested (already taken in)"
    bad = example()
    _response(bad).update(request={"reference": "Claim/x"})
    path = tmp_path / "bad.json"
    path.write_bytes(raw(bad))
    refused = run.invoke(cli, ["cases", "import", str(path), "--db", db, "--today", TODAY.isoformat()])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert (
        f"error: {path}: Bundle.entry[9].resource.request: this ClaimResponse is for another Claim"
        in refused.output
    )
    undecided = run.invoke(cli, ["cases", "export", "CM26-0000001", "--db", db])
    assert undecided.exit_code == 1 and undecided.output.startswith("error: ")
