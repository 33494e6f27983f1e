"""What the case lists and the audit log pages were asked for in their address: search, filters,
order and page, read from the query string and written back into links (pagination, tiles)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Query
from pydantic import BeforeValidator

from openimr.core.models import Priority
from openimr.core.process.workflow import Status

CASES_PER_PAGE = 25
ENTRIES_PER_PAGE = 50
Sort = Literal["due", "received", "number"]
SORTS: dict[str, str] = {"due": "Due date", "received": "Received", "number": "Case number"}
Standing = Literal["overdue", "at_risk"]
Show = Literal["", "open", "closed", "all"]  # the worklist's tabs ("": the page's default)


def _none_if_blank(value: Any) -> Any:
    """An empty query value as none: a filter form's "Any" option is no filter, not a bad value."""
    return None if value == "" else value


Blank = BeforeValidator(_none_if_blank)


def _link(path: str, values: dict[str, Any], defaults: dict[str, Any]) -> str:
    """*path* with each of *values* that is not its default in the query string."""
    query = {k: v for k, v in values.items() if v not in (None, "", defaults.get(k))}
    return f"{path}?{urlencode(query)}" if query else path


@dataclass(frozen=True)
class CaseQuery:
    """A case list's search, filters, order and page, as the address gives them."""

    q: str = ""
    status: Status | None = None
    standing: Standing | None = None
    priority: Priority | None = None
    reviewer: str = ""
    sort: Sort = "due"
    order: Literal["asc", "desc"] = "asc"
    show: Show = ""
    page: int = 1

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the list."""
        return bool(self.q or self.status or self.standing or self.priority or self.reviewer)

    def link(self, path: str, **changes: Any) -> str:
        """The address of this list on *path* with *changes* (back to page 1 unless a page is given)."""
        changed = replace(self, **{"page": 1, **changes})
        return _link(path, asdict(changed), asdict(CaseQuery()))


def case_query(
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[Status | None, Blank] = None,
    standing: Annotated[Standing | None, Blank] = None,
    priority: Annotated[Priority | None, Blank] = None,
    reviewer: Annotated[str, Query(max_length=40)] = "",
    sort: Sort = "due",
    order: Literal["asc", "desc"] = "asc",
    show: Show = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> CaseQuery:
    """The :class:`CaseQuery` of the request (a FastAPI dependency)."""
    return CaseQuery(q.strip(), status, standing, priority, reviewer.strip(), sort, order, show, page)


@dataclass(frozen=True)
class AuditQuery:
    """The audit log's filters (case, user, action) and page."""

    case: str = ""
    actor: str = ""
    action: str = ""
    page: int = 1

    def link(self, path: str, **changes: Any) -> str:
        changed = replace(self, **{"page": 1, **changes})
        return _link(path, asdict(changed), asdict(AuditQuery()))


def audit_query(
    case: Annotated[str, Query(max_length=16)] = "",
    actor: Annotated[str, Query(max_length=80)] = "",
    action: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> AuditQuery:
    """The :class:`AuditQuery` of the request (a FastAPI dependency)."""
    return AuditQuery(case.strip(), actor.strip(), action.strip(), page)


def pages(total: int, size: int) -> int:
    """How many pages *total* things fill, *size* a page (at least one)."""
    return max(1, math.ceil(total / size))
