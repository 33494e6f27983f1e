"""A small demo letter corpus for ``serve --demo``: invented past decisions, none of them real.

Every letter is generated here from a short table of our own items, decisions, guideline families
and rationales (no text comes from any real letter), named ``demo-letter-NN`` and summarized as a
demo; it is stored through the ordinary store path and indexed, so Statistics, search and the
similar past decisions of the demo cases have something to show.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from openimr.core.models import Claimant, Decision, Issue, Letter, Reviewer
from openimr.services.corpus.index import sync_index
from openimr.store.db import Store
from openimr.store.ingest import store_letter

MARK = "Demo letter written for OpenIMR; no real person."
COUNT = 30
MTUS = "Decision based on MTUS {}."

# (item, guideline family, specialty of the reviewer, why upheld, why overturned), in our words.
ITEMS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "Acupuncture after hand surgery, 2 visits a week for 6 weeks",
        "Acupuncture Medical Treatment Guidelines",
        "Hand Surgery",
        "Twelve visits were asked for at once; the demo guideline starts with a short trial and wants "
        "to see progress before more visits.",
        "The demo record shows a short trial that already helped, so continuing the visits fits the "
        "demo guideline.",
    ),
    (
        "Cyclobenzaprine 10 mg, 30 tablets",
        "Chronic Pain Medical Treatment Guidelines",
        "Pain Management",
        "The muscle relaxant had been taken for months; the demo guideline supports it only for a "
        "short flare.",
        "A new flare of back spasm is described, and a short course is what the demo guideline allows.",
    ),
    (
        "Chiropractic treatment of the low back, 8 visits",
        "ACOEM Low Back Complaints",
        "Chiropractic",
        "Earlier visits brought no measured gain in function, so more visits are not supported here.",
        "This is a first course of manual therapy for a recent back strain, which the demo guideline "
        "treats as reasonable.",
    ),
    (
        "MRI of the left knee without contrast",
        "ACOEM Knee Complaints",
        "Orthopedic Surgery",
        "There is no locking, giving way or failed conservative care described, so imaging would not "
        "change the plan.",
        "Locking and swelling persist after weeks of therapy; imaging can now guide treatment.",
    ),
    (
        "Physical therapy for the shoulder, 12 sessions",
        "Postsurgical Treatment Guidelines",
        "Physical Medicine & Rehabilitation",
        "Twenty-four sessions were already given after the repair; the demo record shows no new goal.",
        "The repair was recent and the sessions asked for stay within the postsurgical allowance.",
    ),
    (
        "Tramadol 50 mg, 60 tablets",
        "Opioid Treatment Guidelines",
        "Pain Management",
        "No pain scores, function measures or drug screens are on file to support continuing an opioid.",
        "Pain and function are tracked, screens are consistent, and the dose is low and stable.",
    ),
    (
        "Lumbar epidural steroid injection at L4-L5",
        "Chronic Pain Medical Treatment Guidelines",
        "Anesthesiology",
        "The examination describes no radicular signs that imaging confirms, which the demo guideline "
        "asks for first.",
        "Leg pain follows a nerve root that imaging shows compressed, and home exercise did not help.",
    ),
    (
        "Functional restoration program, 10 days",
        "Chronic Pain Medical Treatment Guidelines",
        "Physical Medicine & Rehabilitation",
        "No baseline evaluation is on file, and the worker's motivation to change is not described.",
        "A full evaluation was done and the worker is keen to return to work, as the program expects.",
    ),
)


def _letter(n: int, today: dt.date) -> Letter:
    """Demo letter *n* (1-based): one or two invented items, alternating decisions."""
    first = ITEMS[n % len(ITEMS)]
    picked = [first] if n % 3 else [first, ITEMS[(n + 3) % len(ITEMS)]]
    issues = []
    for k, (item, family, _, upheld, overturned) in enumerate(picked):
        overturn = (n + k) % 3 == 0
        issues.append(
            Issue(
                item=item,
                decision=Decision.OVERTURNED if overturn else Decision.UPHELD,
                imro_guideline=MTUS.format(family),
                rationale=overturned if overturn else upheld,
            )
        )
    decided = today - dt.timedelta(days=20 + 23 * n)
    return Letter(
        file=f"demo-letter-{n:02d}",
        decision_date=decided,
        application_received=decided - dt.timedelta(days=40),
        priority="Expedited" if n % 7 == 0 else "Standard",
        reviewer=Reviewer(license_states=["CA"], specialties=[first[2]]),
        claimant=Claimant(age=30 + n % 30, sex="female" if n % 2 else "male"),
        clinical_summary=f"{MARK} An invented worker with a {first[0].split(',')[0].lower()} request.",
        issues=issues,
    )


def letters(today: dt.date, count: int = COUNT) -> list[Letter]:
    """The demo letters, dated back from *today*."""
    return [_letter(n, today) for n in range(1, count + 1)]


def load(store: Store, today: dt.date) -> int:
    """Store and index the demo letters missing from *store*; how many were new."""
    new = 0
    with store.engine.begin() as conn:
        for letter in letters(today):
            source = hashlib.sha256(f"openimr demo {letter.file}".encode()).hexdigest()
            new += store_letter(conn, letter, source)
    sync_index(store.engine)
    return new
