"""The audit log as people read it: reads folded, changes field by field, and a CSV export.

:meth:`AuditLog.audit_log` reads the rows, checking who may read them (and auditing that read);
the rest works on rows already read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from openimr.core.labels import logged
from openimr.core.process.workflow import Status
from openimr.core.roles import Action, Principal
from openimr.services import schemas as out
from openimr.services.access import Gate, count_rows
from openimr.services.csvout import CsvWriter
from openimr.services.schemas import AuditOut
from openimr.store.schema import AuditRow, CaseRow

READ = "read"
WITHDRAW = "withdraw"  # the action Cases.withdraw logs, with the reason


def withdrawal(s: Session, case: CaseRow, who: Principal) -> out.WithdrawalOut | None:
    """Who withdrew *case*, when and why, from its audit log (None while it is not withdrawn); the
    reason, free text, only for a reader of claimant details."""
    if case.status != Status.WITHDRAWN:
        return None
    query = select(AuditRow).where(AuditRow.case_number == case.case_number, AuditRow.action == WITHDRAW)
    row = s.scalars(query.order_by(AuditRow.id.desc()).limit(1)).first()
    if row is None:
        return None
    reason = (row.after or {}).get("reason") if who.can(Action.SEE_CLAIMANT) else None
    return out.WithdrawalOut(by=row.actor, at=row.at, reason=reason)


CSV_COLUMNS = ("id", "at", "actor", "case_number", "entity", "key", "action", "before", "after")


def text(value: Any) -> str:
    """A logged value in words: text as it is, anything else as JSON with its characters kept."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Change:
    """One field of a logged change: its value before and after in words ("" where it had none)."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class Entry:
    """An audit row, or a run of consecutive reads by one account of one case folded into one."""

    first: AuditOut
    last: AuditOut
    count: int
    entities: tuple[str, ...]

    @property
    def changes(self) -> list[Change]:
        """Each field the row names, before → after (a folded run of reads has none)."""
        if self.count > 1:
            return []
        before, after = self.first.before or {}, self.first.after or {}
        fields = list(dict.fromkeys([*before, *after]))
        changes = (Change(f, logged(before.get(f), f), logged(after.get(f), f)) for f in fields)
        return [c for c in changes if c.before or c.after]  # a field empty before and after says nothing


def _folds(entry: Entry, row: AuditOut) -> bool:
    """Whether *row* continues *entry*'s run of reads: the same account reading the same case."""
    head = entry.first
    return (
        row.action == READ
        and head.action == READ
        and row.actor == head.actor
        and row.case_number == head.case_number
        and (row.case_number is not None or row.entity == head.entity)
    )


def fold(rows: Iterable[AuditOut]) -> list[Entry]:
    """*rows* in order, each run of consecutive reads by one account of one case as one entry with a
    count (a letter's page, its PDF and the case behind it read at once count as one)."""
    entries: list[Entry] = []
    for row in rows:
        if entries and _folds(entries[-1], row):
            run = entries[-1]
            entities = run.entities if row.entity in run.entities else (*run.entities, row.entity)
            entries[-1] = Entry(run.first, row, run.count + 1, entities)
        else:
            entries.append(Entry(row, row, 1, (row.entity,)))
    return entries


def write_csv(rows: Iterable[AuditOut], out: TextIO) -> None:
    """One line per audit row (none folded), values as JSON with their characters kept; a value
    that a spreadsheet would take for a formula (a document named ``=cmd()``) is quoted."""
    writer = CsvWriter(out, CSV_COLUMNS)
    for r in rows:
        at = r.at.astimezone(dt.UTC) if r.at.tzinfo else r.at
        values = (r.id, at.isoformat(), r.actor, r.case_number or "", r.entity, r.key, r.action)
        writer.row([*values, text(r.before), text(r.after)])


class AuditLog(Gate):
    """The audit log, read by those who may."""

    def audit_log(
        self,
        who: Principal,
        number: str | None,
        limit: int | None = None,
        offset: int = 0,
        actor: str | None = None,
        action: str | None = None,
    ) -> out.AuditPage:
        """Every read and change of the case (None: of the whole site), oldest first, only those by
        *actor* and of *action* if given; this read too is audited."""
        with self._tx() as s:
            if number is None:
                self.require(who, Action.READ_AUDIT, None, "audit")
                self._read(s, who, None, "audit", "all")
                query = select(AuditRow)
            else:
                self._open(s, who, number, Action.READ_AUDIT, "audit")
                query = select(AuditRow).where(AuditRow.case_number == number)
            if actor:
                query = query.where(AuditRow.actor == actor)
            if action:
                query = query.where(AuditRow.action == action)
            total = count_rows(s, query)
            rows = s.scalars(query.order_by(AuditRow.id).limit(limit).offset(offset))
            items = [
                out.AuditOut(
                    id=r.id,
                    at=r.at,
                    actor=r.actor,
                    case_number=r.case_number,
                    entity=r.entity,
                    key=r.entity_key,
                    action=r.action,
                    before=r.before,
                    after=r.after,
                )
                for r in rows
            ]
        return out.AuditPage(items=items, total=total, limit=total if limit is None else limit, offset=offset)
