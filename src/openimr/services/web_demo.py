"""Demo data for the web: the process demo, more open cases, and an account for every role.

The process demo (:mod:`openimr.services.demo`) carries its example cases all the way to letters;
the same examples are taken in again with earlier and later dates so that the dashboard and the
worklists have open cases (overdue, at risk, awaiting a reviewer), and the demo letter corpus
(:mod:`openimr.services.demo_corpus`, invented letters) gives Statistics, search and the similar
past decisions something to show. Only an empty database gets cases; the accounts and the demo
letters are added whenever missing.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from openimr.core.roles import Role
from openimr.services import accounts as auth
from openimr.services import demo as examples
from openimr.services import demo_corpus
from openimr.services.cases import CaseService, operator
from openimr.store.schema import CaseRow, UserRow

PASSWORD = "demo"
STAFF = (
    ("admin", Role.ADMIN.value),
    ("coordinator", Role.COORDINATOR.value),
    ("analyst", Role.ANALYST.value),
)


def accounts() -> list[tuple[str, str, str | None]]:
    """(username, role, reviewer code) of every demo account; all have the password ``demo``."""
    reviewers = [(r.code.lower(), Role.REVIEWER.value, r.code) for r in examples.REVIEWERS]
    return [(name, role, None) for name, role in STAFF] + reviewers


def load(cases: CaseService, today: dt.date, corpus: bool = True) -> bool:
    """Load the demo into *cases*' store if it has no case; add missing accounts and (with
    *corpus*) the demo letters. True if the cases were loaded.

    The cases are taken in and carried on by ``openimr-web`` (as the audit log names it)."""
    with cases.store.transaction() as s:
        for username, role, code in accounts():
            if s.scalar(select(UserRow.id).where(UserRow.username == username)) is None:
                auth.create_user(s, username, PASSWORD, role, code)
        empty = not s.scalar(select(func.count()).select_from(CaseRow))
    if corpus:
        demo_corpus.load(cases.store, today)
    if not empty:
        return False
    who = operator("openimr-web")
    with tempfile.TemporaryDirectory() as tmp:
        examples.run(cases, who, Path(tmp), today)  # closed cases with their letters
    for days_ago in (24, 9):  # open cases: overdue or close to due, and in review
        for example in examples.examples(today - dt.timedelta(days=days_ago)):
            cases.create_case(who, example.case)
        cases.assign(who, None, today)
    for example in examples.examples(today)[:3]:  # awaiting a reviewer
        cases.create_case(who, example.case.model_copy(update={"application_received": today}))
    return True
