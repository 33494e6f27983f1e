"""Who may do what: roles, password hashing, API tokens, sign-in sessions, CSRF tokens, and the
throttling of repeated failed sign-ins.

Four roles. An *admin* does everything but decide items and manages accounts; an *intake
coordinator* takes cases in, assigns them, issues letters and reads the audit log; a *reviewer*
sees and decides only the cases assigned to the reviewer code their account is bound to; an
*analyst* reads case lists, items and decisions without any claimant detail, and the corpus.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, func, select, text, update
from sqlalchemy.orm import Session

from openimr.core.dates import utc_now
from openimr.core.roles import Principal, Role
from openimr.services.access import ProcessError, Taken, record_audit
from openimr.services.settings import SignInSettings
from openimr.store.db import Store
from openimr.store.schema import ROLES, SessionRow, SignInFailureRow, TokenRow, UserRow

SESSION_COOKIE = "openimr_session"
LOGIN_CSRF_COOKIE = "openimr_login_csrf"
TOKEN_PREFIX = "oimr_"
HSTS = "max-age=31536000"
LAST_USED_EVERY = dt.timedelta(minutes=1)  # how stale a token's last use may get before it is written

_hasher = PasswordHasher()
# Verified against when the account does not exist, so an unknown name costs as long as a bad password.
_DUMMY_HASH = _hasher.hash("no such account")


def aware(moment: dt.datetime) -> dt.datetime:
    """*moment* marked as UTC when it has no zone (SQLite hands timestamps back without one)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a token or session id is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether *password* is the one *password_hash* was made from (None: no such account, checked
    against a dummy hash all the same, so that an unknown name costs as long as a bad password).

    It takes about 50 ms of CPU: call it outside any transaction, so that it holds no lock."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    s: Session, username: str, password: str, role: str, reviewer_code: str | None = None
) -> UserRow:
    """A new account; a reviewer account needs the roster code of the reviewer it acts as."""
    if role not in ROLES:
        raise ProcessError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if (role == Role.REVIEWER) != bool(reviewer_code):
        raise ProcessError("a reviewer account needs a reviewer code, and only a reviewer account has one")
    if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise Taken(f"the username {username!r} is taken")
    user = UserRow(
        username=username, role=role, password_hash=hash_password(password), reviewer_code=reviewer_code
    )
    s.add(user)
    s.flush()
    return user


def users(s: Session) -> list[UserRow]:
    """Every account, by username."""
    return list(s.scalars(select(UserRow).order_by(UserRow.username)))


def set_active(s: Session, who: Principal, user_id: int, active: bool) -> UserRow:
    """Enable or disable the account *user_id* (never *who*'s own); disabling ends its sessions and
    revokes its API tokens for good (enabling it again revives none). A ProcessError says why not."""
    user = s.get(UserRow, user_id)
    if user is None:
        raise ProcessError(f"no account {user_id}")
    if user.id == who.id:
        raise ProcessError("you cannot disable the account you are signed in with")
    if user.active != active:
        what = "enable" if active else "disable"
        record_audit(
            s, who.username, None, "user", user.username, what, {"active": user.active}, {"active": active}
        )
    user.active = active
    if not active:
        end_access(s, user.id)
    return user


def end_access(s: Session, user_id: int) -> dict[str, int]:
    """End every sign-in session of the account and revoke its live API tokens for good; how many
    of each (``sessions_ended``, ``tokens_revoked``), for the audit log."""
    sessions = s.execute(delete(SessionRow).where(SessionRow.user_id == user_id)).rowcount
    live = (TokenRow.user_id == user_id) & TokenRow.revoked_at.is_(None)
    tokens = s.execute(update(TokenRow).where(live).values(revoked_at=utc_now())).rowcount
    return {"sessions_ended": sessions, "tokens_revoked": tokens}


def replace_password(s: Session, user: UserRow, password_hash: str) -> dict[str, int]:
    """Give *user* the password of *password_hash* and end all their access made with the old one
    (:func:`end_access`); what was ended."""
    user.password_hash = password_hash
    return end_access(s, user.id)


@dataclass(frozen=True)
class Attempt:
    """A sign-in's outcome: the account and what *then* made for it, or none; when throttled or
    when too many sign-ins run at once (*busy*), the seconds to wait."""

    user: UserRow | None
    retry_after: int = 0
    result: str | None = None
    busy: bool = False

    @property
    def refusal(self) -> str:
        """Why a throttled or busy attempt was refused, in words."""
        why = "too many sign-ins at once" if self.busy else "too many failed sign-ins"
        return f"{why}: try again in {self.retry_after} seconds"


class Gate:
    """At most *limit* sign-ins checking a password at once in this process; :meth:`enter` refuses
    one over the bound at once instead of queueing it (a flood then costs a refusal, not a thread)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    def enter(self) -> bool:
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()


BUSY_RETRY_S = 1  # what a sign-in refused for lack of a free slot is told to wait


def _wait(s: Session, which: ColumnElement[bool], limit: int, cfg: SignInSettings, now: dt.datetime) -> int:
    """Seconds until the failures matching *which* allow another attempt (0: now)."""
    count, last = s.execute(select(func.count(), func.max(SignInFailureRow.at)).where(which)).one()
    if count < limit:
        return 0
    delay = min(cfg.delay_s * 2 ** min(count - limit, 64), cfg.max_delay_s)
    return max(0, math.ceil((aware(last) + dt.timedelta(seconds=delay) - now).total_seconds()))


def _serialize(s: Session, *keys: str) -> None:
    """Hold, until the transaction ends, a lock on each of *keys*, so that concurrent sign-ins for
    the same account or address count and record their attempts one after another. On SQLite the
    transaction's first write (the pruning) already holds the database's write lock; on PostgreSQL
    these are transaction-level advisory locks, taken in one order so that two never deadlock."""
    if s.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        lock = "SELECT pg_advisory_xact_lock(hashtext(:key || coalesce(current_schema(), '')))"
        s.execute(text(lock), {"key": f"openimr.sign_in:{key}"})


def sign_in(
    store: Store,
    username: str,
    password: str,
    address: str,
    cfg: SignInSettings,
    via: str,
    then: Callable[[Session, UserRow], str],
    slots: Gate | None = None,
) -> Attempt:
    """Check *password* for *username* from *address*, unless either has failed too often lately;
    on success ``then(session, user)`` (a new token or session) is the attempt's ``result``.

    Three steps, each audited: a short transaction counts the recent failures of the account and of
    the address (under a lock on each) and, when neither is throttled, records this attempt as a
    failure before it is checked, so concurrent attempts count one another and an account is
    checked at most its limit of times; then the password is checked outside any transaction (no
    lock held through argon2); then a second short transaction records the outcome (a success
    deletes the account's failures, this attempt's included). *slots* bounds the checks at once:
    with none free the attempt is refused at once (``busy``) and nothing is written.
    """
    if slots is not None and not slots.enter():
        return Attempt(None, BUSY_RETRY_S, busy=True)
    try:
        now = cfg.clock()
        name, address = username[:80], address[:64]
        with store.transaction() as s:
            s.execute(
                delete(SignInFailureRow).where(SignInFailureRow.at < now - dt.timedelta(seconds=cfg.window_s))
            )
            _serialize(s, f"user:{name}", f"address:{address}")
            wait = max(
                _wait(s, SignInFailureRow.username == name, cfg.max_failures, cfg, now),
                _wait(s, SignInFailureRow.address == address, cfg.max_address_failures, cfg, now),
            )
            if wait:
                after = {"via": via, "retry_after": wait}
                record_audit(s, name, None, "sign_in", address, "throttled", None, after)
                return Attempt(None, wait)
            account = s.execute(
                select(UserRow.id, UserRow.password_hash).where(UserRow.username == username, UserRow.active)
            ).first()
            s.add(SignInFailureRow(at=now, username=name, address=address))
        matches = password_matches(account.password_hash if account else None, password)
        with store.transaction() as s:
            user = s.get(UserRow, account.id) if matches and account else None
            if user is None or not user.active:
                record_audit(s, name, None, "sign_in", address, "failed", None, {"via": via})
                return Attempt(None)
            s.execute(delete(SignInFailureRow).where(SignInFailureRow.username == name))
            record_audit(s, name, None, "sign_in", address, "signed_in", None, {"via": via})
            return Attempt(user, result=then(s, user))
    finally:
        if slots is not None:
            slots.leave()


def issue_token(s: Session, user: UserRow, name: str, cfg: SignInSettings) -> str:
    """A new API token for *user*, valid for ``cfg.token_days``; only its digest is kept, so this
    is the one time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = cfg.clock()
    expires = now + dt.timedelta(days=cfg.token_days)
    s.add(TokenRow(user_id=user.id, digest=digest(token), name=name, created_at=now, expires_at=expires))
    return token


def tokens_of(s: Session, user_id: int) -> list[TokenRow]:
    """The account's tokens that are not revoked (expired ones included), oldest first."""
    query = select(TokenRow).where(TokenRow.user_id == user_id, TokenRow.revoked_at.is_(None))
    return list(s.scalars(query.order_by(TokenRow.id)))


def revoke_token(s: Session, who: Principal, token_id: int, now: dt.datetime) -> bool:
    """Revoke *who*'s token *token_id* (audited); False when they have no such live token."""
    row = s.get(TokenRow, token_id)
    if row is None or row.user_id != who.id or row.revoked_at is not None:
        return False
    row.revoked_at = now
    record_audit(s, who.username, None, "api_token", str(token_id), "revoked", None, {"name": row.name})
    return True


def _principal(user: UserRow, via: Literal["token", "session"], csrf: str | None = None) -> Principal:
    return Principal(user.id, user.username, Role(user.role), user.reviewer_code, via, csrf)


def from_token(s: Session, token: str, now: dt.datetime | None = None) -> Principal | None:
    """The account of a live token (not revoked, not expired, account active), noting its use."""
    now = now or utc_now()
    row = s.scalar(select(TokenRow).where(TokenRow.digest == digest(token), TokenRow.revoked_at.is_(None)))
    if row is None or not row.user.active or aware(row.expires_at) <= now:
        return None
    if row.last_used_at is None or aware(row.last_used_at) < now - LAST_USED_EVERY:
        row.last_used_at = now
    return _principal(row.user, "token")


def open_session(s: Session, user: UserRow, cfg: SignInSettings) -> str:
    """Start a sign-in session lasting ``cfg.session_hours`` (and drop expired ones); returns the
    cookie value."""
    value = secrets.token_urlsafe(32)
    now = cfg.clock()
    s.execute(delete(SessionRow).where(SessionRow.expires_at <= now))
    expires = now + dt.timedelta(hours=cfg.session_hours)
    s.add(
        SessionRow(digest=digest(value), user_id=user.id, csrf=secrets.token_urlsafe(32), expires_at=expires)
    )
    return value


def from_session(s: Session, cookie: str) -> Principal | None:
    row = s.get(SessionRow, digest(cookie))
    if row is None or not row.user.active or aware(row.expires_at) <= utc_now():
        return None
    return _principal(row.user, "session", row.csrf)


def close_session(s: Session, cookie: str) -> None:
    s.execute(delete(SessionRow).where(SessionRow.digest == digest(cookie)))


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two secrets, False when either is missing."""
    return bool(a and b) and hmac.compare_digest(str(a), str(b))


def change_password(
    store: Store,
    username: str,
    old: str,
    new: str,
    address: str,
    cfg: SignInSettings,
    then: Callable[[Session, UserRow, str], str],
    slots: Gate | None = None,
) -> Attempt:
    """Check *old* as a sign-in of *username* would be (throttled, audited, one of *slots*: a wrong
    one counts as a failed sign-in); when it matches, ``then(session, user, new_hash)`` replaces the
    password in the same transaction and makes the attempt's ``result`` (a new session or token).

    The new password is hashed first, in the same slot, so both argon2 runs count against the bound
    and neither holds a lock."""
    if slots is not None and not slots.enter():
        return Attempt(None, BUSY_RETRY_S, busy=True)
    try:
        new_hash = hash_password(new)
        return sign_in(
            store, username, old, address, cfg, "password_change", lambda s, u: then(s, u, new_hash)
        )
    finally:
        if slots is not None:
            slots.leave()
