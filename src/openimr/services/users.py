"""Accounts as operations: who a token or a session cookie is, signing in and out, API tokens, and
the managing of accounts, each in its own transaction and audited (the mechanics are in
:mod:`openimr.services.accounts`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from openimr.core.roles import Action, Principal, Role
from openimr.services import accounts as auth
from openimr.services import schemas as out
from openimr.services.access import Gate, NotFound, ProcessError
from openimr.store.schema import ReviewerRow, UserRow


class Users(Gate):
    """Accounts, sign-ins and API tokens."""

    def by_token(self, token: str) -> Principal | None:
        """The account of a live API token, or None."""
        with self._tx() as s:
            return auth.from_token(s, token)

    def by_session(self, cookie: str) -> Principal | None:
        """The account of a live sign-in session, or None."""
        with self._tx() as s:
            return auth.from_session(s, cookie)

    def sign_in(
        self,
        username: str,
        password: str,
        address: str,
        cfg: auth.SignInSettings,
        slots: auth.Gate | None,
        token_name: str | None = None,
    ) -> auth.Attempt:
        """Check a password (throttled, audited): its result is a new API token named *token_name*,
        or without one a new sign-in session's cookie value."""
        if token_name is None:
            then = lambda s, user: auth.open_session(s, user, cfg)  # noqa: E731
            via = "form"
        else:
            then = lambda s, user: auth.issue_token(s, user, token_name, cfg)  # noqa: E731
            via = "api"
        return auth.sign_in(self.store, username, password, address, cfg, via, then, slots)

    def sign_out(self, cookie: str) -> None:
        """End the session of *cookie* (none: nothing happens)."""
        with self._tx() as s:
            auth.close_session(s, cookie)

    def tokens(self, who: Principal) -> list[out.TokenInfo]:
        """*who*'s API tokens that are not revoked (expired ones too), oldest first."""
        with self._tx() as s:
            return [
                out.TokenInfo(
                    id=t.id,
                    name=t.name,
                    created=auth.aware(t.created_at),
                    expires=auth.aware(t.expires_at),
                    last_used=t.last_used_at and auth.aware(t.last_used_at),
                )
                for t in auth.tokens_of(s, who.id)
            ]

    def revoke_token(self, who: Principal, token_id: int, now: dt.datetime) -> None:
        """Revoke one of *who*'s API tokens (audited); :class:`NotFound` when they have no such one."""
        with self._tx() as s:
            revoked = auth.revoke_token(s, who, token_id, now)
        if not revoked:
            raise NotFound(f"you have no token {token_id}")

    def accounts(self, who: Principal) -> list[tuple[int, str, str, str | None, bool]]:
        """(id, username, role, reviewer code, active) of every account, by username (admins only)."""
        self.require(who, Action.MANAGE_USERS)
        with self._tx() as s:
            return [(u.id, u.username, u.role, u.reviewer_code, u.active) for u in auth.users(s)]

    def create(
        self, who: Principal, username: str, password: str, role: str, reviewer_code: str | None
    ) -> out.UserOut:
        """A new account (admins only), audited; a name in use is :class:`Taken` (409), any other
        problem (a reviewer code not on the roster among them) a :class:`ProcessError` (422)."""
        self.require(who, Action.MANAGE_USERS)
        with self._tx() as s:
            listed = select(ReviewerRow.id).where(ReviewerRow.code == reviewer_code)
            if role == Role.REVIEWER and reviewer_code and s.scalar(listed) is None:
                raise ProcessError(
                    f"reviewer code {reviewer_code} is not on the roster: import the reviewer first, "
                    "or use a code the Reviewers page lists"
                )
            user = auth.create_user(s, username, password, role, reviewer_code)
            after = {"role": role, "reviewer_code": reviewer_code}
            self._audit(s, who, None, "user", username, "create", None, after)
            return out.UserOut(username=user.username, role=user.role, reviewer_code=user.reviewer_code)

    def set_active(self, who: Principal, user_id: int, active: bool) -> str:
        """Enable or disable an account (admins only; never one's own), audited; its username."""
        self.require(who, Action.MANAGE_USERS)
        with self._tx() as s:
            return auth.set_active(s, who, user_id, active).username

    def change_password(
        self,
        who: Principal,
        old: str,
        new: str,
        address: str,
        cfg: auth.SignInSettings,
        slots: auth.Gate | None,
        token_name: str | None = None,
    ) -> auth.Attempt:
        """Change *who*'s own password: *old* is checked as a sign-in would be (throttled; a wrong one
        counts as a failed sign-in). Every session and API token of the account ends, the one this
        request came with included; the attempt's result is what replaces it: a new API token named
        *token_name*, or without one a new session's cookie value. Audited, never the password."""

        def then(s: Session, user: UserRow, new_hash: str) -> str:
            ended = auth.replace_password(s, user, new_hash)
            self._audit(s, who, None, "user", user.username, "password_changed", None, ended)
            if token_name is None:
                return auth.open_session(s, user, cfg)
            return auth.issue_token(s, user, token_name, cfg)

        return auth.change_password(self.store, who.username, old, new, address, cfg, then, slots)

    def reset_password(self, who: Principal, username: str, password: str) -> None:
        """Set a temporary password for someone else's account (admins only; one's own is changed
        with the current password instead); every session and API token of it ends. Audited, never
        the password."""
        self.require(who, Action.MANAGE_USERS)
        if username == who.username:
            raise ProcessError(
                "to change your own password, use Change password (it asks for the current one)"
            )
        new_hash = auth.hash_password(password)  # outside the transaction: argon2 holds no lock
        with self._tx() as s:
            user = s.scalar(select(UserRow).where(UserRow.username == username))
            if user is None:
                raise NotFound(f"no account {username}")
            if user.id == who.id:
                raise ProcessError(
                    "your own password is changed with Change password, which asks for the current one"
                )
            ended = auth.replace_password(s, user, new_hash)
            self._audit(s, who, None, "user", username, "password_reset", None, ended)
