"""Work status: full duty, modified duty, off work (temporarily totally disabled), P&S, retired."""

from __future__ import annotations

from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import matcher


def extract(doc: Doc) -> list[Fact]:
    return [
        doc.fact("work_status", value, m.start(), m.end())
        for value, m in matcher("work", "work_status").finditer(doc.text)
    ]
