"""``GET /api/metrics``: the year's IMR determinations as CMS-0057-F style measures (JSON, CSV or
a PNG chart), for any role that may list cases (a reviewer: their own cases); audited."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBearer

from openimr.core.roles import Principal
from openimr.services.metrics import chart, write_csv
from openimr.services.metrics import metrics as measure
from openimr.web import api

_bearer = HTTPBearer(auto_error=False)


async def _sign_in(request: Request) -> Principal:
    return await run_in_threadpool(api.principal, request, await _bearer(request), api.service(request))


router = APIRouter(
    prefix="/api",
    tags=["reports"],
    responses=api.ERRORS,
    route_class=api.signs_in_first(api.account, _sign_in),
)


@router.get(
    "/metrics",
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/csv": {"schema": {"type": "string"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "The measures: JSON (with their definitions), CSV, or a PNG chart.",
        }
    },
)
def metrics(
    request: Request,
    who: api.Who,
    year: Annotated[
        int | None, Query(ge=1900, le=2200, description="The decisions' year (default: this year).")
    ] = None,
    format: Annotated[Literal["json", "csv", "png"], Query(description="json, csv or png.")] = "json",
) -> Response:
    """Determinations upheld and overturned per item and per case, the share decided within the
    statutory time, and the mean and median days from complete records to decision, for all
    cases and by priority (CMS-0057-F's prior authorization measures, for IMR)."""
    report = measure(api.service(request), who, year or dt.date.today().year)
    if format == "json":
        return Response(json.dumps(report.as_json()), media_type="application/json")
    if format == "csv":
        out = io.StringIO()
        write_csv(report, out)
        headers = {"Content-Disposition": f'attachment; filename="imr-metrics-{report.year}.csv"'}
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    picture = io.BytesIO()
    chart(report, picture, "png")
    return Response(picture.getvalue(), media_type="image/png")
