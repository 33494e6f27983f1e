"""The choices the services offer their callers, in a module that imports nothing heavy.

The command line names them in its commands' signatures, so that ``--help`` needs only these
and not the search index, the chart library or the PDF renderer behind them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

LetterFormat = Literal["txt", "html", "pdf"]
LETTER_FORMATS: tuple[LetterFormat, ...] = ("txt", "html", "pdf")
LetterForm = Literal["sent", "published"]  # the letter to the parties, or its published redacted form
# The settings the command line's options also read (all of them: services/settings.py).
ORGANIZATION_ENV = "OPENIMR_ORGANIZATION"
RULES_ENV = "OPENIMR_RULES"


class Mode(StrEnum):
    """How ``search`` matches: full text, semantic similarity, or both (hybrid)."""

    hybrid = "hybrid"
    text = "text"
    semantic = "semantic"


class By(StrEnum):
    """The dimension ``stats`` groups issues by."""

    category = "category"
    family = "family"
    specialty = "specialty"
    year = "year"
    drug_class = "drug-class"


class ExportFormat(StrEnum):
    """The corpus export's file format."""

    csv = "csv"
    parquet = "parquet"


class IngestEngine(StrEnum):
    """Where ingest parses letters: in local processes, or on a Dask cluster."""

    local = "local"
    dask = "dask"
