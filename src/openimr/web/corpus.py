"""The corpus pages: statistics (table, CSV, chart), search, the guidelines in force and a past
letter."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict, dataclass, replace
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from openimr.core.guidelines.rules import Rule
from openimr.core.models import Decision
from openimr.services.corpus.search import EXPORT_LIMIT, Filters, write_hits_csv
from openimr.services.stats import BY_LABELS, SEVERAL_SPECIALTIES, By, chart, write_csv
from openimr.web.api import CorpusDep, GuidelinesDep
from openimr.web.base import (
    Who,
    attachment,
    render,
    router,
)
from openimr.web.listing import (
    Blank,
    _link,
    pages,
)

HITS_PER_PAGE = 25
RULES_PER_PAGE = 20  # the guideline browser's page
MAX_PAGE = 400  # 10,000 hits deep: past that, fewer words or a filter serve better


@router.get("/corpus/stats")
def corpus_stats(request: Request, who: Who, corpus: CorpusDep, by: By = By.category) -> Response:
    """Decisions in the letter corpus by a grouping, with overturn rates and Wilson intervals."""
    result = corpus.stats(who, by)
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
def corpus_stats_csv(who: Who, corpus: CorpusDep, by: By = By.category) -> Response:
    """The statistics page's table as CSV."""
    out = io.StringIO()
    write_csv(corpus.stats(who, by).groups, out)
    name = f"decisions-by-{by.value}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=attachment(name))


@router.get("/corpus/stats.{fmt}")
def corpus_stats_chart(
    who: Who, corpus: CorpusDep, fmt: Literal["svg", "png"], by: By = By.category
) -> Response:
    """The statistics page's chart, as SVG (shown) or PNG (to download)."""
    out = io.BytesIO()
    result = corpus.stats(who, by)
    chart(result.groups, by, out, result.overall, fmt=fmt)
    kind = "image/svg+xml" if fmt == "svg" else "image/png"
    return Response(out.getvalue(), media_type=kind)


@dataclass(frozen=True)
class SearchQuery:
    """The search page's words, filters (the command line's) and page, as the address gives them."""

    q: str = ""
    decision: Decision | None = None
    family: str = ""
    category: str = ""
    body_part: str = ""
    drug_class: str = ""
    specialty: str = ""
    year: int | None = None
    page: int = 1

    @property
    def filters(self) -> Filters:
        return Filters(
            self.decision,
            self.family or None,
            self.category or None,
            self.body_part or None,
            self.drug_class or None,
            self.year,
            self.specialty or None,
        )

    @property
    def filtered(self) -> bool:
        """Whether a filter is set."""
        return any(value is not None for value in asdict(self.filters).values())

    @property
    def asked(self) -> bool:
        """Whether there are words or a filter: with neither, the page shows only its form."""
        return bool(self.q) or self.filtered

    def link(self, path: str, **changes: Any) -> str:
        """The address of this search on *path* with *changes* (back to page 1 unless a page is given)."""
        return _link(path, asdict(replace(self, **{"page": 1, **changes})), asdict(SearchQuery()))


FilterText = Annotated[str, Query(max_length=200)]


def search_query(
    q: Annotated[str, Query(max_length=500)] = "",
    decision: Annotated[Decision | None, Blank] = None,
    family: FilterText = "",
    category: FilterText = "",
    body_part: FilterText = "",
    drug_class: FilterText = "",
    specialty: FilterText = "",
    year: Annotated[int | None, Query(ge=1900, le=2200), Blank] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> SearchQuery:
    """The :class:`SearchQuery` of the request (a FastAPI dependency)."""
    texts = (family, category, body_part, drug_class, specialty)
    return SearchQuery(q.strip(), decision, *(t.strip() for t in texts), year, page)


Asked = Annotated[SearchQuery, Depends(search_query)]


@router.get("/search")
def corpus_search(request: Request, who: Who, corpus: CorpusDep, f: Asked) -> Response:
    """Search past decisions with the command line's filters, or list those the filters alone
    keep; a page of hits with the passage that matched, the count of all, each linking to its
    decision."""
    choices = corpus.choices(who)  # checks the permission whether or not anything is asked
    offset = (f.page - 1) * HITS_PER_PAGE
    results = corpus.search(who, f.q, f.filters, offset, HITS_PER_PAGE) if f.asked else None
    return render(
        request,
        "search.html.j2",
        who,
        f=f,
        results=results,
        pages=pages(results.total, HITS_PER_PAGE) if results else 1,
        size=HITS_PER_PAGE,
        decisions=list(Decision),
        choices=choices,
    )


@router.get("/search.csv")
def corpus_search_csv(who: Who, corpus: CorpusDep, f: Asked) -> Response:
    """The search's hits as CSV, best first (the first :data:`EXPORT_LIMIT`), with their snippets;
    with neither words nor filters, every decision, newest first."""
    out = io.StringIO()
    write_hits_csv(corpus.search(who, f.q, f.filters, 0, EXPORT_LIMIT), out)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=attachment("search.csv"))


@router.get("/guidelines")
def guidelines_page(
    request: Request,
    who: Who,
    guidelines: GuidelinesDep,
    on: Annotated[dt.date | None, Blank] = None,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    """The encoded rules in force on a date of service (all of them without one), each with its
    citation, dates, whether its criteria are encoded, and every limit's source and verification;
    by guideline family, a page at a time, with an index of every rule found linking to its anchor."""
    ruleset = guidelines.rules(who)
    found = guidelines.matching(who, on, q)
    count = pages(len(found), RULES_PER_PAGE)
    page = min(page, count)
    asked = {"on": on.isoformat() if on else "", "q": q.strip()}
    index: dict[str, list[tuple[Rule, int]]] = {}  # family -> each rule found, with its page
    for n, r in enumerate(found):
        index.setdefault(r.family, []).append((r, 1 + n // RULES_PER_PAGE))
    start = (page - 1) * RULES_PER_PAGE
    return render(
        request,
        "guidelines.html.j2",
        who,
        rules=found[start : start + RULES_PER_PAGE],
        index=index,
        matched=len(found),
        first=start + 1,
        page=page,
        pages=count,
        links={n: _link("/guidelines", {**asked, "page": n}, {"page": 1}) for n in range(1, count + 1)},
        on=on,
        q=q,
        sources=ruleset.sources,
        vocabulary=ruleset.conditions,
        total=len(ruleset.rules),
    )


@router.get("/corpus/letters/{letter}")
def past_letter(
    request: Request, who: Who, corpus: CorpusDep, letter: Annotated[str, PathParam(max_length=200)]
) -> Response:
    """One past decision letter of the corpus: its disputed items, decisions and rationales."""
    return render(request, "past_letter.html.j2", who, letter=corpus.letter(who, letter))
