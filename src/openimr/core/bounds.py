"""The bounds of what people and files may give the system, in one place: the models refuse what
is outside them (a clear 422, never a database error) and the store sizes its columns by them.

Text never holds NUL (PostgreSQL refuses it in any text), and a name, code or label holds no
control character at all. Dates lie between :data:`FIRST_DATE` and :data:`LAST_DATE`, so that
every deadline computed from them is a date too. A case is bounded in its items and its text so
that reading it, deciding on it and drafting its letter stay cheap.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Annotated, Any

from pydantic import Field

# Lengths of the store's columns (characters); the models take no more.
CASE_NUMBER = 16
PARTY_ROLE = 32
PARTY_NAME = 200
ADDRESS = 500  # a party's postal address, lines separated by newlines
CLAIM_NUMBER = 40
SPECIALTY = 80
REVIEWER_CODE = 40
REVIEWER_NAME = 200
DOC_TYPE = 40
FILE_NAME_BYTES = 255
USERNAME = 80
PASSWORD = 200
TOKEN_NAME = 80
CATEGORY = 32

# Bounds of a case (the largest real IMR cases are a few dozen items and some pages of summary).
MAX_ITEMS = 50  # disputed items, and UR items, per case
MAX_PARTIES = 50
MAX_DOCUMENTS = 200
ITEM_TEXT = 2_000  # an item, its original request, what UR authorized, the guideline it cited
SUMMARY = 100_000  # the clinical summary
REASON = 2_000  # a withdrawal's reason, a decision's guideline
RATIONALE = 20_000
LIST_ENTRY = 200  # one specialty, affiliation or licence detail of a reviewer
MAX_LIST = 50  # entries in a reviewer's lists
MAX_ROSTER = 500  # reviewers imported at once
MAX_AGE = 130
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2200, 12, 31)

TEXT = r"^[^\x00]*$"  # prose: anything but NUL
LINE = r"^[^\x00-\x1f\x7f]*$"  # a name, code or label: no control character


def text(max_length: int, min_length: int = 0, pattern: str = TEXT) -> Any:
    """A string type of at most *max_length* characters (at least *min_length*) without NUL
    (*pattern* :data:`LINE`: without any control character)."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length, pattern=pattern)]


def line(max_length: int, min_length: int = 0) -> Any:
    """A one-line string type: a name, code or label."""
    return text(max_length, min_length, LINE)


Day = Annotated[
    dt.date, Field(ge=FIRST_DATE, le=LAST_DATE, description=f"A date from {FIRST_DATE} to {LAST_DATE}.")
]
Age = Annotated[int, Field(ge=0, le=MAX_AGE)]


def plain_file_name(name: str) -> bool:
    """Whether *name* is a usable file name: not empty, ``.`` or ``..``, at most
    :data:`FILE_NAME_BYTES` bytes of UTF-8, with no control or format character (NUL, a newline,
    the bidirectional overrides such as U+202E that make ``exe.pdf`` read ``fdp.exe``)."""
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        return False
    if len(name.encode("utf-8", "surrogatepass")) > FILE_NAME_BYTES:
        return False
    return all(unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name)
