"""The process on SQLite and PostgreSQL: migration, racing decisions, frozen letters, crash safety,
idempotent operations, and the CLI end to end."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

import openimr.store.schema as ptables
from openimr.cli import app
from openimr.core.errors import ImmutableError
from openimr.core.process.workflow import TransitionError
from openimr.core.roles import Principal
from openimr.services import demo
from openimr.services.cases import CaseService, ConflictError, operator
from openimr.store.db import Store, make_engine
from openimr.store.schema import AuditRow, Base, IssuedLetterRow

TODAY = dt.date.today()
MTUS = "Decision based on MTUS Acupuncture Medical Treatment Guidelines."
PROCESS_TABLES = {t.name for t in Base.metadata.sorted_tables if t.name in {
    "cases", "case_parties", "disputed_items", "document_blobs", "case_documents", "reviewers",
    "assignments", "item_decisions", "issued_letters", "audit_log"}}  # fmt: skip


TESTER = operator("tester")


@pytest.fixture
def process(db_url: str):
    store = Store.open(db_url)
    yield CaseService(store)
    store.close()


def _assigned_seed_case(process: CaseService) -> str:
    """The seed-like example case, taken in and assigned; returns its number."""
    process.import_reviewers(TESTER, demo.REVIEWERS)
    created = process.create_case(TESTER, demo.examples(TODAY)[0].case)
    assert created.created
    number = created.case_number
    (outcome,) = process.assign(TESTER, [number], TODAY)
    assert outcome.reviewer == "LAC-01"
    return number


def _decided(process: CaseService) -> str:
    number = _assigned_seed_case(process)
    process.decide(
        TESTER, number, 1, "Upheld", MTUS, "Twelve visits exceed the trial the guidelines support."
    )
    return number


def _status(process: CaseService, number: str) -> str:
    return next(c.status for c in process.list_cases(TESTER, TODAY).items if c.case_number == number)


def test_migration_matches_the_models(process: CaseService) -> None:
    with process.store.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"include_object": lambda _o, n, k, _r, _c: k != "table" or n in PROCESS_TABLES}
            ),
            Base.metadata,
        )
    assert diff == []


def test_racing_decisions_one_wins_the_other_conflicts_and_both_are_audited(db_url: str) -> None:
    store = Store.open(db_url)
    first = second = CaseService(store)
    number = _assigned_seed_case(first)
    # Both read the undecided item (version 0) and decide it at once.
    barrier, results = threading.Barrier(2), {}

    def decide(who: Principal, decision: str) -> None:
        barrier.wait()
        try:
            done = first.decide(who, number, 1, decision, MTUS, f"{decision} by {who.username}.", None, 0)
            results[who.username] = done.version
        except ConflictError as exc:
            results[who.username] = exc

    reviewer_a, reviewer_b = operator("reviewer-a"), operator("reviewer-b")
    threads = [
        threading.Thread(target=decide, args=a) for a in ((reviewer_a, "Upheld"), (reviewer_b, "Overturned"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = sorted(results.values(), key=lambda r: isinstance(r, ConflictError))
    assert outcomes[0] == 1 and isinstance(outcomes[1], ConflictError)
    assert "someone else decided it" in str(outcomes[1])
    actions = [(a.actor, a.action) for a in first.audit_log(TESTER, number).items if a.entity == "decision"]
    winner = next(actor for actor, r in results.items() if r == 1)
    loser = next(actor for actor in results if actor != winner)
    assert actions == [(winner, "decide"), (loser, "decide_conflict")]
    assert _status(first, number) == "decided"
    # With the version it now has, the loser may replace the decision.
    assert second.decide(reviewer_b, number, 1, "Overturned", MTUS, "Seen it again.", None, 1).version == 2
    store.close()


def test_the_same_decision_again_is_a_no_op(process: CaseService) -> None:
    number = _decided(process)
    before = process.audit_log(TESTER, number).total
    assert (
        process.decide(
            TESTER, number, 1, "Upheld", MTUS, "Twelve visits exceed the trial the guidelines support."
        ).version
        == 1
    )
    assert process.audit_log(TESTER, number).total == before


def test_an_issued_letter_cannot_be_changed(process: CaseService, db_url: str) -> None:
    number = _decided(process)
    letter, created = process.issue(TESTER, number, TODAY)
    assert created and letter.issues[0].decision == "Upheld" and letter.reviewer.specialties
    again, created = process.issue(TESTER, number, TODAY + dt.timedelta(days=3))
    assert not created and again == letter
    with pytest.raises(TransitionError):
        process.decide(TESTER, number, 1, "Overturned", MTUS, "Too late to change.", None, 1)
    with process.store.sessions() as s:
        row = s.scalar(select(IssuedLetterRow))
        row.record = {**row.record, "issues": []}
        with pytest.raises(ImmutableError):
            s.flush()
    engine = make_engine(db_url)
    for sql in (
        "UPDATE issued_letters SET sha256 = 'x'",
        "DELETE FROM issued_letters",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    engine.dispose()
    assert process.issue(TESTER, number, TODAY)[0] == letter


def test_a_crash_between_decision_and_letter_leaves_a_consistent_state(db_url: str, tmp_path: Path) -> None:
    store = Store.open(db_url)
    process = CaseService(store)
    number = _decided(process)
    # Issue in a child process that is killed after the letter row is written, before commit.
    script = tmp_path / "crash.py"
    script.write_text(
        "import datetime as dt, os, signal, sys\n"
        "from openimr.services import cases as service\n"
        "from openimr.store.db import Store\n"
        "original = service.CaseService._move\n"
        "def move(self, s, who, case, target):\n"
        "    if target == 'letter_issued':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    original(self, s, who, case, target)\n"
        "service.CaseService._move = move\n"
        "cases = service.CaseService(Store.open(sys.argv[1]))\n"
        "cases.issue(service.operator('crasher'), sys.argv[2], dt.date.today())\n"
    )
    done = subprocess.run([sys.executable, str(script), db_url, number], capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()
    assert _status(process, number) == "decided"
    with process.store.sessions() as s:
        assert s.scalar(select(IssuedLetterRow)) is None
        assert not s.scalars(select(AuditRow).where(AuditRow.actor == "crasher")).all()
    assert process.issue(TESTER, number, TODAY)[1] and _status(process, number) == "letter_issued"
    store.close()


def test_deciding_needs_a_guideline_and_a_rationale_and_a_level_outside_mtus(process: CaseService) -> None:
    number = _assigned_seed_case(process)
    with pytest.raises(Exception, match="rationale: a decision needs its rationale"):
        process.decide(TESTER, number, 1, "Upheld", MTUS, " ")
    with pytest.raises(Exception, match="evidence level"):
        process.decide(TESTER, number, 1, "Upheld", "Decision based on ODG, Acupuncture.", "For our reasons.")
    with pytest.raises(TransitionError):
        process.issue(TESTER, number, TODAY)
    odg = "Decision based on ODG."
    assert process.decide(TESTER, number, 1, "Upheld", odg, "For our reasons.", "B").version == 1


def test_intake_and_roster_import_are_idempotent(process: CaseService) -> None:
    assert process.import_reviewers(TESTER, demo.REVIEWERS).created == len(demo.REVIEWERS)
    assert process.import_reviewers(TESTER, demo.REVIEWERS).unchanged == len(demo.REVIEWERS)
    changed = demo.REVIEWERS[0].model_copy(update={"capacity": 9})
    assert process.import_reviewers(TESTER, [changed]).updated == 1
    cases = demo.examples(TODAY)
    numbers = [process.create_case(TESTER, e.case).case_number for e in cases]
    again = [process.create_case(TESTER, e.case) for e in cases]
    assert [(c.case_number, c.created) for c in again] == [(n, False) for n in numbers]
    assert {c.status for c in process.list_cases(TESTER, TODAY).items} == {"records_requested", "ineligible"}
    assert process.assign(TESTER, None, TODAY) and process.assign(TESTER, None, TODAY) == []
    late = numbers[-1]
    assert "more than 30 days" in process.notice(TESTER, late)


def test_cli_end_to_end(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "code,name,licenses,specialties,active_practice_since,weekly_clinical_hours,affiliations,capacity\n"
        "LAC-9,Kim Lee,California:LAc:123:active,Licensed Acupuncturist,2005-01-01,30,,4\n"
        "LAC-8,Ann Roe,California:LAc:124:active,Licensed Acupuncturist,2005-01-01,30,Acme Insurance,4\n"
    )
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4 progress notes")
    case = demo.examples(TODAY)[0].case.model_dump(mode="json")
    case["parties"].append({"role": "claims_administrator", "name": "acme  insurance"})
    case["documents"] = [{"path": "notes.pdf", "type": "progress_notes", "received": TODAY.isoformat()}]
    (tmp_path / "case.json").write_text(json.dumps(case))

    def ok(*args: str) -> str:
        result = runner.invoke(app, [*args, "--db", db_url])
        assert result.exit_code == 0, result.output
        return result.output

    assert "2 created" in ok("reviewers", "import", str(roster))
    number = ok("cases", "create", str(tmp_path / "case.json")).split(":")[0]
    assert "already taken in" in ok("cases", "create", str(tmp_path / "case.json"))
    assigned = ok("cases", "assign", "--all")
    assert f"{number}: LAC-9" in assigned and "not LAC-8: conflict of interest" in assigned
    assert number in ok("cases", "list", "--status", "assigned")
    ok(
        "cases",
        "decide",
        number,
        "--item",
        "1",
        "--decision",
        "Upheld",
        "--guideline",
        MTUS,
        "--rationale",
        "Beyond the trial.",
    )
    clash = runner.invoke(
        app, ["cases", "decide", number, "--item", "1", "--decision", "Overturned", "--guideline", MTUS,
              "--rationale", "Within the trial.", "--db", db_url],
    )  # fmt: skip
    assert clash.exit_code == 3 and "conflict" in clash.output
    out = tmp_path / "letter.txt"
    ok("cases", "issue", number, "--format", "txt", "-o", str(out))
    assert "POSTOPERATIVE ACUPUNCTURE 2 X WEEK FOR 6 WEEKS: Upheld" in out.read_text()
    sent = tmp_path / "letter.html"
    ok("cases", "issue", number, "--format", "html", "-o", str(sent))  # the same letter, as sent
    assert "4610.6" in sent.read_text() and "appeal" in sent.read_text().lower()
    audit = [json.loads(line) for line in ok("cases", "audit", number).splitlines()]
    assert [a["action"] for a in audit if a["entity"] == "decision"] == ["decide", "decide_conflict"]
    assert audit[-1]["after"] == {"status": "letter_issued"}


def test_demo_writes_letters_and_runs_again_unchanged(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["demo", "--db", db_url, "--out", str(tmp_path / "letters")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    written = sorted(p.name for p in (tmp_path / "letters").iterdir())
    assert len([n for n in written if n.endswith(".pdf")]) == 3 and any(
        n.endswith("-notice.txt") for n in written
    )
    assert "letter_issued (LAC-01)" in first.output and "ineligible" in first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and second.output == first.output


def test_the_orm_refuses_to_touch_the_audit_log(process: CaseService) -> None:
    number = _assigned_seed_case(process)
    with process.store.sessions() as s:
        row = s.scalars(select(AuditRow).where(AuditRow.case_number == number)).first()
        s.delete(row)
        with pytest.raises(ptables.ImmutableError):
            s.flush()


def test_items_without_a_category_are_classified_by_the_request_parser(process: CaseService) -> None:
    pytest.importorskip("openimr.core.requests", reason="the request parser is not installed")
    process.import_reviewers(TESTER, demo.REVIEWERS)
    case = demo.examples(TODAY)[0].case.model_copy(deep=True)
    case.disputed_items[0].category = None
    number = process.create_case(TESTER, case).case_number
    (outcome,) = process.assign(TESTER, [number], TODAY)
    assert outcome.reviewer == "LAC-01"
    with process.store.sessions() as s:
        item = s.scalar(select(ptables.ItemRow))
        assert item.category == "acupuncture" and item.request["sessions"] == 12


def test_issuing_and_changing_a_decision_serialize_on_the_case(db_url: str) -> None:
    """Issue 27: a reviewer's change and the coordinator's issue, raced 200 times on each store. The
    issued letter always says what the stored decisions say; a decision that comes too late is refused
    (409) naming what the letter says, and is not recorded."""
    store = Store.open(db_url)
    service = CaseService(store)
    service.import_reviewers(TESTER, demo.REVIEWERS)
    example = demo.examples(TODAY)[0].case

    def change(number: str, results: dict, start: threading.Barrier, lag: float) -> None:
        start.wait()
        time.sleep(lag)
        try:
            service.decide(operator("reviewer"), number, 1, "Overturned", MTUS, "In the trial.", None, 1)
            results["decide"] = "ok"
        except (ConflictError, TransitionError) as exc:
            results["decide"] = str(exc)

    def issue(number: str, results: dict, start: threading.Barrier, lag: float) -> None:
        start.wait()
        time.sleep(lag)
        try:
            service.issue(operator("coordinator"), number, TODAY)
            results["issue"] = "ok"
        except ConflictError as exc:
            results["issue"] = str(exc)

    tally: dict[str, int] = {}
    for round_ in range(200):
        summary = f"{example.clinical_summary} Seen again, round {round_}."
        number = service.create_case(TESTER, example.model_copy(update={"clinical_summary": summary}))
        number = number.case_number
        service.assign(TESTER, [number], TODAY)
        service.decide(TESTER, number, 1, "Upheld", MTUS, "Twelve visits exceed the supported trial.")
        results: dict[str, str] = {}
        start = threading.Barrier(2)
        # Staggered, so that each side gets there first in some rounds however fast the machine is:
        # one side or the other waits 0 to 100 ms, by turns.
        lag = round_ // 2 % 6 * 0.02
        threads = [
            threading.Thread(target=change, args=(number, results, start, lag if round_ % 2 else 0)),
            threading.Thread(target=issue, args=(number, results, start, 0 if round_ % 2 else lag)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stored = [i.decision.decision for i in service.items(TESTER, number) if i.decision]
        letter, issued = service.letter(TESTER, number, TODAY)
        # Issuing waits for a decision in flight and never loses; a decision after it does.
        assert results["issue"] == "ok" and issued, results
        assert [i.decision for i in letter.issues] == stored, (number, results)
        if results["decide"] != "ok":
            assert stored == ["Upheld"], results
            assert (
                "letter is issued" in results["decide"]
                or "letter was issued meanwhile ('" in results["decide"]
            )
        tally[stored[0]] = tally.get(stored[0], 0) + 1
    assert set(tally) == {"Upheld", "Overturned"}, tally  # both orders happened
    store.close()
