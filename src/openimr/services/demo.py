"""Example reviewers and cases, written for OpenIMR, carried through the whole process.

The first case is like the seed letter: a 55-year-old with a crushed left middle finger, post-
operative acupuncture 2 x week for 6 weeks, modified by UR to 3 visits. Dates are relative to
the day the demo runs, so the deadlines it reports are live. Running it again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from openimr.core.case import Application
from openimr.core.models import Decision, EvidenceLevel
from openimr.core.process.roster import ReviewerIn
from openimr.core.process.workflow import Status
from openimr.core.roles import Principal
from openimr.services.cases import CaseService
from openimr.services.render import render

_CA = "Golden State Claims Services"


def _reviewer(code, name, state, kind, status, specialties, since, hours, affiliations=()) -> ReviewerIn:
    return ReviewerIn(
        code=code,
        name=name,
        licenses=[{"state": state, "kind": kind, "number": f"{kind}-{code}", "status": status}],
        specialties=specialties,
        active_practice_since=since,
        weekly_clinical_hours=hours,
        affiliations=list(affiliations),
        capacity=5,
    )


REVIEWERS = [
    _reviewer(
        "LAC-01",
        "Dana Whitfield, L.Ac.",
        "California",
        "LAc",
        "active",
        ["Licensed Acupuncturist"],
        dt.date(2009, 6, 1),
        32,
    ),
    _reviewer(
        "LAC-02",
        "Evan Cho, L.Ac.",
        "California",
        "LAc",
        "active",
        ["Licensed Acupuncturist"],
        dt.date(2006, 3, 1),
        36,
        [_CA],
    ),
    _reviewer(
        "DC-01",
        "Priya Natarajan, D.C.",
        "California",
        "DC",
        "active",
        ["Chiropractor"],
        dt.date(2011, 9, 1),
        28,
    ),
    _reviewer(
        "PMR-01",
        "Samuel Okafor, M.D.",
        "Texas",
        "MD",
        "active",
        ["Physical Medicine & Rehabilitation", "Pain Management"],
        dt.date(2004, 7, 1),
        30,
    ),
    _reviewer(
        "ORTH-01",
        "Lena Brandt, M.D.",
        "California",
        "MD",
        "active",
        ["Orthopedic Surgery"],
        dt.date.today().replace(year=dt.date.today().year - 3),
        40,
    ),
    _reviewer(
        "IM-01",
        "Marcus Reyes, M.D.",
        "California",
        "MD",
        "suspended",
        ["Internal Medicine"],
        dt.date(2001, 1, 1),
        40,
    ),
]


@dataclass(frozen=True)
class Example:
    """A case and, for each disputed item, the decision our example reviewer makes."""

    case: Application
    decisions: list[tuple[str, str, str, str]]  # decision, guideline, evidence level, rationale


def examples(today: dt.date) -> list[Example]:
    """The example cases, dated relative to *today*."""

    def ago(days: int) -> str:
        return (today - dt.timedelta(days=days)).isoformat()

    mtus = "Decision based on MTUS {}."
    parties = [
        {"role": "employer", "name": "Valley Fresh Packing Co."},
        {"role": "claims_administrator", "name": _CA, "address": "PO Box 4410\nStockton, CA 95204"},
        {"role": "ur_organization", "name": "Coastline UR Partners"},
    ]

    def worker(name: str, street: str) -> dict:
        """The injured worker as a party the letter is sent to (names and streets are invented)."""
        return {"role": "employee", "name": name, "address": f"{street}\nModesto, CA 95354"}

    clinic = "200 Medical Plaza Drive\nModesto, CA 95355"
    acupuncture = Application.model_validate(
        {
            "application_received": ago(12),
            "date_of_injury": ago(400),
            "ur_decision_date": ago(25),
            "ur_decision_served": ago(24),
            "claimant": {"name": "Alex Moreno", "age": 55, "sex": None},
            "parties": [
                *parties,
                worker("Alex Moreno", "18 Orchard Lane"),
                {
                    "role": "requesting_provider",
                    "name": "Dr. Maria Ortiz",
                    "specialty": "Hand Surgery",
                    "address": clinic,
                },
            ],
            "ur_items": [{"item": "POSTOPERATIVE ACUPUNCTURE 2 X WEEK FOR 6 WEEKS", "outcome": "modified"}],
            "clinical_summary": (
                "The injured worker is a 55-year-old with pain in the left hand after a crush injury "
                "of the left middle finger. Care so far has included surgery, oral medication, "
                "physical therapy and modified work. With symptoms continuing, the treating "
                "physician asked for 12 sessions of post-operative acupuncture. Utilization review "
                "modified the request to 3 sessions and did not certify the other 9, noting that "
                "the reason for acupuncture and the results of earlier care were not documented."
            ),
            "disputed_items": [
                {
                    "item": "POSTOPERATIVE ACUPUNCTURE 2 X WEEK FOR 6 WEEKS",
                    "category": "acupuncture",
                    "claims_administrator_guideline": mtus.format("Acupuncture Medical Treatment Guidelines"),
                }
            ],
        }
    )
    muscle_relaxant = Application.model_validate(
        {
            "formulary_dispute": True,
            "application_received": ago(3),
            "date_of_injury": ago(900),
            "ur_decision_date": ago(10),
            "claimant": {"name": "Jamie Whitaker", "age": 47, "sex": "female"},
            "parties": [
                *parties,
                worker("Jamie Whitaker", "5 Riverbend Court"),
                {
                    "role": "requesting_provider",
                    "name": "Dr. Alan Pierce",
                    "specialty": "Pain Management",
                    "address": clinic,
                },
            ],
            "clinical_summary": (
                "The injured worker is a 47-year-old with chronic low back pain after lifting at "
                "work. She has taken cyclobenzaprine daily for more than six months alongside "
                "physical therapy and a home exercise program. The notes do not describe an acute "
                "flare or any gain in function from the medication."
            ),
            "disputed_items": [
                {
                    "item": "Cyclobenzaprine 7.5mg #60",
                    "category": "drug",
                    "claims_administrator_guideline": mtus.format(
                        "Chronic Pain Medical Treatment Guidelines"
                    ),
                }
            ],
        }
    )
    chiropractic = Application.model_validate(
        {
            "application_received": ago(20),
            "date_of_injury": ago(120),
            "ur_decision_date": ago(30),
            "ur_decision_served": ago(28),
            "claimant": {"name": "Sam Ortega", "age": 38, "sex": "male"},
            "parties": [
                *parties,
                worker("Sam Ortega", "940 Almond Avenue"),
                {
                    "role": "requesting_provider",
                    "name": "Dr. Grace Liu",
                    "specialty": "Occupational Medicine",
                    "address": clinic,
                },
            ],
            "clinical_summary": (
                "The injured worker is a 38-year-old warehouse worker with low back pain for four "
                "months after a fall. Medication and a home exercise program helped only in part; "
                "he has had no manual therapy. The treating physician asked for a trial of "
                "chiropractic manipulation, which utilization review denied."
            ),
            "disputed_items": [
                {"item": "Chiropractic manipulation, lumbar spine, 6 visits", "category": "chiropractic"}
            ],
        }
    )
    late = Application.model_validate(
        {
            "application_received": ago(5),
            "date_of_injury": ago(700),
            "ur_decision_date": ago(60),
            "ur_decision_served": ago(58),
            "claimant": {"age": 61, "sex": "male"},
            "parties": [
                *parties,
                {"role": "requesting_provider", "name": "Dr. Maria Ortiz", "specialty": "Orthopedic Surgery"},
            ],
            "clinical_summary": "Right knee pain after a fall; UR denied an MRI of the right knee.",
            "disputed_items": [{"item": "MRI of the right knee without contrast", "category": "imaging"}],
        }
    )
    return [
        Example(
            acupuncture,
            [
                (
                    Decision.UPHELD,
                    mtus.format("Acupuncture Medical Treatment Guidelines, 8 CCR 9792.24.1"),
                    EvidenceLevel.A,
                    "An acupuncture trial was reasonable for continuing pain after surgery and therapy. The "
                    "guidelines expect functional improvement within 3 to 6 treatments and support more "
                    "care only when a trial documents that improvement. Three sessions were authorized; "
                    "twelve, asked for without any extraordinary circumstance, exceed what the guidelines "
                    "support before a trial shows benefit. The request is not medically necessary.",
                )
            ],
        ),
        Example(
            muscle_relaxant,
            [
                (
                    Decision.UPHELD,
                    mtus.format("Chronic Pain Medical Treatment Guidelines, Muscle relaxants"),
                    EvidenceLevel.A,
                    "The guidelines support non-sedating muscle relaxants as a second-line option for short "
                    "courses in acute exacerbations of chronic low back pain. This worker has taken "
                    "cyclobenzaprine daily for months with no acute flare and no documented gain in "
                    "function. Continued use is not medically necessary.",
                )
            ],
        ),
        Example(
            chiropractic,
            [
                (
                    Decision.OVERTURNED,
                    mtus.format("Chronic Pain Medical Treatment Guidelines, Manual therapy & manipulation"),
                    EvidenceLevel.A,
                    "For low back pain the guidelines recommend manual therapy as an option, starting with a "
                    "trial of 6 visits over 2 weeks, with more visits only if function improves. This "
                    "worker has not had manual therapy and the request matches the recommended trial. "
                    "The request is medically necessary.",
                )
            ],
        ),
        Example(late, []),
    ]


def run(cases: CaseService, who: Principal, out: Path, today: dt.date) -> list[Path]:
    """Load the examples as *who*, carry each through the process, write letters to *out*; returns
    paths."""
    out.mkdir(parents=True, exist_ok=True)
    cases.import_reviewers(who, REVIEWERS)
    numbers = [cases.create_case(who, example.case).case_number for example in examples(today)]
    cases.assign(who, None, today)
    written = []
    for number, example in zip(numbers, examples(today), strict=True):
        status = {c.case_number: c.status for c in cases.list_cases(who, today).items}[number]
        if status == Status.INELIGIBLE:
            path = out / f"{number}-notice.txt"
            path.write_text(cases.notice(who, number), "utf-8")
            written.append(path)
            continue
        # The decisions and rationales are written by us, never the engine's drafts.
        decisions = example.decisions
        if status in (Status.ASSIGNED, Status.IN_REVIEW):
            for position, (decision, guideline, level, rationale) in enumerate(decisions, 1):
                cases.decide(who, number, position, decision, guideline, rationale, level)
        letter, _ = cases.issue(who, number, today)
        for fmt in ("txt", "pdf"):
            path = out / f"{number}.{fmt}"
            body = render(letter, fmt)
            path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
            written.append(path)
    return written
