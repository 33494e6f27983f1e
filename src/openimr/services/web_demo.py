"""Demo data for the web: the process demo, more open cases, and an account for every role.

The process demo (:mod:`openimr.services.demo`) carries its example cases all the way to letters;
the same examples are taken in again with earlier and later dates so that the dashboard and the
worklists have open cases (overdue, at risk, awaiting a reviewer). Only an empty database gets
cases; the accounts are added whenever missing.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from openimr.services import accounts as auth
from openimr.services import demo as examples
from openimr.services.desk import Desk
from openimr.store.schema import CaseRow, UserRow

PASSWORD = "demo"
STAFF = (("admin", "admin"), ("coordinator", "coordinator"), ("analyst", "analyst"))


def accounts() -> list[tuple[str, str, str | None]]:
    """(username, role, reviewer code) of every demo account; all have the password ``demo``."""
    reviewers = [(r.code.lower(), "reviewer", r.code) for r in examples.REVIEWERS]
    return [(name, role, None) for name, role in STAFF] + reviewers


def load(desk: Desk, today: dt.date) -> bool:
    """Load the demo into *desk*'s database if it has no case; add missing accounts. True if loaded."""
    with desk.tx() as s:
        for username, role, code in accounts():
            if s.scalar(select(UserRow.id).where(UserRow.username == username)) is None:
                auth.create_user(s, username, PASSWORD, role, code)
        empty = not s.scalar(select(func.count()).select_from(CaseRow))
    if not empty:
        return False
    process = desk.process
    with tempfile.TemporaryDirectory() as tmp:
        examples.run(process, Path(tmp), today)  # closed cases with their letters
    for days_ago in (24, 9):  # open cases: overdue or close to due, and in review
        for example in examples.examples(today - dt.timedelta(days=days_ago)):
            process.create_case(example.case)
        process.assign(None, today)
    for example in examples.examples(today)[:3]:  # awaiting a reviewer
        process.create_case(example.case.model_copy(update={"application_received": today}))
    return True
