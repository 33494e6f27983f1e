"""Guideline families: which guideline a decision rests on, from its guideline line.

The review organization's line reads e.g. "Decision based on MTUS Low Back Complaints 2004,
Section(s): ...", "... outside of the MTUS Guidelines. Decision based on Non-MTUS Citation ...",
or "The Expert Reviewer did not cite any medical evidence for its decision." A line citing several
MTUS guidelines belongs to the first one it names.
"""

from __future__ import annotations

import re

NON_MTUS = "Non-MTUS"
NO_CITATION = "No citation"
NOT_STATED = "Not stated"
OTHER = "Other"

# The MTUS guidelines as letters name them (ACOEM chapters and the DWC's own guidelines).
MTUS_GUIDELINES = (
    "Chronic Pain Medical Treatment",
    "Acupuncture Treatment",
    "Opioid Treatment",
    "Postsurgical Treatment",
    "General Approaches",
    "Neck and Upper Back Complaints",
    "Shoulder Complaints",
    "Elbow Complaints",
    "Elbow Disorders",
    "Forearm, Wrist, and Hand Complaints",
    "Low Back Complaints",
    "Knee Complaints",
    "Ankle and Foot Complaints",
    "Stress-Related Conditions",
    "Eye",
    # The ACOEM-based chapters in the MTUS from 2017-12-01 (8 CCR 9792.22-9792.24.4); "Hand, Wrist, and
    # Forearm Disorders" needs listing because an unlisted name ends at its first comma.
    "Initial Approaches to Treatment",
    "Cervical and Thoracic Spine Disorders",
    "Shoulder Disorders",
    "Hand, Wrist, and Forearm Disorders",
    "Low Back Disorders",
    "Knee Disorders",
    "Ankle and Foot Disorders",
    "Hip and Groin Disorders",
    "Chronic Pain",
    "Opioids",
)

_WS = re.compile(r"\s+")
_MTUS_CITE = re.compile(r"\bDecision based on MTUS\s+(.+)", re.IGNORECASE)
# An unlisted guideline's name ends at its year, "Guidelines", or the first comma or period.
_NAME_END = re.compile(r"\s+(?:\(?\d{4}\)?|Guidelines?)\b|[,.;:]")
_NO_CITATION = re.compile(r"did not cite any (?:medical )?evidence", re.IGNORECASE)
_NON_MTUS = re.compile(r"Non-MTUS|outside of the MTUS", re.IGNORECASE)


def guideline_family(line: str | None) -> str:
    """The family of a guideline line: "MTUS <guideline>", "Non-MTUS", "No citation", ...

    ``None`` (no guideline line in the letter) is "Not stated"; a line matching no rule is "Other".
    """
    if line is None or not line.strip():
        return NOT_STATED
    text = _WS.sub(" ", line).strip()
    cite = _MTUS_CITE.search(text)
    if cite:
        rest = cite.group(1)
        for name in MTUS_GUIDELINES:
            if rest.lower().startswith(name.lower()):
                return f"MTUS {name}"
        name = _NAME_END.split(rest, maxsplit=1)[0].strip()
        return f"MTUS {name}" if name else "MTUS"
    if _NON_MTUS.search(text):
        return NON_MTUS
    if _NO_CITATION.search(text):
        return NO_CITATION
    return OTHER
