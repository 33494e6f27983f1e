"""Who may do what: the roles, the actions, each role's permissions, and the signed-in principal.

What each role may see is built on these in :mod:`openimr.services.views`; this module is the one
place that says which role may do which action.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    """An account's role."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    REVIEWER = "reviewer"
    ANALYST = "analyst"


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
    READ_GUIDELINES = "read_guidelines"
    MANAGE_USERS = "manage_users"


_STAFF = frozenset(Action) - {Action.DECIDE, Action.MANAGE_USERS}
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: _STAFF | {Action.MANAGE_USERS},
    Role.COORDINATOR: _STAFF,
    Role.REVIEWER: frozenset(
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
            Action.READ_GUIDELINES,
        }
    ),
    Role.ANALYST: frozenset(
        {
            Action.LIST_CASES,
            Action.READ_CASE,
            Action.READ_REVIEWERS,
            Action.PARSE_LETTERS,
            Action.SEARCH_CORPUS,
            Action.READ_GUIDELINES,
        }
    ),
}
ROLE_NAMES: dict[Role, str] = {
    Role.ADMIN: "Administrator",
    Role.COORDINATOR: "Intake coordinator",
    Role.REVIEWER: "Expert reviewer",
    Role.ANALYST: "Analyst (read-only)",
}


@dataclass(frozen=True)
class Principal:
    """The signed-in account a request acts for, and how it proved it."""

    id: int
    username: str
    role: Role
    reviewer_code: str | None
    via: Literal["token", "session", "command line"]
    csrf: str | None = None

    def can(self, action: Action) -> bool:
        """Whether this account's role may do *action*: the one permission check."""
        return action in PERMISSIONS[self.role]

    @property
    def role_name(self) -> str:
        """The role as people read it."""
        return ROLE_NAMES[self.role]
