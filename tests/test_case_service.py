"""The one case service: it never changes the schema, the acting account comes with each call,
refusals name the case, and broken invariants are refused with the service's errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, select, update

from openimr.core.roles import Principal, Role
from openimr.services import demo
from openimr.services.cases import CaseService, Forbidden, ProcessError, operator
from openimr.store.db import Store
from openimr.store.schema import AuditRow, CaseRow

TODAY = dt.date.today()
TESTER = operator("tester")
ANALYST = Principal(id=7, username="ann", role=Role.ANALYST, reviewer_code=None, via="token")
COORDINATOR = Principal(id=8, username="cody", role=Role.COORDINATOR, reviewer_code=None, via="token")


@pytest.fixture
def cases(db_url: str) -> Iterator[CaseService]:
    store = Store.open(db_url)
    yield CaseService(store)
    store.close()


def _taken_in(cases: CaseService) -> str:
    cases.import_reviewers(TESTER, demo.REVIEWERS)
    return cases.create_case(TESTER, demo.examples(TODAY)[0].case).case_number


def _audit(cases: CaseService, number: str) -> list[AuditRow]:
    with cases.store.transaction() as s:
        return list(s.scalars(select(AuditRow).where(AuditRow.case_number == number).order_by(AuditRow.id)))


def test_the_service_never_changes_the_schema(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'bare.db'}")
    try:
        CaseService(store)
        assert inspect(store.engine).get_table_names() == []
    finally:
        store.close()


def test_one_service_acts_for_whoever_each_call_names(cases: CaseService) -> None:
    number = _taken_in(cases)
    cases.case(COORDINATOR, number, TODAY)
    cases.case(operator("someone-else"), number, TODAY)
    reads = [(r.actor, r.action) for r in _audit(cases, number) if r.entity == "case" and r.action == "read"]
    assert reads == [("cody", "read")]  # the command line holds the database: its reads are not audited
    assert {r.actor for r in _audit(cases, number) if r.action == "create"} == {"tester"}


def test_a_refused_change_is_audited_with_the_case_it_was_for(cases: CaseService) -> None:
    number = _taken_in(cases)
    with pytest.raises(Forbidden, match="an analyst"):
        cases.withdraw(ANALYST, number, "not theirs to close")
    with pytest.raises(Forbidden):
        cases.issue(ANALYST, number, TODAY)
    denied = [(r.actor, r.after) for r in _audit(cases, number) if r.action == "denied"]
    assert denied == [("ann", {"wanted": "withdraw"}), ("ann", {"wanted": "issue_letter"})]


def test_a_case_past_assignment_without_a_reviewer_is_refused_not_trusted(cases: CaseService) -> None:
    number = _taken_in(cases)
    with cases.store.transaction() as s:  # a broken row: decided, yet no assignment
        s.execute(update(CaseRow).where(CaseRow.case_number == number).values(status="decided"))
    with pytest.raises(ProcessError, match="has no reviewer assigned"):
        cases.issue(TESTER, number, TODAY)
    with cases.store.transaction() as s:
        s.execute(update(CaseRow).where(CaseRow.case_number == number).values(status="in_review"))
    with pytest.raises(ProcessError, match="has no reviewer assigned"):
        cases.decide(TESTER, number, 1, "Upheld", "Decision based on MTUS.", "For our reasons.")
