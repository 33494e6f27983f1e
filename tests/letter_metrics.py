"""The letter accuracy figures of issue 2, computed as ../shared/tools/score_letters.py does."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

HEADER = (
    "case_number",
    "date_assigned",
    "date_of_injury",
    "decision_date",
    "ur_denial_date",
    "application_received",
    "priority",
)
ISSUE_KEYS = ("item", "decision", "original_request", "authorized")
GUIDELINE_KEYS = ("claims_administrator_guideline", "imro_guideline")


def norm(value: object) -> object:
    """Whitespace collapsed, and '-' followed by whitespace counted as '-'."""
    if isinstance(value, list):
        return [norm(v) for v in value]
    if not isinstance(value, str):
        return value
    return re.sub(r"-\s+", "-", re.sub(r"\s+", " ", value).strip())


def similarity(a: str | None, b: str | None) -> float:
    a, b = str(norm(a) or ""), str(norm(b) or "")
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()


@dataclass
class Scores:
    header: float
    issue: float
    guideline: float
    rationale: float
    summary: float
    misses: list[str]


def score(gold: dict[str, dict], pred: dict[str, dict]) -> Scores:
    """Header, issue and guideline exact rates; rationale and summary mean similarities."""
    hdr = hdr_ok = iss = iss_ok = gl_ok = 0
    rationale: list[float] = []
    summary: list[float] = []
    misses: list[str] = []
    for file, g in gold.items():
        p = pred.get(file, {})
        fields = [(k, g[k], p.get(k)) for k in HEADER]
        fields += [
            (f"reviewer.{k}", g["reviewer"][k], (p.get("reviewer") or {}).get(k))
            for k in ("license_states", "specialties")
        ]
        fields += [
            (f"claimant.{k}", g["claimant"][k], (p.get("claimant") or {}).get(k)) for k in ("age", "sex")
        ]
        for key, gv, pv in fields:
            hdr += 1
            if norm(gv) == norm(pv):
                hdr_ok += 1
            else:
                misses.append(f"{file} {key}: {gv!r} != {pv!r}")
        summary.append(similarity(g["clinical_summary"], p.get("clinical_summary")))
        predicted = p.get("issues") or []
        for k, gi in enumerate(g["issues"]):
            pi = predicted[k] if k < len(predicted) else {}
            iss += 1
            ok = all(norm(gi[x]) == norm(pi.get(x)) for x in ISSUE_KEYS)
            iss_ok += ok
            if not ok:
                misses.append(f"{file}#{k} item: {gi['item']!r} != {pi.get('item')!r}")
            gl_ok += all(norm(gi[x]) == norm(pi.get(x)) for x in GUIDELINE_KEYS)
            rationale.append(similarity(gi["rationale"], pi.get("rationale")))
    return Scores(
        hdr_ok / hdr,
        iss_ok / iss,
        gl_ok / iss,
        sum(rationale) / len(rationale),
        sum(summary) / len(summary),
        misses,
    )
