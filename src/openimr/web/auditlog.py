"""The audit log as pages: the site's, a case's, and the CSV export."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from openimr.core.roles import Principal
from openimr.services.audit import fold
from openimr.services.audit import write_csv as write_audit_csv
from openimr.services.cases import (
    CaseService,
)
from openimr.services.schemas import AuditOut
from openimr.web.base import (
    Cases,
    Who,
    attachment,
    render,
    router,
)
from openimr.web.listing import (
    ENTRIES_PER_PAGE,
    AuditQuery,
    audit_query,
    pages,
)

LogQuery = Annotated[AuditQuery, Depends(audit_query)]


def _audit_rows(cases: CaseService, who: Principal, number: str | None, f: AuditQuery) -> list[AuditOut]:
    return cases.audit_log(who, number, None, 0, f.actor or None, f.action or None).items


def _audit_page(
    request: Request, who: Principal, cases: CaseService, number: str | None, f: AuditQuery
) -> Response:
    """The audit log (of one case, or the site's, newest first) with reads folded, filtered and paged."""
    rows = _audit_rows(cases, who, number, f)
    entries = fold(rows)
    if number is None:
        entries.reverse()
    start = (f.page - 1) * ENTRIES_PER_PAGE
    return render(
        request,
        "audit.html.j2",
        who,
        case_number=number,
        f=f,
        path=f"/cases/{number}/audit" if number and not f.case else "/audit",
        entries=entries[start : start + ENTRIES_PER_PAGE],
        total=len(entries),
        rows=len(rows),
        pages=pages(len(entries), ENTRIES_PER_PAGE),
        csv=f.link("/audit.csv", case=number or ""),
        actors=sorted({r.actor for r in rows}),
        actions=sorted({r.action for r in rows}),
    )


@router.get("/audit")
def site_audit(request: Request, who: Who, cases: Cases, f: LogQuery) -> Response:
    """Every read and change on the site (of one case if asked), newest first; staff only."""
    return _audit_page(request, who, cases, f.case or None, f)


@router.get("/audit.csv")
def audit_csv(who: Who, cases: Cases, f: LogQuery) -> Response:
    """The audit log's rows (one case's if asked), filtered as the page is, none folded, as CSV."""
    out = io.StringIO()
    write_audit_csv(_audit_rows(cases, who, f.case or None, f), out)
    name = f"audit-{f.case}.csv" if f.case else "audit.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=attachment(name))


@router.get("/cases/{case_number}/audit")
def audit(request: Request, case_number: str, who: Who, cases: Cases, f: LogQuery) -> Response:
    """Every read and change of the case, oldest first, reads folded."""
    return _audit_page(request, who, cases, case_number, replace(f, case=""))
