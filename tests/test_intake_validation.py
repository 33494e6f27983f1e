"""Intake refuses what cannot be, field by field and in people's words, in the API and the page
alike: dates after today, an injury after the UR decision, an application or a service before it,
ages outside 14-110, items asking for no or absurdly many visits; and every validation message the
API answers names its field in words, never pydantic's."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from helpers import csrf_token
from openimr.core.case import Application
from openimr.core.dates import long_date
from test_web_api import SEED_CASE, Api, api
from test_web_escaping import sign_in

__all__ = ["api"]  # the shared fixture

TODAY = dt.date.today()
PYDANTIC = (
    "Input should",
    "String should",
    "List should",
    "Value error",
    "Field required",
    "body.",
    "query.",
)


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def said(offset: int) -> str:
    return long_date(TODAY + dt.timedelta(days=offset))


def problems(data: dict, today: dt.date | None = None) -> dict[str, str]:
    """The fields an Application refuses, each with its message."""
    context = {"today": today} if today else None
    with pytest.raises(ValidationError) as refused:
        Application.model_validate(data, context=context)
    return {".".join(map(str, e["loc"])): e["msg"] for e in refused.value.errors()}


IMPOSSIBLE = {
    **SEED_CASE,
    "application_received": day(10),
    "date_of_injury": day(90),
    "ur_decision_date": day(3),
    "ur_decision_served": day(4),
    "claimant": {"age": 250, "sex": "female"},
}


def test_each_future_date_and_an_impossible_age_is_named() -> None:
    found = problems(IMPOSSIBLE)
    for field in ("application_received", "date_of_injury", "ur_decision_date", "ur_decision_served"):
        assert "is in the future" in found[field] and f"today is {long_date(TODAY)}" in found[field]
    assert found["claimant.age"].startswith("must be between 14 and 110")
    assert "work permit" in found["claimant.age"]  # where the bound comes from


def test_today_is_the_validation_contexts() -> None:
    later = TODAY + dt.timedelta(days=200)
    possible_later = {**IMPOSSIBLE, "date_of_injury": day(1), "claimant": {"age": 40}}
    assert Application.model_validate(possible_later, context={"today": later})
    assert "application_received" in problems(SEED_CASE, today=TODAY - dt.timedelta(days=5))


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"date_of_injury": day(-5)}, "date_of_injury", "is after the UR decision"),
        ({"application_received": day(-20)}, "application_received", "is before the UR decision"),
        ({"ur_decision_served": day(-13)}, "ur_decision_served", "is before the UR decision"),
        ({"claimant": {"age": 13}}, "claimant.age", "between 14 and 110"),
        ({"claimant": {"age": 111}}, "claimant.age", "between 14 and 110"),
        (
            {"disputed_items": [{"item": "Physical therapy 0 visits"}]},
            "disputed_items.0.item",
            "at least one",
        ),
        ({"disputed_items": [{"item": "Norco 10mg #0"}]}, "disputed_items.0.item", "0 units"),
        ({"disputed_items": [{"item": "PT 5000 visits"}]}, "disputed_items.0.item", "more than anyone"),
        ({"disputed_items": [{"item": "PT 3 x week for 900 weeks"}]}, "disputed_items.0.item", "2700 visits"),
    ],
)
def test_an_impossible_application_is_refused_at_its_field(change: dict, field: str, words: str) -> None:
    found = problems({**SEED_CASE, "ur_items": [], **change})
    assert list(found) == [field] and words in found[field], found


@pytest.mark.parametrize(
    "change",
    [
        {"claimant": {"age": 14}},
        {"claimant": {"age": 110}},
        {
            f: day(0)
            for f in ("application_received", "ur_decision_date", "ur_decision_served", "date_of_injury")
        },
        {"disputed_items": [{"item": "Cyclobenzaprine 7.5mg #60"}], "ur_items": []},
        {"disputed_items": [{"item": "Physical therapy 2 x week for 6 weeks"}], "ur_items": []},
    ],
)
def test_the_edges_of_what_can_be_are_taken(change: dict) -> None:
    assert Application.model_validate({**SEED_CASE, **change})


def test_the_api_refuses_an_impossible_case_with_each_field_named(api: Api) -> None:
    before = len(api.cases("coordinator"))
    answer = api.call("coordinator", "POST", "/api/cases", json=IMPOSSIBLE)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid"
    messages = {tuple(d["loc"]): d["msg"] for d in body["detail"]}
    assert messages[("body", "claimant", "age")].startswith("Age: must be between 14 and 110")
    assert messages[("body", "application_received")].startswith("Application received: ")
    assert messages[("body", "date_of_injury")].startswith("Date of injury: ")
    assert "Age: must be between 14 and 110" in body["message"]
    assert not [w for w in PYDANTIC if w in answer.text], answer.text
    assert len(api.cases("coordinator")) == before


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "expected"),
    [
        (
            "POST",
            "/api/cases",
            {"json": {**SEED_CASE, "disputed_items": []}},
            "Disputed item: give at least one",
        ),
        ("POST", "/api/cases", {"json": {**SEED_CASE, "application_received": "12/01/2026"}}, "YYYY-MM-DD"),
        ("POST", "/api/cases", {"json": {**SEED_CASE, "case_number": "X1"}}, "reads like CM26-0000001"),
        ("POST", "/api/cases", {"json": {**SEED_CASE, "priority": "Urgent"}}, "Priority: must be one of"),
        ("POST", "/api/cases", {"json": {**SEED_CASE, "extra": 1}}, "Extra: is not a field here"),
        (
            "POST",
            "/api/users",
            {"json": {"username": "a b", "password": "x" * 12, "role": "analyst"}},
            "Username: may hold only letters, digits and . _ @ -",
        ),
        ("GET", "/api/cases", {"params": {"limit": "many"}}, "Limit: must be a whole number"),
    ],
)
def test_api_validation_messages_are_in_words(
    api: Api, method: str, path: str, kwargs: dict, expected: str
) -> None:
    who = "admin" if path == "/api/users" else "coordinator"
    answer = api.call(who, method, path, **kwargs)
    assert answer.status_code == 422, answer.text
    assert expected in answer.json()["message"], answer.json()
    assert not [w for w in PYDANTIC if w in answer.text], answer.text


def _form(**fields: str) -> dict[str, str]:
    return {
        "application_received": day(-2),
        "ur_decision_date": day(-12),
        "ur_decision_served": day(-11),
        "date_of_injury": day(-300),
        "claimant_age": "44",
        "item_1": "Acupuncture 2 x week for 3 weeks",
        "clinical_summary": "Wrist pain after a fall at work.",
        **fields,
    }


def test_the_page_says_each_problem_beside_its_field(api: Api) -> None:
    csrf = sign_in(api.client, "coordinator")
    form = _form(
        csrf_token=csrf,
        application_received=day(10),
        date_of_injury=day(90),
        claimant_age="250",
        item_2="Physical therapy 0 visits",
        party_employer_address="1 Main St",
    )
    page = api.client.post("/intake", data=form)
    assert page.status_code == 422
    alert = page.text.split('role="alert"')[1].split("</div>")[0]
    for line in (
        f"Application received: {said(10)} is in the future",
        f"Date of injury: {said(90)} is in the future",
        "Age: must be between 14 and 110",
        "Disputed item 2: asks for 0 visits: a request asks for at least one",
        "Employer: give the name of the employer whose address is set",
    ):
        assert line in alert, alert
    assert (
        'id="claimant_age" name="claimant_age" aria-invalid="true" aria-describedby="claimant_age-error'
        in page.text
    )
    assert 'id="claimant_age-error">must be between 14 and 110' in page.text
    assert 'id="application_received-error">' in page.text
    assert "YYYY-MM-DD" not in page.text and not [w for w in PYDANTIC if w in page.text]
    fixed = api.client.post(
        "/intake",
        data={
            **form,
            "application_received": day(-2),
            "date_of_injury": day(-9),
            "claimant_age": "44",
            "party_employer": "Harbor",
        },
    )
    assert fixed.status_code == 422
    assert "Disputed item 2: asks for 0 visits" in fixed.text  # the row the user typed it in


def test_a_date_the_page_cannot_read_asks_for_the_calendar(api: Api) -> None:
    csrf = sign_in(api.client, "coordinator")
    page = api.client.post("/intake", data=_form(csrf_token=csrf, ur_decision_date="13/45/2026"))
    assert "UR decision date: is not a date: choose one from the calendar" in page.text


def test_the_page_takes_in_every_field_of_the_case_format(api: Api) -> None:
    csrf = sign_in(api.client, "coordinator")
    form = _form(
        csrf_token=csrf,
        claimant_name="Pat Example",
        claim_number="WC-2026-0042",
        documents_received=day(-1),
        condition_specialty="Hand Surgery",
        party_employee_address="12 Elm St\nFresno, CA 93701",
        party_claims_administrator="Example Claims",
        party_claims_administrator_address="PO Box 1, Sacramento, CA",
        item_1_outcome="modified",
        item_1_authorized="Acupuncture 2 x week for 1 week",
        item_1_guideline="MTUS Acupuncture Medical Treatment Guidelines",
        item_2="MRI of the right wrist",
        item_2_outcome="denied",
    )
    answer = api.client.post("/intake", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    number = answer.headers["location"].split("/cases/")[1].split("?")[0]
    case = api.call("coordinator", "GET", f"/api/cases/{number}").json()
    assert case["condition_specialty"] == "Hand Surgery"
    assert [i["item"] for i in case["items"]] == [
        "Acupuncture 2 x week for 3 weeks",
        "MRI of the right wrist",
    ]
    audit = api.call("coordinator", "GET", f"/api/cases/{number}/audit").json()["items"]
    submitted = next(r for r in audit if r["action"] == "create")["after"]
    assert submitted["claim_number"] == "WC-2026-0042" and submitted["claimant"]["name"] == "Pat Example"
    assert submitted["documents_received"] == day(-1)
    first, second = submitted["disputed_items"]
    assert first["ur_outcome"] == "modified" and first["authorized"].endswith("1 week")
    assert first["claims_administrator_guideline"].startswith("MTUS") and second["ur_outcome"] == "denied"
    roles = {p["role"]: p.get("address") for p in submitted["parties"]}
    assert roles["employee"] == "12 Elm St\nFresno, CA 93701" and roles["claims_administrator"].startswith(
        "PO Box"
    )


def test_the_new_form_offers_the_case_formats_fields(api: Api) -> None:
    sign_in(api.client, "coordinator")
    page = api.client.get("/intake").text
    for name in (
        "claimant_name",
        "claim_number",
        "documents_received",
        "condition_specialty",
        "item_1_outcome",
        "item_1_authorized",
        "item_1_guideline",
        "item_5",
        "party_employer_address",
    ):
        assert f'name="{name}"' in page, name
    assert f'max="{TODAY}"' in page  # the calendar offers no future day
    assert csrf_token(page)


def test_the_command_line_says_each_problem_on_its_own_line(tmp_path) -> None:
    from typer.testing import CliRunner

    from openimr.cli import app

    case = tmp_path / "case.json"
    case.write_text(json.dumps(IMPOSSIBLE))
    result = CliRunner().invoke(app, ["cases", "create", str(case), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert f"error: Application received: {said(10)} is in the future" in lines[0]
    assert any(line.startswith("error: Age: must be between 14 and 110") for line in lines)
    assert "validation error" not in result.stderr and "[type=" not in result.stderr


@pytest.mark.parametrize(
    ("query", "expected"),
    [({"year": "last"}, "Year: must be a whole number"), ({"year": "1800"}, "Year: must be at least 1900")],
)
def test_a_page_refusing_its_address_says_the_field_in_words(api: Api, query: dict, expected: str) -> None:
    sign_in(api.client, "analyst")
    page = api.client.get("/search", params=query)
    assert page.status_code == 422 and expected in page.text
    assert "query." not in page.text and not [w for w in PYDANTIC if w in page.text]


def test_each_items_own_ur_outcome_decides_whether_it_goes_to_review() -> None:
    from openimr.core.process import eligibility

    items = [
        {"item": "Acupuncture 2 x week for 3 weeks", "ur_outcome": "approved"},
        {"item": "MRI of the right wrist", "ur_outcome": "delayed"},
        {"item": "Wrist brace", "authorized": "Wrist brace, prefabricated"},
    ]
    case = Application.model_validate({**SEED_CASE, "ur_items": [], "disputed_items": items})
    found = [(f.passed, f.why.facts.get("outcome")) for f in eligibility.check(case).items]
    assert found == [(False, "approved"), (True, "delayed"), (True, "modified")]
