"""Export of the structured corpus: one row per issue, to CSV or Parquet, streamed in chunks.

Columns: the letter (case number, file, decision date and year, reviewer specialties), the issue
(item number, item, decision, both guideline lines and the guideline family, rationale) and what
it asks for (category, drug, drug class, body parts and regions, sessions, quantity). Lists are
joined with "; ".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Date, Engine, text

from openimr.services.csvout import CsvWriter
from openimr.services.options import ExportFormat as Format

CHUNK = 20000

SCHEMA = pa.schema(
    [
        ("case_number", pa.string()),
        ("file", pa.string()),
        ("decision_date", pa.date32()),
        ("year", pa.int32()),
        ("specialties", pa.string()),
        ("item_number", pa.int32()),
        ("item", pa.string()),
        ("decision", pa.string()),
        ("family", pa.string()),
        ("category", pa.string()),
        ("drug_name", pa.string()),
        ("drug_class", pa.string()),
        ("body_parts", pa.string()),
        ("sessions", pa.int32()),
        ("quantity", pa.float64()),
        ("claims_administrator_guideline", pa.string()),
        ("imro_guideline", pa.string()),
        ("rationale", pa.string()),
    ]
)

_ISSUES = text(
    "SELECT ci.id AS issue_id, ci.letter_id, l.case_number, l.file, l.decision_date, ci.year,"
    " ci.position + 1 AS item_number, li.item, ci.decision, ci.family, ci.category, ci.drug_name,"
    " ci.drug_class, ci.sessions, ci.quantity, li.claims_administrator_guideline, li.imro_guideline,"
    " li.rationale"
    " FROM corpus_issues AS ci"
    " JOIN letter_issues AS li ON li.letter_id = ci.letter_id AND li.position = ci.position"
    " JOIN letters AS l ON l.id = ci.letter_id WHERE ci.id > :after ORDER BY ci.id LIMIT :n"
).columns(decision_date=Date)
_PARTS = text("SELECT issue_id, name FROM corpus_body_parts WHERE issue_id BETWEEN :lo AND :hi")
_SPECIALTIES = text(
    "SELECT letter_id, specialty FROM letter_specialties"
    " WHERE letter_id BETWEEN :lo AND :hi ORDER BY letter_id, position"
)


def chunks(engine: Engine, size: int = CHUNK) -> Iterator[list[dict]]:
    """The indexed issues in index order, *size* rows at a time, as dicts of :data:`SCHEMA`."""
    after = 0
    with engine.connect() as conn:
        while rows := conn.execute(_ISSUES, {"after": after, "n": size}).all():
            after = rows[-1][0]
            parts: dict[int, list[str]] = {}
            for issue, name in conn.execute(_PARTS, {"lo": rows[0][0], "hi": after}):
                parts.setdefault(issue, []).append(name)
            letters = [r[1] for r in rows]
            specialties: dict[int, list[str]] = {}
            for letter, name in conn.execute(_SPECIALTIES, {"lo": min(letters), "hi": max(letters)}):
                specialties.setdefault(letter, []).append(name)
            yield [_row(dict(r._mapping), parts, specialties) for r in rows]


def _row(row: dict, parts: dict[int, list[str]], specialties: dict[int, list[str]]) -> dict:
    """One export row: the query's columns with the issue's body parts and the letter's specialties."""
    row["body_parts"] = "; ".join(sorted(parts.get(row.pop("issue_id"), [])))
    row["specialties"] = "; ".join(specialties.get(row.pop("letter_id"), []))
    return {name: row[name] for name in SCHEMA.names}


def export(engine: Engine, path: Path, fmt: Format) -> int:
    """Write the corpus to *path* as *fmt*; returns the number of rows. The index must be synced."""
    count = 0
    if fmt is Format.csv:
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = CsvWriter(out, SCHEMA.names)
            for rows in chunks(engine):
                writer.records(rows)
                count += len(rows)
        return count
    with pq.ParquetWriter(path, SCHEMA) as writer:
        for rows in chunks(engine):
            writer.write_table(pa.Table.from_pylist(rows, schema=SCHEMA))
            count += len(rows)
        if not count:
            writer.write_table(SCHEMA.empty_table())
    return count
