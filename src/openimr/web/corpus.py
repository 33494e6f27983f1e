"""The corpus pages: statistics (table, CSV, chart), search, the guidelines in force and a past
letter."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Literal

from fastapi import Path as PathParam
from fastapi import Query, Request
from fastapi.responses import Response

from openimr.core.guidelines import load_rules
from openimr.core.models import Decision
from openimr.core.roles import Action, Principal
from openimr.services.cases import (
    CaseService,
    NotFound,
)
from openimr.services.corpus.index import sync_index
from openimr.services.corpus.search import Filters, past_decision, search_store
from openimr.services.guidelines import in_force
from openimr.services.stats import BY_LABELS, SEVERAL_SPECIALTIES, Breakdown, By, breakdown, chart, write_csv
from openimr.web.base import (
    Cases,
    Who,
    attachment,
    render,
    router,
)
from openimr.web.listing import (
    Blank,
)


def _breakdown(cases: CaseService, who: Principal, by: By) -> Breakdown:
    cases.require(who, Action.SEARCH_CORPUS)
    sync_index(cases.store.engine)
    return breakdown(cases.store.engine, by)


@router.get("/corpus/stats")
def corpus_stats(request: Request, who: Who, cases: Cases, by: By = By.category) -> Response:
    """Decisions in the letter corpus by a grouping, with overturn rates and Wilson intervals."""
    result = _breakdown(cases, who, by)
    return render(
        request,
        "stats.html.j2",
        who,
        by=by,
        labels=BY_LABELS,
        groups=result.groups,
        overall=result.overall,
        note=SEVERAL_SPECIALTIES if by is By.specialty else None,
    )


@router.get("/corpus/stats.csv")
def corpus_stats_csv(who: Who, cases: Cases, by: By = By.category) -> Response:
    """The statistics page's table as CSV."""
    out = io.StringIO()
    write_csv(_breakdown(cases, who, by).groups, out)
    name = f"decisions-by-{by.value}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=attachment(name))


@router.get("/corpus/stats.{fmt}")
def corpus_stats_chart(who: Who, cases: Cases, fmt: Literal["svg", "png"], by: By = By.category) -> Response:
    """The statistics page's chart, as SVG (shown) or PNG (to download)."""
    out = io.BytesIO()
    result = _breakdown(cases, who, by)
    chart(result.groups, by, out, result.overall, fmt=fmt)
    kind = "image/svg+xml" if fmt == "svg" else "image/png"
    return Response(out.getvalue(), media_type=kind)


@router.get("/search")
def corpus_search(
    request: Request,
    who: Who,
    cases: Cases,
    q: Annotated[str, Query(max_length=500)] = "",
    decision: Annotated[Decision | None, Blank] = None,
    family: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    year: Annotated[int | None, Query(ge=1900, le=2200), Blank] = None,
) -> Response:
    """Search past decisions with the command line's filters; each hit links to its decision."""
    cases.require(who, Action.SEARCH_CORPUS)
    filters = Filters(decision=decision, family=family or None, category=category or None, year=year)
    hits = search_store(cases.store, q, filters, 50) if q.strip() else []
    return render(
        request,
        "search.html.j2",
        who,
        q=q,
        hits=hits,
        decision=decision,
        decisions=list(Decision),
        family=family,
        category=category,
        year=year,
    )


@router.get("/guidelines")
def guidelines_page(
    request: Request,
    who: Who,
    cases: Cases,
    on: Annotated[dt.date | None, Blank] = None,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The encoded rules in force on a date of service (all of them without one), each with its
    citation, dates, whether its criteria are encoded, and every limit's source and verification."""
    cases.require(who, Action.READ_GUIDELINES)
    ruleset = load_rules()
    words = q.casefold().split()
    rules = [
        r
        for r in in_force(ruleset, on)
        if all(w in f"{r.id} {r.title} {r.family} {r.citation.section}".casefold() for w in words)
    ]
    return render(
        request,
        "guidelines.html.j2",
        who,
        rules=rules,
        on=on,
        q=q,
        sources=ruleset.sources,
        vocabulary=ruleset.conditions,
        total=len(ruleset.rules),
    )


@router.get("/corpus/letters/{letter}")
def past_letter(
    request: Request, who: Who, cases: Cases, letter: Annotated[str, PathParam(max_length=200)]
) -> Response:
    """One past decision letter of the corpus: its disputed items, decisions and rationales."""
    cases.require(who, Action.SEARCH_CORPUS)
    found = past_decision(cases.store, letter)
    if found is None:
        raise NotFound(f"no letter {letter} in the corpus")
    return render(request, "past_letter.html.j2", who, letter=found)
