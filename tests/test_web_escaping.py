"""User text comes back escaped: every page and the HTML letter, with script, image and refresh
payloads in every field a user sets (sign-in message and target, a missing path, intake fields,
document names, decisions); the plain-text letter stays plain text."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from jinja2 import nodes

from helpers import a_pdf, csrf_token
from openimr.core.bounds import SPECIALTY
from openimr.services.render import render
from openimr.web import pages
from test_web_api import MTUS, SEED_CASE, Api, api, examples_letter

__all__ = ["api"]  # the shared fixture
# No "/" in it: a file name keeps only what follows its last slash.
PAYLOAD = (
    '<script>alert(7)<img src=x onerror=alert(8)><meta http-equiv="refresh" content="0;url=evil.example">'
)
RAW = ("<script>alert(7)", "<img src=x", '<meta http-equiv="refresh"')


def assert_escaped(body: str, where: str, shown: bool = True) -> None:
    """No payload tag survives in *body*; where *shown*, the payload is there, escaped."""
    assert not [raw for raw in RAW if raw in body], f"unescaped payload in {where}"
    assert not shown or "&lt;script&gt;alert(7)" in body, f"the payload is not shown in {where}"


def sign_in(client: TestClient, username: str) -> str:
    """Sign the client in through the form; the session's CSRF token."""
    form = client.get("/login")
    csrf = csrf_token(form.text)
    signed = client.post(
        "/login", data={"username": username, "password": "demo", "csrf_token": csrf}, follow_redirects=False
    )
    assert signed.status_code == 303
    page = client.get("/worklist")
    return csrf_token(page.text)


def test_no_template_marks_text_safe() -> None:
    env = pages.templates.env
    for name in env.list_templates():
        source = env.loader.get_source(env, name)[0]
        filters = {f.name for f in env.parse(source).find_all(nodes.Filter)}
        assert "safe" not in filters, name
        assert env.autoescape is True or env.autoescape(name), name


@pytest.mark.parametrize("path", ["/login?msg={}", "/login?next={}", "/{}"])
def test_pages_anyone_can_open_escape_what_the_address_says(api: Api, path: str) -> None:
    answer = api.client.get(path.format(PAYLOAD))
    # An off-site target becomes "/"; a message in the address is never shown (only the server flashes).
    assert_escaped(answer.text, path, shown=path == "/{}")


def test_the_sign_in_target_stays_on_this_site(api: Api) -> None:
    for target in ("//evil.example/x", "http://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        form = api.client.get("/login", params={"next": target})
        assert 'name="next" value="/"' in form.text, target
        csrf = csrf_token(form.text)
        data = {"username": "coordinator", "password": "demo", "csrf_token": csrf, "next": target}
        signed = api.client.post("/login", data=data, follow_redirects=False)
        assert signed.headers["location"] == "/", target
    form = api.client.get("/login", params={"next": "/cases/CM24-0000001?tab=1"})
    assert 'name="next" value="/cases/CM24-0000001?tab=1"' in form.text


def test_stored_text_is_escaped_on_every_page_and_in_the_html_letter(api: Api) -> None:
    case = {
        **SEED_CASE,
        "clinical_summary": f"A 44-year-old with wrist pain. {PAYLOAD}",
        "parties": [
            {"role": "employer", "name": PAYLOAD},
            {"role": "requesting_provider", "name": "Dr. Ana Ruiz", "specialty": PAYLOAD[:SPECIALTY]},
        ],
        "disputed_items": [
            {
                "item": "Acupuncture 2 x week for 3 weeks",
                "category": "acupuncture",
                "claims_administrator_guideline": PAYLOAD,
            }
        ],
    }
    created = api.call("coordinator", "POST", "/api/cases", json=case)
    assert created.status_code == 201, created.text
    number = created.json()["case_number"]
    upload = api.call(
        "coordinator", "POST", f"/api/cases/{number}/documents", files={"file": (f"{PAYLOAD}.txt", b"note")}
    )
    assert upload.status_code == 201 and upload.json()["name"].startswith("<script>alert(7)<img src=x")
    (outcome,) = api.call("coordinator", "POST", "/api/assignments", json={"case_numbers": [number]}).json()
    reviewer = outcome["reviewer"].lower()
    decision = {
        "decision": "Overturned",
        "guideline": f"{MTUS} {PAYLOAD}",
        "rationale": f"Supported. {PAYLOAD}",
    }
    decided = api.call(reviewer, "PUT", f"/api/cases/{number}/items/1/decision", json=decision)
    assert decided.status_code == 200, decided.text

    letter = api.call(reviewer, "GET", f"/api/cases/{number}/letter.html")
    assert_escaped(letter.text, "the HTML letter")
    for username in ("coordinator", reviewer):
        api.client.cookies.clear()
        sign_in(api.client, username)
        workbench = api.client.get(f"/cases/{number}")
        assert workbench.status_code == 200
        assert_escaped(workbench.text, f"the workbench as {username}")
        assert workbench.text.count("&lt;script&gt;alert(7)") >= (7 if username == "coordinator" else 3)
    audit = api.client.get(f"/cases/{number}/audit")  # the coordinator's, with the document's name
    assert not [raw for raw in RAW if raw in audit.text]


def test_intake_and_upload_forms_echo_text_escaped(api: Api) -> None:
    csrf = sign_in(api.client, "coordinator")
    form = {
        "csrf_token": csrf,
        "application_received": "not a date",
        "ur_decision_date": SEED_CASE["ur_decision_date"],
        "item_1": PAYLOAD,
        "clinical_summary": PAYLOAD,
        "party_employer": PAYLOAD,
    }
    refused = api.client.post("/intake", data=form)
    assert refused.status_code == 422
    assert_escaped(refused.text, "the intake form")
    number = next(c["case_number"] for c in api.cases("coordinator") if c["status"] == "records_requested")
    added = api.client.post(
        f"/cases/{number}/documents",
        data={"csrf_token": csrf},
        files={"file": (f"{PAYLOAD}.pdf", a_pdf())},
    )
    assert added.status_code == 200  # the redirect's page, with its message naming the document
    assert_escaped(added.text, "the message after an upload")


def test_the_html_letter_escapes_and_the_text_letter_does_not() -> None:
    letter = examples_letter()
    issue = letter.issues[0].model_copy(update={"rationale": PAYLOAD, "imro_guideline": PAYLOAD})
    letter = letter.model_copy(update={"clinical_summary": PAYLOAD, "issues": [issue]})
    html = render(letter, "html")
    assert_escaped(html, "the HTML letter")
    text = render(letter, "txt")
    assert "<script>alert(7)" in text.replace("\n", " ") and "&lt;" not in text


def test_a_new_intake_form_opens_empty(api: Api) -> None:
    """An empty form must not show what a template reads off a dict (``form.items`` is its method)."""
    sign_in(api.client, "coordinator")
    page = api.client.get("/intake")
    assert page.status_code == 200
    assert "built-in method" not in page.text
    assert '<input id="item_1" name="item_1" aria-describedby="items-help" required value="">' in page.text


def test_the_decision_form_preselects_nothing(api: Api) -> None:
    """The reviewer decides: a recommendation is shown beside the form, never chosen in it."""
    mine = [c for c in api.cases("lac-01") if c["status"] in ("assigned", "in_review")]
    assert mine, "the demo gives lac-01 an open case"
    sign_in(api.client, "lac-01")
    page = api.client.get(f"/cases/{mine[0]['case_number']}")
    assert page.status_code == 200
    radios = re.findall(r'<input type="radio" name="decision"[^>]*>', page.text)
    assert radios, "the assigned reviewer gets the decision form"
    assert not any("checked" in r for r in radios), radios
