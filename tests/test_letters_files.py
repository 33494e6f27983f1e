"""The letter commands on hostile files: FIFOs, links, folders, huge files, encodings, a missing period.

Every letter here is our own wording, built by :func:`letter`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from openimr.core.letters.errors import LetterError
from openimr.core.letters.extract import MAX_TEXT
from openimr.core.letters.parse import MAX_ISSUES, NO_FINAL_PERIOD, parse_file, read_file
from openimr.core.models import Letter
from openimr.store import ingest
from openimr.store.db import Store, make_engine, session_factory
from openimr.store.schema import LetterRow

OPENIMR = str(Path(sys.executable).with_name("openimr"))
ISSUE = """Ergonomic chair number {n} for the office: Upheld
Claims Administrator guideline: Decision based on MTUS Low Back Complaints.
MAXIMUS guideline: Decision based on MTUS Low Back Complaints.
Decision rationale: The file shows the worker sits for short spells only, so a chair is not needed.
"""


def letter(
    issues: int = 1, case: str | None = None, last: str = "a heat wrap is not medically necessary."
) -> str:
    """A small letter in the real layout (a header only with *case*); *last* ends its last rationale."""
    head = f"Case Number: {case}\nDecision Date: 03/04/2021\n" if case else ""
    body = "".join(ISSUE.format(n=n) for n in range(1, issues))
    return (
        f"{head}HOW THE IMR FINAL DETERMINATION WAS MADE\n"
        "A physician who has no tie to either side looked through the whole file.\n"
        "The Expert Reviewer has the following credentials:\n"
        "State(s) of Licensure: Nevada\n"
        "Certification(s)/Specialty: Family Medicine\n"
        "CLINICAL CASE SUMMARY\n"
        "The injured worker is a 38 year old man who strained his back moving café tables.\n"
        "IMR ISSUES, DECISIONS AND RATIONALES\n"
        "The decisions are:\n"
        f"{body}"
        "Heat wrap for the lower back: Upheld\n"
        "Claims Administrator guideline: Decision based on MTUS Low Back Complaints.\n"
        "MAXIMUS guideline: Decision based on MTUS Low Back Complaints.\n"
        f"Decision rationale: No home heat plan is written down, so {last}\n"
    )


def openimr(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command line in a subprocess: a regression that blocks (a FIFO opened) fails, not hangs."""
    return subprocess.run([OPENIMR, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def lines(stderr: str, kind: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"{kind}: ")]


def stored_files(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return sorted(session.scalars(select(LetterRow.file)))
    finally:
        engine.dispose()


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.txt"
    path.write_text(letter(case="CM99-0000101"), encoding="utf-8")
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_fifo_is_refused_without_being_opened(tmp_path: Path, good: Path, jobs: str) -> None:
    fifo = tmp_path / "x.pdf"
    os.mkfifo(fifo)
    result = openimr("letters", "parse", str(fifo), str(good), "--jobs", jobs)
    assert result.returncode == 1
    assert lines(result.stderr, "error") == [f"error: {fifo}: a FIFO (named pipe), not a letter file"]
    assert [json.loads(line)["file"] for line in result.stdout.splitlines()] == ["good.txt"]


def test_a_fifo_in_a_batch_to_ingest_is_an_error_and_the_rest_is_stored(tmp_path: Path, good: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = openimr("letters", "ingest", str(fifo), str(good), "--db", url)
    assert result.returncode == 1
    assert lines(result.stderr, "error") == [f"error: {fifo}: a FIFO (named pipe), not a letter file"]
    assert "1 stored, 0 already stored, 1 failed" in result.stderr
    assert stored_files(url) == ["good.txt"]


def test_named_links_to_nothing_and_link_loops_are_errors(tmp_path: Path, good: Path) -> None:
    (tmp_path / "loop1.pdf").symlink_to(tmp_path / "loop2.pdf")
    (tmp_path / "loop2.pdf").symlink_to(tmp_path / "loop1.pdf")
    (tmp_path / "gone.pdf").symlink_to(tmp_path / "missing.pdf")
    result = openimr("letters", "parse", "loop1.pdf", "gone.pdf", "good.txt", cwd=tmp_path)
    assert result.returncode == 1
    assert lines(result.stderr, "error") == [
        "error: loop1.pdf: symbolic link loop",
        f"error: gone.pdf: dangling symbolic link (to {tmp_path / 'missing.pdf'})",
    ]
    assert len(result.stdout.splitlines()) == 1


def test_every_folder_entry_not_read_is_reported_with_why(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "older").mkdir(parents=True)
    (folder / "older" / "nested.txt").write_text(letter(case="CM99-0000102"))
    (folder / "a.txt").write_text(letter(case="CM99-0000103"))
    (folder / "b.pdf").symlink_to(folder / "nowhere.pdf")
    (folder / "c.txt").symlink_to(folder / "d")
    (folder / "d").symlink_to(folder / "c.txt")
    os.mkfifo(folder / "e.pdf")
    (folder / "notes.md").write_text("to do\n")
    result = openimr("letters", "parse", "in", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["file"] for line in result.stdout.splitlines()] == ["a.txt"]
    assert lines(result.stderr, "skipped") == [
        f"skipped: in/b.pdf: dangling symbolic link (to {folder / 'nowhere.pdf'})",
        "skipped: in/c.txt: symbolic link loop",
        "skipped: in/d: symbolic link loop",
        "skipped: in/e.pdf: a FIFO (named pipe), not a letter file",
        "skipped: in/notes.md: not a .pdf or .txt file",
        "skipped: in/older: sub-folder, not read (name it to read its letters)",
    ]
    named = openimr("letters", "parse", "in/older", cwd=tmp_path)
    assert [json.loads(line)["file"] for line in named.stdout.splitlines()] == ["nested.txt"]


@pytest.mark.parametrize("command", ["parse", "ingest"])
def test_no_letter_file_at_all_exits_2_and_says_so(tmp_path: Path, command: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.md").write_text("nothing here\n")
    db = ["--db", f"sqlite:///{tmp_path / 'store.db'}"] if command == "ingest" else []
    result = openimr("letters", command, "empty", "notes", *db, cwd=tmp_path)
    assert result.returncode == 2
    assert lines(result.stderr, "error") == [
        "error: no letter files (.pdf, .txt) in empty, notes: nothing to do"
    ]
    assert "Exit status" in openimr("letters", command, "--help").stdout


def test_a_text_file_too_large_for_one_letter_is_refused_and_not_stored(tmp_path: Path, good: Path) -> None:
    huge = tmp_path / "huge.txt"
    text = letter(case="CM99-0000104")
    huge.write_text(text * (MAX_TEXT // len(text) + 1))
    with pytest.raises(LetterError, match=r"file too large for one letter \(2\.0 MB; at most 2 MB\)"):
        parse_file(huge)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = openimr("letters", "ingest", str(huge), str(good), "--db", url)
    assert result.returncode == 1
    assert lines(result.stderr, "error") == [
        f"error: {huge}: file too large for one letter (2.0 MB; at most 2 MB)"
    ]
    assert stored_files(url) == ["good.txt"]


def test_a_letter_with_an_implausible_number_of_issues_is_refused(tmp_path: Path) -> None:
    most = tmp_path / "most.txt"
    most.write_text(letter(issues=MAX_ISSUES))
    assert len(parse_file(most).issues) == MAX_ISSUES
    many = tmp_path / "many.txt"
    many.write_text(letter(issues=MAX_ISSUES + 1))
    with pytest.raises(LetterError, match=f"{MAX_ISSUES + 1} disputed items: more than one letter holds"):
        parse_file(many)


ENCODINGS = {
    "utf8.txt": lambda text: text.encode("utf-8"),
    "latin1.txt": lambda text: text.encode("latin-1"),
    "bom-crlf.txt": lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"),
    "utf16.txt": lambda text: text.encode("utf-16"),
    "spaced.txt": lambda text: text.replace(" ", "  ").replace("\n", " \n").encode("utf-8"),
}


def test_one_letter_in_several_encodings_reads_the_same_and_is_stored_once(tmp_path: Path) -> None:
    text = letter()  # no case number: the store keys it by its text
    for name, encode in ENCODINGS.items():
        (tmp_path / name).write_bytes(encode(text))
    records = {name: parse_file(tmp_path / name).model_dump(exclude={"file"}) for name in ENCODINGS}
    assert all(record == records["utf8.txt"] for record in records.values())
    assert "café" in records["latin1.txt"]["clinical_summary"]
    assert len({read_file(tmp_path / name).source_hash for name in ENCODINGS}) == 1

    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = openimr("letters", "ingest", *(str(tmp_path / n) for n in ENCODINGS), "--db", url)
    assert result.returncode == 0, result.stderr
    assert f"1 stored, {len(ENCODINGS) - 1} already stored, 0 failed" in result.stderr
    assert stored_files(url) == ["utf8.txt"]


def test_a_complete_letter_without_a_final_period_is_kept_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "no-period.txt"
    path.write_text(letter(case="CM99-0000105", last="a heat wrap is not medically necessary"))
    parsed = read_file(path)
    assert parsed.letter.issues[-1].rationale.endswith("is not medically necessary")
    assert parsed.warnings == (NO_FINAL_PERIOD,)
    with_period = tmp_path / "period.txt"
    with_period.write_text(letter())
    assert read_file(with_period).warnings == ()

    result = openimr("letters", "parse", str(path))
    assert result.returncode == 0, result.stderr
    assert lines(result.stderr, "warning") == [f"warning: {path}: {NO_FINAL_PERIOD}"]
    url = f"sqlite:///{tmp_path / 'store.db'}"
    stored = openimr("letters", "ingest", str(path), "--db", url)
    assert stored.returncode == 0, stored.stderr
    assert lines(stored.stderr, "warning") == [f"warning: {path}: {NO_FINAL_PERIOD}"]
    assert "1 stored, 0 already stored, 0 failed" in stored.stderr
    assert stored_files(url) == ["no-period.txt"]


@pytest.mark.parametrize("last", ["a heat wrap is not", "a heat wrap is the", "the wrap,"])
def test_a_letter_cut_off_on_a_word_no_sentence_ends_with_is_refused(tmp_path: Path, last: str) -> None:
    path = tmp_path / "cut.txt"
    path.write_text(letter(last=last))
    with pytest.raises(LetterError, match="cut off"):
        parse_file(path)


def test_a_letter_the_database_refuses_is_rolled_back_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "notes.md").write_text("not a letter\n")
    for n in range(3):
        (folder / f"{n}.txt").write_text(letter(case=f"CM99-000020{n}"))
    real = ingest.store_letter

    def refuse_the_second(conn: Connection, record: Letter, source_hash: str) -> bool:
        stored = real(conn, record, source_hash)  # its rows are written, then the database refuses
        if record.file == "1.txt":
            raise IntegrityError("INSERT", {}, ValueError("CHECK constraint failed"))
        return stored

    monkeypatch.setattr(ingest, "store_letter", refuse_the_second)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url) as store:
        report = ingest.ingest_paths([folder], store.engine)
    assert report.stored == ["CM99-0000200", "CM99-0000202"]
    assert report.errors == [
        f"{folder / '1.txt'}: the database refused the letter (ValueError: CHECK constraint failed)"
    ]
    assert report.skipped == [f"{folder / 'notes.md'}: not a .pdf or .txt file"]
    assert stored_files(url) == ["0.txt", "2.txt"]
