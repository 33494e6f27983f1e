"""The audit log as people read it: reads folded, changes field by field, and a CSV export.

The rows come from :meth:`openimr.services.cases.CaseService.audit_log`, which checks who may read
them; nothing here reads the store.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from openimr.services.csvout import CsvWriter
from openimr.services.schemas import AuditOut

READ = "read"
CSV_COLUMNS = ("id", "at", "actor", "case_number", "entity", "key", "action", "before", "after")


def text(value: Any) -> str:
    """A logged value in words: text as it is, anything else as JSON with its characters kept."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Change:
    """One field of a logged change: its value before and after ("" where it had none)."""

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
        return [Change(f, text(before.get(f)), text(after.get(f))) for f in fields]


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
