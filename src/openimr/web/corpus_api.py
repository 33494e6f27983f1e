"""The API's letter corpus: parse a letter, ingest letters, search the stored decisions (on the
API's router, :data:`openimr.web.api.router`)."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import File, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from openimr.core import bounds as b
from openimr.core.letters.errors import LetterError
from openimr.core.letters.parse import read_bytes
from openimr.core.letters.pdf import WORKERS as PDF_READERS
from openimr.core.models import Decision, Letter
from openimr.core.roles import Action, Principal
from openimr.services import schemas as out
from openimr.services.cases import CaseService
from openimr.services.corpus.search import Filters
from openimr.web.api import Cases, CorpusDep, Label, Who, _errors, file_name, read_upload, router
from openimr.web.errors import Unreadable

PARSE_QUEUE = 4 * PDF_READERS  # parse requests that may wait for a reader
PARSE_RETRY_S = 5


@router.post("/letters/parse", response_model=Letter, tags=["corpus"], responses=_errors(413))
async def parse_letter(
    request: Request,
    who: Who,
    cases: Cases,
    file: Annotated[UploadFile, File(description="A letter: PDF or .txt.")],
) -> Letter:
    """Read an IMR Final Determination letter into its record (letter.schema.json).

    Parsing runs in one of at most as many threads as there are PDF readers (a request waiting
    for one holds no thread), and a PDF is read by a worker process bounded in time, memory, pages
    and characters, so a flood of hostile files holds up no other request. With every reader busy
    and :data:`PARSE_QUEUE` requests waiting, another is refused at once: 503 with Retry-After.
    """
    state = request.app.state
    if getattr(state, "parsers", None) is None:
        state.parsers = anyio.CapacityLimiter(PDF_READERS)
    parsers: anyio.CapacityLimiter = state.parsers
    if not parsers.available_tokens and parsers.statistics().tasks_waiting >= PARSE_QUEUE:
        return JSONResponse(
            {"error": "busy", "message": "every letter reader is busy: try again shortly", "detail": None},
            status_code=503,
            headers={"Retry-After": str(PARSE_RETRY_S)},
        )
    return await anyio.to_thread.run_sync(_parse_upload, who, cases, file, limiter=parsers)


def _parse_upload(who: Principal, cases: CaseService, file: UploadFile) -> Letter:
    cases.require(who, Action.PARSE_LETTERS)
    name = file_name(file, "file")
    try:
        return read_bytes(read_upload(file), name).letter
    except LetterError as exc:
        raise Unreadable(exc.problem) from exc


@router.post("/letters/ingest", response_model=out.IngestOut, tags=["corpus"], responses=_errors(413))
def ingest_letters(
    who: Who, corpus: CorpusDep, files: Annotated[list[UploadFile], File(description="Letters: PDF or .txt.")]
) -> out.IngestOut:
    """Store letters in the corpus (one that is stored already is left alone) and index them."""
    uploads = [(file_name(upload, "files", n), read_upload(upload)) for n, upload in enumerate(files)]
    report = corpus.ingest(who, uploads)
    return out.IngestOut(stored=report.stored, unchanged=report.unchanged, errors=report.errors)


_COUNTED = {
    200: {
        "headers": {
            "X-Total-Count": {
                "schema": {"type": "integer", "minimum": 0},
                "description": "How many decisions match in all; page with offset and limit.",
            }
        }
    }
}


@router.get("/search", response_model=list[out.HitOut], tags=["corpus"], responses=_COUNTED)
def search(
    who: Who,
    corpus: CorpusDep,
    response: Response,
    q: Annotated[
        str, Query(max_length=500, pattern=b.TEXT, description="Words to look for; none: the filters alone.")
    ] = "",
    decision: Decision | None = None,
    family: Label = None,
    category: Label = None,
    body_part: Label = None,
    drug_class: Label = None,
    specialty: Label = None,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    offset: Annotated[
        int, Query(ge=0, le=10_000, description="Hits to skip: limit times the page, from 0.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[out.HitOut]:
    """Full-text search of the stored decisions (item, rationale, summary), best first, each with
    the passage that matched (its matched words' spans in ``marks``); without words, the decisions
    the filters keep, newest first. The X-Total-Count header says how many match in all."""
    filters = Filters(decision, family, category, body_part, drug_class, year, specialty)
    results = corpus.search(who, q, filters, offset, limit)
    response.headers["X-Total-Count"] = str(results.total)
    return [out.HitOut(**vars(f.hit), snippet=f.snippet.text, marks=f.snippet.marks) for f in results.found]
