"""Uploads are what their names say, or are refused with one line: a PDF that opens, a PNG, JPEG,
TIFF or GIF by its first bytes, UTF-8 text; never a .docx, an empty file or garbage. A document is
served with its own type, inline (the browser shows it), under nosniff and a strict CSP."""

from __future__ import annotations

import pytest

from helpers import a_pdf, csrf_token
from openimr.services.documents import NotADocument, media_type
from test_web_api import SEED_CASE, Api, api, first
from test_web_escaping import sign_in

__all__ = ["api"]  # the shared fixture

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 24
TIFF = b"II*\x00" + b"\x00" * 24
GIF = b"GIF89a" + b"\x00" * 24
DOCX = b"PK\x03\x04" + b"not really a word document" * 4

GOOD = [
    ("records.pdf", a_pdf(2), "application/pdf"),
    ("long-record.pdf", a_pdf(250), "application/pdf"),  # more pages than any letter: a record may
    ("scan.PNG", PNG, "image/png"),
    ("photo.jpeg", JPEG, "image/jpeg"),
    ("fax.tif", TIFF, "image/tiff"),
    ("chart.gif", GIF, "image/gif"),
    ("note.txt", "Progress note: wrist pain 6/10, Núñez.".encode(), "text/plain; charset=utf-8"),
]
HOSTILE = [
    ("letter.docx", DOCX, "not a kind of file the case record takes; send a PDF, an image"),
    ("empty.pdf", b"", "the file is empty"),
    ("fake.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 20, "the PDF does not open"),
    ("html.pdf", b"<html><script>alert(1)</script></html>", "the PDF does not open"),
    ("fake.png", GIF, "not the PNG image its name says"),
    ("fake.jpg", b"<svg onload=alert(1)>", "not the JPEG image its name says"),
    ("latin1.txt", "café".encode("latin-1"), "not a text file (it is not UTF-8 text)"),
    ("nul.txt", b"a\x00b", "not a text file (it holds NUL bytes)"),
    ("page.html", b"<html></html>", "not a kind of file"),
    ("noextension", b"hello", "not a kind of file"),
]


@pytest.mark.parametrize(("name", "content", "kind"), GOOD, ids=[g[0] for g in GOOD])
def test_a_file_that_is_what_its_name_says_is_taken_with_its_type(
    name: str, content: bytes, kind: str
) -> None:
    assert media_type(name, content) == kind


@pytest.mark.parametrize(("name", "content", "words"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_file_that_is_not_what_it_claims_is_refused_in_one_line(
    name: str, content: bytes, words: str
) -> None:
    with pytest.raises(NotADocument) as refused:
        media_type(name, content)
    message = str(refused.value)
    assert message.startswith(f"{name}: ") and words in message and "\n" not in message
    assert "PDFium" not in message and "Traceback" not in message


def test_the_api_refuses_hostile_uploads_and_stores_none(api: Api) -> None:
    number = first(api, "coordinator", "records_requested")
    path = f"/api/cases/{number}/documents"
    before = api.call("coordinator", "GET", path).json()
    for name, content, words in HOSTILE[:4]:
        answer = api.call("coordinator", "POST", path, files={"file": (name, content, "application/pdf")})
        assert answer.status_code == 422, name
        assert answer.json()["error"] == "unreadable" and words in answer.json()["message"]
    assert api.call("coordinator", "GET", path).json() == before


def test_a_reader_may_not_upload_even_a_good_file(api: Api) -> None:
    number = first(api, "coordinator", "records_requested")
    answer = api.call("analyst", "POST", f"/api/cases/{number}/documents", files={"file": ("a.pdf", a_pdf())})
    assert answer.status_code in (403, 404)


@pytest.mark.parametrize(("name", "content", "kind"), GOOD[:3] + GOOD[-1:], ids=["pdf", "png", "jpeg", "txt"])
def test_a_document_is_served_inline_with_its_type(api: Api, name: str, content: bytes, kind: str) -> None:
    number = first(api, "coordinator", "records_requested")
    path = f"/api/cases/{number}/documents"
    upload = api.call(
        "coordinator", "POST", path, files={"file": (name, content, "application/octet-stream")}
    )
    assert upload.status_code == 201, upload.text
    served = api.call("coordinator", "GET", f"{path}/{upload.json()['id']}")
    assert served.status_code == 200 and served.content == content
    assert served.headers["content-type"] == kind
    assert served.headers["content-disposition"].startswith(f'inline; filename="{name}"')
    assert served.headers["x-content-type-options"] == "nosniff"
    csp = served.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_the_case_page_upload_says_why_a_file_is_refused(api: Api) -> None:
    number = first(api, "coordinator", "records_requested")
    csrf = sign_in(api.client, "coordinator")
    answer = api.client.post(
        f"/cases/{number}/documents", data={"csrf_token": csrf}, files={"file": ("records.docx", DOCX)}
    )
    assert answer.status_code == 422
    assert "records.docx: not a kind of file the case record takes" in answer.text


def test_intake_refuses_a_hostile_record_beside_its_field_and_takes_no_case(api: Api) -> None:
    csrf = sign_in(api.client, "coordinator")
    before = len(api.cases("coordinator"))
    form = {
        "csrf_token": csrf,
        "application_received": SEED_CASE["application_received"],
        "ur_decision_date": SEED_CASE["ur_decision_date"],
        "item_1": "Acupuncture 2 x week for 3 weeks",
        "clinical_summary": "Wrist pain after a fall at work.",
    }
    files = [("documents", ("empty.pdf", b"")), ("documents", ("notes.docx", DOCX))]
    page = api.client.post("/intake", data=form, files=files)
    assert page.status_code == 422
    assert 'id="documents-error">empty.pdf: the file is empty; notes.docx: not a kind of file' in page.text
    assert "Medical records: empty.pdf: the file is empty" in page.text
    assert len(api.cases("coordinator")) == before
    sent_back = api.client.post(
        "/intake", data={**form, "claimant_age": "9"}, files=[("documents", ("records.pdf", a_pdf()))]
    )
    assert "Medical records: choose the files again" in sent_back.text  # a browser keeps no file
    taken = api.client.post(
        "/intake", data=form, files=[("documents", ("records.pdf", a_pdf()))], follow_redirects=False
    )
    assert taken.status_code == 303
    number = taken.headers["location"].split("/cases/")[1].split("?")[0]
    (document,) = api.call("coordinator", "GET", f"/api/cases/{number}/documents").json()
    assert document["name"] == "records.pdf"
    assert csrf_token(api.client.get("/intake").text)
