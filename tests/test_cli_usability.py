"""The command line for people: quiet broken pipes, plain messages, the roster's format and list,
choices instead of free text, and letters that name no real review organization by default."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openimr.cli import app
from openimr.core.letters.parse import parse_text
from openimr.core.models import Claimant, Issue, Letter, Reviewer
from openimr.services.render import render

OPENIMR = Path(sys.executable).with_name("openimr")
ROSTER = Path(__file__).resolve().parents[1] / "examples" / "roster.csv"
HEADER = "code,name,licenses,specialties,active_practice_since,weekly_clinical_hours,affiliations,capacity\n"


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args), prog_name="openimr")


def _ok(*args: str) -> str:
    result = _run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def demo_db(db: str, tmp_path: Path) -> str:
    """A database the demo carried through the whole process: some cases' letters are issued."""
    _ok("demo", "--db", db, "--out", str(tmp_path / "letters"))
    return db


def _into_closed_pipe(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run openimr with stdout a pipe whose reader is gone, as after ``| head -1`` has exited.

    (Closing the read end first makes every write fail, where a real ``head`` may still be
    reading when the command ends.)
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [str(OPENIMR), *args],
            input=stdin.encode() if stdin else None,
            stdout=write_end,
            stderr=subprocess.PIPE,
            check=False,
        )
    finally:
        os.close(write_end)


def test_a_closed_pipe_ends_a_command_quietly() -> None:
    items = "Norco 10/325mg #120\nAcupuncture 2x6 for the lumbar spine\n"
    writer = _into_closed_pipe(["requests", "parse", "--file", "-"], items)
    assert writer.stderr == b""
    assert writer.returncode == 141


def test_a_closed_pipe_ends_a_database_command_quietly(db: str, tmp_path: Path) -> None:
    roster = [
        {
            "code": f"R-{n:05}",
            "name": f"Reviewer {n}",
            "licenses": [{"state": "California", "kind": "MD", "number": f"A-{n}"}],
            "specialties": ["Family Practice"],
            "active_practice_since": "2010-01-01",
            "weekly_clinical_hours": 20,
        }
        for n in range(3)
    ]
    (tmp_path / "roster.json").write_text(json.dumps(roster))
    _ok("reviewers", "import", str(tmp_path / "roster.json"), "--db", db)
    writer = _into_closed_pipe(["reviewers", "list", "-f", "json", "--db", db])
    assert writer.stderr == b"" and writer.returncode == 141


def test_search_without_hits_says_so(db: str) -> None:
    _ok("db", "upgrade", "--db", db)  # an empty store (search creates none)
    result = _run("search", "acupuncture", "--mode", "text", "--decision", "Upheld", "--db", db)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.strip() == "no decision matches 'acupuncture' (decision=Upheld)"


def _letter(number: str, item: str, rationale: str) -> Letter:
    """A small letter of our own words, to search."""
    return Letter(
        file=f"{number}.txt",
        case_number=number,
        date_assigned=dt.date(2019, 3, 4),
        date_of_injury=dt.date(2018, 11, 2),
        decision_date=dt.date(2019, 4, 1),
        ur_denial_date=dt.date(2019, 2, 20),
        application_received=dt.date(2019, 2, 28),
        priority="Standard",
        reviewer=Reviewer(license_states=["California"], specialties=["Family Practice"]),
        claimant=Claimant(age=50, sex="male"),
        clinical_summary="The worker is a 50-year-old male who strained his back moving furniture.",
        issues=[
            Issue(
                item=item,
                decision="Upheld",
                claims_administrator_guideline="Decision based on MTUS Low Back Complaints.",
                imro_guideline="Decision based on MTUS Low Back Complaints.",
                rationale=rationale,
            )
        ],
    )


def test_search_shows_rank_and_relevance_not_raw_scores(db: str, tmp_path: Path) -> None:
    for number, item, why in [
        ("CM99-0000011", "Acupuncture, 12 visits", "Acupuncture acupuncture helps little after so long."),
        ("CM99-0000012", "Lumbar MRI", "No red flags; acupuncture was tried once before imaging."),
    ]:
        (tmp_path / f"{number}.txt").write_text(str(render(_letter(number, item, why), "txt")))
    result = _run("letters", "ingest", str(tmp_path), "--db", db)
    assert result.exit_code == 0, result.output
    table = _ok("search", "acupuncture", "--mode", "text", "--db", db)
    assert "rank" in table and "relevance" in table and "score" not in table
    rows = [line for line in table.splitlines() if "CM99-00000" in line]
    assert len(rows) == 2 and re.search(r"\b1\b.*\b100%", rows[0]) and re.search(r"\b2\b", rows[1])
    assert not re.search(r"\d\.\d{4}", table)


def test_deciding_after_the_letter_is_issued_says_decisions_are_final(demo_db: str) -> None:
    listing = _ok("cases", "list", "--status", "letter_issued", "--db", demo_db)
    number = re.search(r"CM\d{2}-\d{7}", listing).group()
    result = _run(
        "cases", "decide", number, "--item", "1", "--decision", "Overturned",
        "--guideline", "MTUS Chronic Pain", "--rationale", "Changed my mind.", "--db", demo_db,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "letter is issued" in result.stderr and "final" in result.stderr
    assert "someone else" not in result.stderr


def test_cases_issue_format_is_a_choice(demo_db: str) -> None:
    result = _run("cases", "issue", "CM00-0000001", "--format", "docx", "--db", demo_db)
    assert result.exit_code == 2
    assert "docx" in result.output and "txt" in result.output and "pdf" in result.output


def test_reviewers_list_shows_licences_specialties_capacity_and_open_cases(db: str) -> None:
    assert "4 created" in _ok("reviewers", "import", str(ROSTER), "--db", db)
    listed = json.loads(_ok("reviewers", "list", "-f", "json", "--db", db))
    casey = next(r for r in listed if r["code"] == "PM-01")
    assert casey == {
        "code": "PM-01",
        "name": "Casey Example, M.D.",
        "active_licenses": ["California:MD:A-100003", "Nevada:MD:NV-2003"],
        "specialties": ["Pain Medicine", "Anesthesiology"],
        "capacity": 10,
        "open_assignments": 0,
    }
    rows = _ok("reviewers", "list", "-f", "csv", "--db", db).splitlines()
    assert rows[0] == "code,name,active_licenses,specialties,capacity,open_assignments"
    assert (
        'ORT-01,"Riley Example, M.D.",California:MD:A-100002,Orthopedic Surgery;Sports Medicine,6,0' in rows
    )
    table = _ok("reviewers", "list", "--db", db)
    assert "Jordan Example" in table and max(len(line) for line in table.splitlines()) > 80  # not squeezed


def test_a_bad_roster_row_is_one_line_naming_row_and_field(db: str, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        HEADER
        + "OK-1,Pat Good,California:MD:1:active,Family Practice,2010-01-01,20,,5\n"
        + "BAD-2,Sam Bad,California:MD:2:lapsed,Family Practice,someday,20,,5\n"
    )
    _ok("db", "upgrade", "--db", db)
    result = _run("reviewers", "import", str(roster), "--db", db)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"error: {roster}: row 2: licenses.1.status: ")
    assert lines[1].startswith(f"error: {roster}: row 2: active_practice_since: ")
    assert "http" not in result.stderr
    assert json.loads(_ok("reviewers", "list", "-f", "json", "--db", db)) == []  # nothing imported


def test_a_roster_that_is_not_a_list_is_one_line(db: str, tmp_path: Path) -> None:
    roster = tmp_path / "roster.json"
    roster.write_text('{"code": "X"}')
    result = _run("reviewers", "import", str(roster), "--db", db)
    assert result.exit_code == 1
    assert result.stderr == f"error: {roster}: a JSON roster is a list of reviewer objects\n"


def test_every_case_argument_is_described() -> None:
    for command in ("decide", "issue", "notice", "withdraw", "audit", "assign"):
        page = _ok("cases", command, "--help")
        assert "The case number" in page or "Case numbers" in page, page


def test_letters_name_no_real_review_organization_by_default() -> None:
    letter = _letter("CM99-0000013", "Lumbar MRI", "Imaging is not needed yet.")
    text = str(render(letter, "txt"))
    assert "Independent Review Organization guideline:" in text and "MAXIMUS" not in text
    assert parse_text(text, "x.txt").issues[0].imro_guideline == "Decision based on MTUS Low Back Complaints."
    published = text.replace("Independent Review Organization guideline:", "MAXIMUS guideline:")
    assert parse_text(published, "x.txt").issues[0].imro_guideline == (
        "Decision based on MTUS Low Back Complaints."
    )
