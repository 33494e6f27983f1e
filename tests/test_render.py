"""Writing letters: every dev gold record round-trips through txt and PDF; escaping, gaps, settings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import typer
from typer.testing import CliRunner

from openimr.cli.render import register
from openimr.core.letters import layout
from openimr.core.letters.parse import parse_file
from openimr.core.models import Claimant, Issue, Letter, Reviewer
from openimr.services.render import TXT_WIDTH, decision_line, render


def _letter(**changes: object) -> Letter:
    """A small letter of our own making (never text from the real letters)."""
    letter = Letter(
        file="example.json",
        case_number="CM99-0000001",
        date_assigned=dt.date(2016, 3, 4),
        date_of_injury=dt.date(2014, 11, 2),
        decision_date=dt.date(2016, 4, 1),
        ur_denial_date=dt.date(2016, 2, 20),
        application_received=dt.date(2016, 2, 28),
        priority="Standard",
        reviewer=Reviewer(license_states=["California", "Nevada"], specialties=["Family Practice"]),
        claimant=Claimant(age=47, sex="female"),
        clinical_summary="The worker is a 47-year-old female who hurt her wrist lifting boxes at work. "
        "Splinting and home exercise helped only a little.",
        issues=[
            Issue(
                item="Wrist brace, purchase",
                decision="Overturned",
                claims_administrator_guideline="Decision based on MTUS Forearm, Wrist, and Hand Complaints.",
                imro_guideline="Decision based on MTUS Forearm, Wrist, and Hand Complaints.",
                rationale="A brace is a reasonable, low-risk next step. The request is medically necessary.",
            )
        ],
    )
    return letter.model_copy(update=changes)


@pytest.fixture
def cli() -> typer.Typer:
    """A bare app holding just the render command (the letters sub-app registers it the same way)."""
    app = typer.Typer()
    register(app)
    app.callback()(lambda: None)
    return app


@pytest.fixture(scope="module")
def gold(gold_path: Path) -> list[Letter]:
    return [Letter.model_validate_json(line) for line in gold_path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("fmt", ["txt", "pdf"])
def test_gold_records_round_trip(gold: list[Letter], fmt: str, tmp_path: Path) -> None:
    failures = []
    for record in gold:
        path = tmp_path / f"{Path(record.file).stem}.{fmt}"
        out = render(record, fmt)  # type: ignore[arg-type]
        path.write_bytes(out if isinstance(out, bytes) else out.encode())
        back = parse_file(path).to_json_dict()
        want = record.to_json_dict()
        diff = sorted(key for key in want if key != "file" and back[key] != want[key])
        if diff:
            failures.append(f"{record.file}: {', '.join(diff)}")
    assert not failures, f"{len(failures)} of {len(gold)} records changed in a {fmt} round trip: {failures}"


def test_txt_lines_fit_the_width(gold: list[Letter]) -> None:
    for record in gold:
        long = [line for line in render(record, "txt").splitlines() if len(line) > TXT_WIDTH]
        # Only a single unbreakable word may run past the width.
        assert all(" " not in line for line in long), (record.file, long)


def test_layout_order_dates_and_labels() -> None:
    text = render(_letter(), "txt")
    assert isinstance(text, str)
    anchors = [
        "Case Number: CM99-0000001",
        "Date Assigned: 03/04/2016",
        "Date of Injury: 11/02/2014",
        "Decision Date: 04/01/2016",
        "UR Denial Date: 02/20/2016",
        "Priority: Standard",
        "Application Received: 02/28/2016",
        layout.HEADING_HOW,
        layout.CREDENTIALS_INTRO,
        f"{layout.LICENSE_LABEL} California, Nevada",
        f"{layout.SPECIALTY_LABEL} Family Practice",
        layout.HEADING_SUMMARY,
        "The worker is a 47-year-old female",
        layout.HEADING_ISSUES,
        "Wrist brace, purchase: Overturned",
        layout.CA_GUIDELINE_LABEL,
        f"{layout.DEFAULT_ORGANIZATION} guideline:",
        layout.RATIONALE_LABEL,
    ]
    positions = [text.find(anchor) for anchor in anchors]
    assert -1 not in positions, [a for a, p in zip(anchors, positions, strict=True) if p < 0]
    assert positions == sorted(positions)


def test_partial_authorization_paragraph() -> None:
    issue = Issue(
        item="Physical therapy, 4 sessions",
        original_request="Physical therapy, 10 sessions",
        authorized="Physical therapy, 6 sessions",
        decision="Upheld",
    )
    assert decision_line(issue) == (
        "Physical therapy, 10 sessions was the original request. Physical therapy, 6 sessions was "
        "authorized by the Claims Administrator. The remaining IMR eligible portion of the original "
        "request, Physical therapy, 4 sessions is: Upheld"
    )


def test_html_escapes_text() -> None:
    issue = _letter().issues[0].model_copy(update={"item": "<script>alert(1)</script> & brace"})
    html = render(_letter(issues=[issue], clinical_summary='Pain "5/10" & <worse> at night.'), "html")
    assert isinstance(html, str)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; brace: Overturned" in html
    assert "Pain &#34;5/10&#34; &amp; &lt;worse&gt; at night." in html
    assert f'<h2 id="how">{layout.HEADING_HOW}</h2>' in html
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html


@pytest.mark.parametrize("fmt", ["txt", "pdf"])
def test_missing_optional_fields_are_left_out_and_read_back_as_null(fmt: str, tmp_path: Path) -> None:
    # A null rationale can round-trip anywhere but last: a letter whose last rationale is empty
    # reads as cut off, and the parser rightly refuses it.
    issues = [
        Issue(item="Knee MRI", decision="Upheld"),
        Issue(item="Cane", decision="Overturned", rationale="Fine."),
    ]
    letter = Letter(file="bare", issues=issues)
    text = render(letter, "txt")
    assert isinstance(text, str)
    assert not any(label in text for label in layout.HEADER_LABELS.values())
    assert layout.CREDENTIALS_INTRO not in text
    assert text.startswith(layout.HEADING_HOW)
    html = render(letter, "html")
    assert isinstance(html, str) and '<dl class="header">' not in html

    out = render(letter, fmt)  # type: ignore[arg-type]
    path = tmp_path / f"bare.{fmt}"
    path.write_bytes(out if isinstance(out, bytes) else out.encode())
    assert parse_file(path).model_copy(update={"file": "bare"}) == letter


def test_pdf_is_letter_size_and_readable() -> None:
    pdf = render(_letter(), "pdf")
    assert isinstance(pdf, bytes)
    doc = pdfium.PdfDocument(pdf)
    assert doc[0].get_size() == pytest.approx((612, 792))
    text = "\n".join(page.get_textpage().get_text_range() for page in doc)
    assert "Wrist brace, purchase: Overturned" in text and "Page 1 of 1" in text


def test_organization_is_a_setting(cli: typer.Typer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = render(_letter(), "txt", organization="Golden State Review")
    assert isinstance(text, str)
    assert "Golden State Review guideline: Decision based on MTUS" in text
    assert text.count("Golden State Review") == 2 and "MAXIMUS" not in text

    record = tmp_path / "record.json"
    record.write_text(json.dumps(_letter().to_json_dict()))
    monkeypatch.setenv("OPENIMR_ORGANIZATION", "Bay Review")
    result = CliRunner().invoke(cli, ["render", str(record)])
    assert result.exit_code == 0, result.output
    assert "Bay Review guideline:" in result.stdout

    out = tmp_path / "letter.pdf"
    result = CliRunner().invoke(
        cli, ["render", str(record), "--organization", "Coast IMR", "-f", "pdf", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = "\n".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(out))
    assert "Coast IMR guideline:" in text


def test_cli_reports_a_bad_record(cli: typer.Typer, tmp_path: Path) -> None:
    record = tmp_path / "bad.json"
    record.write_text("{}")
    result = CliRunner().invoke(cli, ["render", str(record)])
    assert result.exit_code == 1
    assert f"error: {record}: not a letter record" in result.stderr
