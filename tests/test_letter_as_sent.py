"""The Final Determination as sent: letterhead, date, addressees, appeal rights (Labor Code 4610.6),
signature, a tagged PDF with real metadata; the published form still parses back; a rationale
shorter than a sentence is refused in the API and the page alike."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient

from openimr.core.letters.parse import parse_file
from openimr.services.organization import Organization
from openimr.services.sending import Addressee, Sending, render_sent
from openimr.web.app import create_app
from test_render import _letter
from test_web_api import MTUS, SEED_CASE, Api
from test_web_escaping import sign_in

TODAY = dt.date.today()
LONG_DATE = f"{TODAY:%B} {TODAY.day}, {TODAY.year}"
CASE = {
    **SEED_CASE,
    "claim_number": "HFL-2026-0042",
    "claimant": {"name": "Jordan Example", "age": 44, "sex": "female"},
    "parties": [
        {"role": "employee", "name": "Jordan Example", "address": "12 Elm Street\nFresno, CA 93701"},
        {"role": "employer", "name": "Harbor Freight Lines"},
        {"role": "claims_administrator", "name": "Bay Claims Co.", "address": "PO Box 9\nOakland, CA 94601"},
        {"role": "requesting_provider", "name": "Dr. Ana Ruiz", "specialty": "Hand Surgery"},
    ],
}
RATIONALE = "A first trial of 6 visits is supported for this wrist injury."


@pytest.fixture
def api(demo_db: Path, tmp_path: Path) -> Iterator[Api]:
    path = tmp_path / "web.db"
    shutil.copy(demo_db, path)
    app = create_app(f"sqlite:///{path}")
    with TestClient(app) as client:
        yield Api(client)
    app.state.store.close()


def _assigned(api: Api) -> tuple[str, str]:
    """A new case with addresses, taken in and assigned: its number and the reviewer's username."""
    created = api.call("coordinator", "POST", "/api/cases", json=CASE)
    assert created.status_code == 201, created.text
    number = created.json()["case_number"]
    files = {"file": ("notes.txt", b"Progress note: wrist pain 6/10.", "text/plain")}
    upload = api.call("coordinator", "POST", f"/api/cases/{number}/documents", files=files)
    assert upload.status_code == 201, upload.text
    (outcome,) = api.call("coordinator", "POST", "/api/assignments", json={"case_numbers": [number]}).json()
    assert outcome["reviewer"], outcome
    return number, outcome["reviewer"].lower()


def _issued(api: Api) -> str:
    number, reviewer = _assigned(api)
    body = {"decision": "Overturned", "guideline": MTUS, "rationale": RATIONALE}
    decided = api.call(reviewer, "PUT", f"/api/cases/{number}/items/1/decision", json=body)
    assert decided.status_code == 200, decided.text
    assert api.call("coordinator", "POST", f"/api/cases/{number}/letter").status_code == 200
    return number


def test_the_issued_letter_is_addressed_dated_signed_and_states_the_appeal_rights(api: Api) -> None:
    number = _issued(api)
    answer = api.call("coordinator", "GET", f"/api/cases/{number}/letter.html")
    assert answer.status_code == 200
    html = answer.text
    for expected in (
        "4610.6(h)",
        "verified petition with the Workers&#39; Compensation Appeals Board",
        "within 30 days of the date of mailing",
        "139.5",
        "plainly erroneous",
        f'<time datetime="{TODAY.isoformat()}">{LONG_DATE}</time>',
        "Injured worker:</span> Jordan Example<br>12 Elm Street<br>Fresno, CA 93701",
        "Claims administrator:</span> Bay Claims Co.<br>PO Box 9<br>Oakland, CA 94601",
        "Requesting physician:</span> Dr. Ana Ruiz",
        "HFL-2026-0042",
        "Sincerely,",
        "Medical Director",
        RATIONALE,
        "(LAc)",  # the reviewer's licence kind, from the roster
    ):
        assert expected in html, expected
    assert "DRAFT" not in html
    assert "Independent Review Organization sent" not in html
    assert html.index("4610.6(h)") > html.index(RATIONALE)  # the appeal rights follow the reasons
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_pdf_is_tagged_titled_authored_and_dated_on_its_issue(api: Api) -> None:
    number = _issued(api)
    html = api.call("coordinator", "GET", f"/api/cases/{number}/letter.html").text
    pdf = api.call("coordinator", "GET", f"/api/cases/{number}/letter.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    data = pdf.content
    assert b"/StructTreeRoot" in data and b"/MarkInfo" in data and b"/StructParents" in data
    assert re.search(rb"/Lang \(en-US\)", data)
    doc = pdfium.PdfDocument(data)
    try:
        meta = doc.get_metadata_dict()
        text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()
    title = re.search(r"<title>(.*?)</title>", html)[1]
    assert meta["Title"] == title == f"Independent Medical Review Final Determination, case {number}"
    assert meta["Author"] and meta["Author"] != "(anonymous)"
    created = meta["CreationDate"]
    assert created.startswith(f"D:{TODAY:%Y%m%d}") and not created.startswith("D:2000")
    assert number in meta["Subject"]
    assert "4610.6(h)" in text and "Jordan Example" in text and LONG_DATE in text


def test_the_published_form_stays_and_parses_back(api: Api, tmp_path: Path) -> None:
    number = _issued(api)
    record = api.call("coordinator", "GET", f"/api/cases/{number}/letter").json()
    published_form = {"form": "published"}
    published = api.call("coordinator", "GET", f"/api/cases/{number}/letter.pdf", params=published_form)
    path = tmp_path / f"{number}.pdf"
    path.write_bytes(published.content)
    back = parse_file(path).to_json_dict()
    same = {"file", "claimant"}  # the claimant's sex is read from the summary, which states none here
    assert {k: v for k, v in back.items() if k not in same} == {
        k: v for k, v in record.items() if k not in same
    }
    html = api.call("coordinator", "GET", f"/api/cases/{number}/letter.html", params=published_form).text
    assert "Jordan Example" not in html and "4610.6" not in html  # redacted, as published
    doc = pdfium.PdfDocument(published.content)
    try:
        meta = doc.get_metadata_dict()
    finally:
        doc.close()
    assert meta["Title"] == re.search(r"<title>(.*?)</title>", html)[1]
    assert meta["CreationDate"].startswith(f"D:{TODAY:%Y%m%d}") and meta["Author"] != "(anonymous)"
    assert api.call("coordinator", "GET", f"/api/cases/{number}/letter.html?form=nope").status_code == 422


def test_a_draft_says_so_and_has_no_pdf(api: Api) -> None:
    number, reviewer = _assigned(api)
    body = {"decision": "Upheld", "guideline": MTUS, "rationale": RATIONALE}
    assert api.call(reviewer, "PUT", f"/api/cases/{number}/items/1/decision", json=body).status_code == 200
    assert "DRAFT: not issued" in api.call("coordinator", "GET", f"/api/cases/{number}/letter.html").text
    assert api.call("coordinator", "GET", f"/api/cases/{number}/letter.pdf").status_code == 404


@pytest.mark.parametrize("rationale", ["No.", "Denied", "  Not necessary.  ", "12."])
def test_a_rationale_shorter_than_a_sentence_is_refused_by_the_api(api: Api, rationale: str) -> None:
    number, reviewer = _assigned(api)
    body = {"decision": "Upheld", "guideline": MTUS, "rationale": rationale}
    answer = api.call(reviewer, "PUT", f"/api/cases/{number}/items/1/decision", json=body)
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("rationale:") and "sentence" in answer.json()["message"]
    (item,) = api.call(reviewer, "GET", f"/api/cases/{number}/items").json()
    assert item["decision"] is None


def test_a_rationale_shorter_than_a_sentence_is_refused_by_the_page(api: Api) -> None:
    number, reviewer = _assigned(api)
    client = api.client
    csrf = sign_in(client, reviewer)
    guideline = f"{MTUS} <b>as typed</b>"
    form = {"decision": "Overturned", "guideline": guideline, "rationale": "No.", "csrf_token": csrf}
    answer = client.post(f"/cases/{number}/items/1/decide", data=form)
    assert answer.status_code == 422
    assert 'id="problem-1">Not saved: rationale:' in answer.text and "shorter than a sentence" in answer.text
    # the case page again, its form as the reviewer wrote it (escaped), nothing saved
    assert '<form method="post" action="/cases/' in answer.text
    assert 'value="Overturned" checked' in answer.text and ">No.</textarea>" in answer.text
    assert "&lt;b&gt;as typed&lt;/b&gt;" in answer.text and "<b>as typed" not in answer.text
    assert client.get(f"/api/cases/{number}/items").json()[0]["decision"] is None


def test_with_no_organization_set_the_letter_still_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NAME", "ADDRESS", "PHONE", "WEB", "SIGNATORY", "SIGNATORY_TITLE"):
        monkeypatch.delenv(f"OPENIMR_ORG_{name}", raising=False)
    html = render_sent(_letter(), Sending(), "html", Organization(), TODAY)
    assert "The independent review organization sent this dispute" in html
    assert "Independent Review Organization sent" not in html
    assert "Medical Director, Independent Medical Review" in html


def test_the_organization_settings_make_the_letterhead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENIMR_ORG_NAME", "Golden Coast IMR")
    monkeypatch.setenv("OPENIMR_ORG_ADDRESS", "1 Review Way; Sacramento, CA 95814")
    monkeypatch.setenv("OPENIMR_ORG_PHONE", "(916) 555-0100")
    monkeypatch.setenv("OPENIMR_ORG_SIGNATORY", "Dr. Lee Park")
    org = Organization()
    sending = Sending(addressees=(Addressee("Injured worker", "<b>Pat</b>", ["1 <i>Main</i> St"]),))
    html = render_sent(_letter(), sending, "html", org, TODAY)
    assert '<p class="sender">Golden Coast IMR</p>' in html and "<p>Sacramento, CA 95814</p>" in html
    assert "Telephone (916) 555-0100" in html and "Dr. Lee Park<br>Medical Director, Golden Coast IMR" in html
    assert "&lt;b&gt;Pat&lt;/b&gt;" in html and "<i>" not in html  # escaped
    assert "Golden Coast IMR guideline:" in html
    pdf = pdfium.PdfDocument(render_sent(_letter(), sending, "pdf", org, TODAY))
    try:
        assert pdf.get_metadata_dict()["Author"] == "Golden Coast IMR"
        assert pdf.get_metadata_dict()["CreationDate"].startswith("D:20160401")  # the letter's decision date
    finally:
        pdf.close()


def test_the_ineligibility_notice_is_a_letter_in_html_and_pdf(api: Api) -> None:
    number = next(c["case_number"] for c in api.cases("coordinator") if c["status"] == "ineligible")
    client = api.client
    sign_in(client, "coordinator")
    page = client.get(f"/cases/{number}/notice")
    assert page.status_code == 200
    assert f'src="/cases/{number}/notice.html"' in page.text
    assert f'href="/cases/{number}/notice.pdf"' in page.text
    html = client.get(f"/cases/{number}/notice.html")
    assert html.status_code == 200
    assert html.headers["content-security-policy"].startswith("default-src 'none'")
    title = re.search(r"<title>(.*?)</title>", html.text)[1]
    assert title == f"Notice of Ineligibility for Independent Medical Review, case {number}"
    assert "<time datetime=" in html.text and "Sincerely," in html.text
    assert re.search(r"<ol class=\"reasons\">\s*<li>[^<]+\(", html.text)  # each reason with its citation
    pdf = client.get(f"/cases/{number}/notice.pdf")
    assert pdf.status_code == 200 and b"/StructTreeRoot" in pdf.content
    doc = pdfium.PdfDocument(pdf.content)
    try:
        assert doc.get_metadata_dict()["Title"] == title
    finally:
        doc.close()
    open_case = next(c["case_number"] for c in api.cases("coordinator") if c["status"] != "ineligible")
    assert client.get(f"/cases/{open_case}/notice.pdf").status_code == 422
    client.cookies.clear()
    sign_in(client, "analyst")
    assert client.get(f"/cases/{number}/notice.pdf").status_code == 403
    client.cookies.clear()
    # the API gives the same letter to a token
    for suffix, kind in (("html", "text/html"), ("pdf", "application/pdf")):
        answer = api.call("coordinator", "GET", f"/api/cases/{number}/notice.{suffix}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(kind)
    assert title in api.call("coordinator", "GET", f"/api/cases/{number}/notice.html").text
    assert api.call("coordinator", "GET", f"/api/cases/{open_case}/notice.pdf").status_code == 422
    assert api.call("analyst", "GET", f"/api/cases/{number}/notice.html").status_code == 403


def test_the_application_signs_with_its_settings_organization(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENIMR_ORG_NAME", "Sierra Review Partners")
    monkeypatch.setenv("OPENIMR_ORG_WEB", "https://review.example")
    path = tmp_path / "web.db"
    shutil.copy(demo_db, path)
    app = create_app(f"sqlite:///{path}")
    try:
        with TestClient(app) as client:
            api = Api(client)
            number = _issued(api)
            html = api.call("coordinator", "GET", f"/api/cases/{number}/letter.html").text
            pdf = api.call("coordinator", "GET", f"/api/cases/{number}/letter.pdf").content
    finally:
        app.state.store.close()
    assert '<p class="sender">Sierra Review Partners</p>' in html and "https://review.example" in html
    assert "Medical Director, Sierra Review Partners" in html
    assert "The independent review organization, Sierra Review Partners, sent this dispute" in html
    doc = pdfium.PdfDocument(pdf)
    try:
        assert doc.get_metadata_dict()["Author"] == "Sierra Review Partners"
    finally:
        doc.close()
