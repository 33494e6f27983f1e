"""The one gate: who acts (the :class:`~openimr.core.roles.Principal`, or :func:`operator` at
the command line), the one permission check (:meth:`Gate.require`), the one way to a case
(:meth:`Gate._open`), the audit writer (:func:`record_audit`) and the errors every operation
raises, each carrying how the adapters answer it (HTTP status, error code, exit code).

:meth:`Gate._open` checks the action, answers a case that is not a reviewer's own exactly like a
missing one (404), writes every refusal to the audit log (in a transaction of its own, kept when
the request's is rolled back) and audits the read. Every change is audited as well, naming who.
Every service (cases, decision support, documents, assignment, decisions, letters, the audit log,
the corpus, the guidelines) is a :class:`Gate` over one store, each operation ``op(who, ...)``
owning its transaction, check and audit.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from openimr.core.errors import OpenIMRError
from openimr.core.process import workflow
from openimr.core.process.workflow import Status
from openimr.core.roles import Action, Principal, Role
from openimr.store.db import Store
from openimr.store.schema import (
    AssignmentRow,
    AuditRow,
    CaseRow,
    ItemRow,
)


class ProcessError(OpenIMRError):
    """An operation that cannot be done as asked; the message says why (422)."""


class NotFound(ProcessError):
    """No such case, item, document or reviewer (or a case that is not the reader's to see)."""

    status, code = 404, "not_found"


class ConflictError(ProcessError):
    """Someone else changed the same thing first."""

    status, code, exit_code = 409, "conflict", 3


class Taken(ConflictError):
    """A name that must be unique is in use."""


class Forbidden(ProcessError):
    """The account may not do this (its role, or the case is not assigned to it)."""

    status, code = 403, "forbidden"


class Unavailable(ProcessError):
    """A part of OpenIMR this needs is not installed, or failed."""

    status, code = 503, "unavailable"


@dataclass(frozen=True)
class Operator(Principal):
    """Someone at the command line. They hold the database itself, so every action is theirs and
    only their changes (not their reads) are audited, under their name."""

    def can(self, action: Action) -> bool:
        return True


def operator(name: str | None = None) -> Operator:
    """The command line's actor, named by ``--as`` (default: the login name) in the audit log."""
    return Operator(0, name or getpass.getuser(), Role.ADMIN, None, "command line")


def record_audit(
    s: Session,
    who: Principal | str,
    case_number: str | None,
    entity: str,
    key: str,
    action: str,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """Append one row to the audit log (who, what, before and after) in the session's transaction:
    the one audit writer. *who* is the account acting, or the name tried (a failed sign-in)."""
    s.add(
        AuditRow(
            actor=who if isinstance(who, str) else who.username,
            case_number=case_number,
            entity=entity,
            entity_key=key,
            action=action,
            before=before,
            after=after,
        )
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def snapshot(row: Any, *fields: str) -> dict[str, Any]:
    """The named column values of *row*, JSON-ready."""
    return {f: _jsonable(getattr(row, f)) for f in fields}


def count_rows(session: Session, query: Select) -> int:
    """How many rows *query* returns, counted by the database (for a paged listing's total)."""
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def assigned(case: CaseRow) -> AssignmentRow:
    """The case's assignment; a case past assignment without one is refused, not trusted."""
    if case.assignment is None:
        raise ProcessError(f"case {case.case_number} has no reviewer assigned")
    return case.assignment


_CASE_LOAD = (  # one-to-one rows joined, collections one query each: 4 round trips for a whole case
    selectinload(CaseRow.items).joinedload(ItemRow.decision),
    selectinload(CaseRow.parties),
    selectinload(CaseRow.documents),
    joinedload(CaseRow.assignment).joinedload(AssignmentRow.reviewer),
    joinedload(CaseRow.letter),
)


class Gate:
    """The permission check, the audit log and the way to a case, over *store*: what every service
    is built on."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        try:
            with self.store.transaction() as session:
                yield session
        except StaleDataError as exc:
            raise ConflictError("the case was changed by someone else meanwhile; read it again") from exc

    def require(
        self, who: Principal, action: Action, number: str | None = None, what: str = "access"
    ) -> None:
        """Refuse (403) unless *who*'s role may do *action*; the refusal is written to the audit log."""
        if not who.can(action):
            self._refused(who, number, what, action)
            role = who.role_name.lower()
            article = "an" if role[0] in "aeiou" else "a"
            raise Forbidden(f"{article} {role} may not {action.value.replace('_', ' ')}")

    def _refused(self, who: Principal, number: str | None, what: str, action: Action) -> None:
        """Audit a refusal in a transaction of its own: it is kept although the request's is rolled back."""
        with self._tx() as s:
            self._audit(
                s, who, number, what, number or action.value, "denied", after={"wanted": action.value}
            )

    _audit = staticmethod(record_audit)

    def _read(
        self,
        s: Session,
        who: Principal,
        number: str | None,
        entity: str,
        key: str,
        action: str = "read",
        **after: Any,
    ) -> None:
        """Audit a read (or a listing): every account's is, the command line's is not."""
        if not isinstance(who, Operator):
            self._audit(s, who, number, entity, key, action, after=after or None)

    @staticmethod
    def _case(s: Session, number: str) -> CaseRow:
        case = s.scalar(select(CaseRow).where(CaseRow.case_number == number).options(*_CASE_LOAD))
        if case is None:
            raise NotFound(f"no case {number}")
        return case

    def _open(
        self,
        s: Session,
        who: Principal,
        number: str,
        action: Action,
        what: str = "case",
        read: str | None = "read",
    ) -> CaseRow:
        """The case, loaded whole, if *who* may do *action* on it; its *read* is audited (None: the
        operation audits its own change). A refusal is audited, and a case that is not a
        reviewer's own answers exactly like a missing one (404), so that a reviewer cannot tell
        which case numbers exist."""
        self.require(who, action, number, what)
        case = self._case(s, number)
        if who.role == Role.REVIEWER and (
            case.assignment is None or case.assignment.reviewer.code != who.reviewer_code
        ):
            self._refused(who, number, what, action)
            raise NotFound(f"no case {number}")
        if read:
            self._read(s, who, number, what, number, action=read)
        return case

    def _move(self, s: Session, who: Principal, case: CaseRow, target: Status) -> None:
        before = case.status
        case.status = workflow.check(before, target)
        s.flush()
        self._audit(
            s,
            who,
            case.case_number,
            "case",
            case.case_number,
            "transition",
            {"status": before},
            {"status": target},
        )
