"""The case lists: the dashboard (by status and standing) and a reviewer's worklist."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from openimr.core.process.workflow import TERMINAL, Status
from openimr.core.roles import Action, Principal, Role
from openimr.services.cases import (
    BUSY,
    CaseService,
    CaseTally,
)
from openimr.services.schemas import CasePage
from openimr.web.base import (
    STATUS_ORDER,
    Cases,
    Who,
    render,
    router,
)
from openimr.web.listing import (
    CASES_PER_PAGE,
    SORTS,
    CaseQuery,
    case_query,
    pages,
)

# Lists ----------------------------------------------------------------------------------------


DASHBOARD_TITLES = {
    Role.ADMIN: "Administrator dashboard",
    Role.COORDINATOR: "Coordinator dashboard",
    Role.ANALYST: "Analyst overview",
}
ListQuery = Annotated[CaseQuery, Depends(case_query)]
WAITING_SHOWN = 20  # cases named under "Awaiting a reviewer"; the rest behind a link to the filtered list


def _case_page(
    cases: CaseService, who: Principal, today: dt.date, f: CaseQuery, statuses: Collection[Status] = ()
) -> CasePage:
    """One page of *who*'s cases as *f* asks, within *statuses* unless *f* names a status."""
    return cases.list_cases(
        who,
        today,
        f.status or statuses or None,
        (f.standing,) if f.standing else (),
        CASES_PER_PAGE,
        (f.page - 1) * CASES_PER_PAGE,
        priority=f.priority,
        reviewer=None if who.role == Role.REVIEWER else f.reviewer,
        search=f.q,
        sort=f.sort,
        descending=f.order == "desc",
    )


def _list_context(page: CasePage, f: CaseQuery, path: str, tally: CaseTally) -> dict[str, Any]:
    """What the case list's filter form, table and pager need."""
    return {
        "page": page,
        "f": f,
        "path": path,
        "pages": pages(page.total, CASES_PER_PAGE),
        "statuses": STATUS_ORDER,
        "sorts": SORTS,
        "reviewers": tally.reviewers,
    }


@router.get("/dashboard")
def dashboard(request: Request, who: Who, cases: Cases, f: ListQuery) -> Response:
    """Cases by state, due dates with overdue and at-risk cases marked, assignment with its reasons;
    the list searched, filtered, ordered and paged as the address asks."""
    if who.role == Role.REVIEWER:
        return RedirectResponse("/worklist", status_code=303)
    today = dt.date.today()
    tally = cases.tally(who, today)
    page = _case_page(cases, who, today, f)
    can_assign = who.can(Action.ASSIGN)
    waiting = tally.statuses[Status.RECORDS_REQUESTED]
    waiting_cases = (
        cases.list_cases(who, today, Status.RECORDS_REQUESTED, limit=WAITING_SHOWN).items
        if can_assign and waiting
        else []
    )
    return render(
        request,
        "dashboard.html.j2",
        who,
        today=today,
        title=DASHBOARD_TITLES[who.role],
        counts=[(s, tally.statuses[s]) for s in STATUS_ORDER if tally.statuses[s]],
        standing=tally.standings,
        waiting=waiting,
        waiting_cases=waiting_cases,
        can_assign=can_assign,
        **_list_context(page, f, "/dashboard", tally),
    )


WORKLIST_TABS: dict[str, tuple[str, Collection[Status]]] = {
    "open": ("To review", BUSY),
    "closed": ("Closed", TERMINAL),
    "all": ("All", ()),
}


@router.get("/worklist")
def worklist(request: Request, who: Who, cases: Cases, f: ListQuery) -> Response:
    """The cases assigned to the signed-in reviewer (everyone's for staff): to review, closed or
    all, searched, filtered, ordered and paged as the address asks."""
    today = dt.date.today()
    tally = cases.tally(who, today)
    show = f.show or "open"
    page = _case_page(cases, who, today, f, WORKLIST_TABS[show][1])
    tabs = [
        (key, label, sum(n for s, n in tally.statuses.items() if not within or s in within))
        for key, (label, within) in WORKLIST_TABS.items()
    ]
    return render(
        request,
        "worklist.html.j2",
        who,
        today=today,
        show=show,
        tabs=tabs,
        **_list_context(page, f, "/worklist", tally),
    )
