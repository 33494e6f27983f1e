"""Who may do what: roles, password hashing, API tokens, sign-in sessions and CSRF tokens.

Four roles. An *admin* does everything but decide items and manages accounts; an *intake
coordinator* takes cases in, assigns them, issues letters and reads the audit log; a *reviewer*
sees and decides only the cases assigned to the reviewer code their account is bound to; an
*analyst* reads case lists, items and decisions without any claimant detail, and the corpus.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openimr.web.tables import ROLES, SessionRow, TokenRow, UserRow

SESSION_COOKIE = "openimr_session"
LOGIN_CSRF_COOKIE = "openimr_login_csrf"
SESSION_HOURS = 12
TOKEN_PREFIX = "oimr_"

_hasher = PasswordHasher()
# Verified against when the account does not exist, so an unknown name costs as long as a bad password.
_DUMMY_HASH = _hasher.hash("no such account")


class Action(StrEnum):
    """Everything the API and the pages let someone do."""

    LIST_CASES = "list_cases"
    READ_CASE = "read_case"
    SEE_CLAIMANT = "see_claimant"
    CREATE_CASE = "create_case"
    UPLOAD_DOCUMENT = "upload_document"
    READ_DOCUMENT = "read_document"
    ASSIGN = "assign"
    DECIDE = "decide"
    READ_RECOMMENDATIONS = "read_recommendations"
    ISSUE_LETTER = "issue_letter"
    READ_LETTER = "read_letter"
    WITHDRAW = "withdraw"
    READ_AUDIT = "read_audit"
    READ_REVIEWERS = "read_reviewers"
    WRITE_REVIEWERS = "write_reviewers"
    PARSE_LETTERS = "parse_letters"
    INGEST_LETTERS = "ingest_letters"
    SEARCH_CORPUS = "search_corpus"
    MANAGE_USERS = "manage_users"


_STAFF = frozenset(Action) - {Action.DECIDE, Action.MANAGE_USERS}
PERMISSIONS: dict[str, frozenset[Action]] = {
    "admin": _STAFF | {Action.MANAGE_USERS},
    "coordinator": _STAFF,
    "reviewer": frozenset(
        {
            Action.LIST_CASES,
            Action.READ_CASE,
            Action.SEE_CLAIMANT,
            Action.READ_DOCUMENT,
            Action.DECIDE,
            Action.READ_RECOMMENDATIONS,
            Action.READ_LETTER,
            Action.PARSE_LETTERS,
            Action.SEARCH_CORPUS,
        }
    ),
    "analyst": frozenset(
        {
            Action.LIST_CASES,
            Action.READ_CASE,
            Action.READ_REVIEWERS,
            Action.PARSE_LETTERS,
            Action.SEARCH_CORPUS,
        }
    ),
}
ROLE_NAMES = {
    "admin": "Administrator",
    "coordinator": "Intake coordinator",
    "reviewer": "Expert reviewer",
    "analyst": "Analyst (read-only)",
}
assert set(PERMISSIONS) == set(ROLES) == set(ROLE_NAMES)


@dataclass(frozen=True)
class Principal:
    """The signed-in account a request acts for, and how it proved it."""

    id: int
    username: str
    role: str
    reviewer_code: str | None
    via: Literal["token", "session"]
    csrf: str | None = None

    def can(self, action: Action) -> bool:
        return action in PERMISSIONS[self.role]

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a token or session id is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(s: Session, username: str, password: str) -> UserRow | None:
    """The active account *username* if *password* is its password, else None."""
    user = s.scalar(select(UserRow).where(UserRow.username == username, UserRow.active))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def create_user(
    s: Session, username: str, password: str, role: str, reviewer_code: str | None = None
) -> UserRow:
    """A new account; a reviewer account needs the roster code of the reviewer it acts as."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if (role == "reviewer") != bool(reviewer_code):
        raise ValueError("a reviewer account needs a reviewer code, and only a reviewer account has one")
    if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise ValueError(f"the username {username!r} is taken")
    user = UserRow(
        username=username, role=role, password_hash=hash_password(password), reviewer_code=reviewer_code
    )
    s.add(user)
    s.flush()
    return user


def issue_token(s: Session, user: UserRow, name: str) -> str:
    """A new API token for *user*; only its digest is kept, so this is the one time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    s.add(TokenRow(user_id=user.id, digest=digest(token), name=name))
    return token


def _principal(user: UserRow, via: Literal["token", "session"], csrf: str | None = None) -> Principal:
    return Principal(user.id, user.username, user.role, user.reviewer_code, via, csrf)


def from_token(s: Session, token: str) -> Principal | None:
    row = s.scalar(select(TokenRow).where(TokenRow.digest == digest(token)))
    return _principal(row.user, "token") if row and row.user.active else None


def open_session(s: Session, user: UserRow) -> str:
    """Start a sign-in session; returns the cookie value."""
    value = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=SESSION_HOURS)
    s.add(
        SessionRow(digest=digest(value), user_id=user.id, csrf=secrets.token_urlsafe(32), expires_at=expires)
    )
    return value


def from_session(s: Session, cookie: str) -> Principal | None:
    row = s.get(SessionRow, digest(cookie))
    if row is None or not row.user.active:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    if expires <= dt.datetime.now(dt.UTC):
        return None
    return _principal(row.user, "session", row.csrf)


def close_session(s: Session, cookie: str) -> None:
    s.execute(delete(SessionRow).where(SessionRow.digest == digest(cookie)))


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two secrets, False when either is missing."""
    return bool(a and b) and hmac.compare_digest(str(a), str(b))
