"""The letters the review organization sends: the Final Determination as sent, and the
ineligibility notice, in HTML and as tagged PDFs.

The published form (:mod:`openimr.services.render`) is what the corpus reads back. The letter as
sent adds a letterhead (:mod:`openimr.services.organization`), the date, the parties it goes to,
what each decision means, the reviewer's qualifications, the parties' appeal rights and a
signature, around the same determination.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Spacer

from openimr.core.dates import long_date
from openimr.core.letters import layout
from openimr.core.models import Letter
from openimr.services.organization import Organization
from openimr.services.render import (
    BODY,
    DECISION,
    HEADING,
    LANG,
    TEMPLATES,
    LetterView,
    header_value,
    letter_view,
    pdf_markup,
)
from openimr.services.tagged_pdf import TaggedStory

# Labor Code 4610.6(h)-(i), in our own words. Sources read: the statute's grounds as listed at
# bradfordbarthel.com/?p=395 ("The Controlling Statute") and quoted at
# boxerlaw.com/workerscompzone/appealing-imr/ (4610.6(h)(5)); the remedy, 4610.6(i), per
# rgwlawfirm.com/news/28; summarized in ../shared/reference/IMR-DOMAIN.md, item 7.
APPEAL_HEADING = "YOUR RIGHT TO APPEAL THIS DETERMINATION"
APPEAL_TEXT = (
    "This determination is final and binding unless it is appealed. Under California Labor Code "
    "section 4610.6(h), a party may appeal it by filing a verified petition with the Workers' "
    "Compensation Appeals Board (WCAB) within 30 days of the date of mailing of this determination "
    "({date}). The determination is presumed to be correct and may be set aside only on clear and "
    "convincing proof of one or more of these grounds:"
)
APPEAL_GROUNDS = (
    "the administrative director acted without or in excess of the administrative director's powers;",
    "the determination was procured by fraud;",
    "the independent medical reviewer was subject to a material conflict of interest in violation of "
    "Labor Code section 139.5;",
    "the determination was the result of bias on the basis of race, national origin, ethnic group "
    "identification, religion, age, sex, sexual orientation, color, or disability;",
    "the determination was the result of a plainly erroneous express or implied finding of fact, "
    "provided that the mistake of fact is a matter of ordinary knowledge based on the information "
    "submitted for review and not a matter that is subject to expert opinion.",
)
APPEAL_REMEDY = (
    "If an appeal succeeds, the remedy is a new independent medical review of the dispute by a "
    "different expert reviewer (Labor Code section 4610.6(i))."
)
OPENING = (
    "This letter gives the Final Determination of the Independent Medical Review (IMR) of the "
    "treatment dispute named above, made under California Labor Code sections 4610.5 and 4610.6. An "
    "expert reviewer decided each disputed item or service as follows; the reviewer's reasons are "
    "given in full below."
)
# What each decision means for the parties (8 CCR 9792.10.7: an Overturned item is authorized).
MEANING = {
    "Upheld": "The treatment is not medically necessary; the utilization review decision stands.",
    "Overturned": "The treatment is medically necessary; the utilization review decision is reversed "
    "and the claims administrator must authorize it (8 CCR 9792.10.7).",
}
# The parties a letter goes to, in the order it names them, by their role at intake.
ADDRESSED = {
    "employee": "Injured worker",
    "employee_attorney": "Injured worker's representative",
    "requesting_provider": "Requesting physician",
    "claims_administrator": "Claims administrator",
}


@dataclass(frozen=True)
class Addressee:
    """A party the letter is sent to: their role in words, name and postal address lines."""

    role: str
    name: str
    address: list[str]


@dataclass(frozen=True)
class Sending:
    """What the letter as sent knows beyond its record, from the case as submitted."""

    claim_number: str | None = None
    claimant_name: str | None = None
    addressees: tuple[Addressee, ...] = ()
    licenses: tuple[str, ...] = ()  # "California (LAc)": state and kind of each licence in good standing
    draft: bool = False


@dataclass(frozen=True)
class SentView:
    """What the letter as sent prints, in order; its HTML and PDF lay out this same content."""

    title: str
    subject: str
    author: str
    day: dt.date
    date: str
    draft: bool
    letterhead: list[str]
    addressees: list[Addressee]
    reference: list[tuple[str, str]]
    opening: str
    determinations: list[tuple[str, str]]
    qualifications: str
    body: LetterView
    appeal: str
    grounds: tuple[str, ...]
    remedy: str
    signature: list[str]
    lang: str = LANG


def sent_view(letter: Letter, sending: Sending, org: Organization, today: dt.date) -> SentView:
    """The letter as sent of *letter* (dated its decision date, else *today* for a draft)."""
    body = letter_view(letter, org.label)
    issued_on = letter.decision_date or today
    reference = [(layout.HEADER_LABELS["case_number"], letter.case_number or "")]
    if sending.claim_number:
        reference.append(("Claim Number:", sending.claim_number))
    if sending.claimant_name:
        reference.append(("Injured Worker:", sending.claimant_name))
    reference += [
        (layout.HEADER_LABELS[f], v)
        for f in ("date_of_injury", "ur_denial_date", "application_received", "date_assigned", "priority")
        if (v := header_value(letter, f)) is not None
    ]
    reviewer = letter.reviewer
    licenses = ", ".join(sending.licenses or reviewer.license_states) or "not stated"
    specialties = ", ".join(reviewer.specialties) or "not stated"
    qualifications = (
        f"The expert reviewer is licensed in {licenses} (certification or specialty: {specialties}), is "
        "in active clinical practice and has no ties to any party to this dispute."
    )
    who = org.name.strip() or "Independent Medical Review"
    return SentView(
        title=body.title,
        subject=f"Final Determination of the Independent Medical Review of case {letter.case_number}",
        author=who,
        day=issued_on,
        date=long_date(issued_on),
        draft=sending.draft,
        letterhead=org.letterhead,
        addressees=list(sending.addressees),
        reference=reference,
        opening=OPENING,
        determinations=[(issue.item, issue.decision) for issue in letter.issues],
        qualifications=qualifications,
        body=body,
        appeal=APPEAL_TEXT.format(date=long_date(issued_on)),
        grounds=APPEAL_GROUNDS,
        remedy=APPEAL_REMEDY,
        signature=[
            *([org.signatory.strip()] if org.signatory.strip() else []),
            f"{org.signatory_title}, {who}",
        ],
    )


def render_sent(
    letter: Letter, sending: Sending, fmt: Literal["html", "pdf"], org: Organization, today: dt.date
) -> str | bytes:
    """The letter as sent: ``str`` HTML or ``bytes`` of a tagged PDF."""
    view = sent_view(letter, sending, org, today)
    if fmt == "pdf":
        return _sent_pdf(view)
    return TEMPLATES.get_template("sent.html.j2").render(
        view=view, meaning=MEANING, appeal_heading=APPEAL_HEADING
    )


_LETTERHEAD = ParagraphStyle("letterhead", parent=BODY, fontName="Helvetica-Bold", fontSize=14, leading=17)
_SMALL = ParagraphStyle("small", parent=BODY, fontSize=9, leading=11, spaceAfter=0)
_TITLE = ParagraphStyle("title", parent=HEADING, fontSize=13, spaceBefore=14)
_GROUND = ParagraphStyle("ground", parent=BODY, leftIndent=18, firstLineIndent=-14)


def _heading(
    out: TaggedStory,
    letterhead: list[str],
    date: str,
    addressees: list[Addressee],
    reference: list[tuple[str, str]],
) -> list:
    """The letterhead, the date, the addressees and the reference block."""
    head, *rest = letterhead
    story: list = [out.para(pdf_markup(head), _LETTERHEAD)]
    story += [out.para(pdf_markup(line), _SMALL) for line in rest]
    story += [Spacer(1, 12), out.para(pdf_markup(date))]
    for addressee in addressees:
        name = f"<b>{pdf_markup(addressee.role)}:</b> {pdf_markup(addressee.name)}"
        story.append(out.para("<br/>".join([name, *map(pdf_markup, addressee.address)])))
    return story + [out.labeled(label, value) for label, value in reference]


def _sent_pdf(view: SentView) -> bytes:
    """Lay out the letter as sent as a tagged PDF whose metadata name it, its sender and its date."""
    out = TaggedStory()
    para, labeled = out.para, out.labeled
    story = _heading(out, view.letterhead, view.date, view.addressees, view.reference)
    if view.draft:
        story.insert(0, para("<b>DRAFT: not issued and not sent.</b>"))
    story += [para(pdf_markup(view.title), _TITLE, "H1"), para(pdf_markup(view.opening))]
    story += [
        para(f"<b>{pdf_markup(item)}: {pdf_markup(decision)}</b>. {pdf_markup(MEANING[decision])}")
        for item, decision in view.determinations
    ]
    story.append(para(pdf_markup(view.qualifications)))
    body = view.body
    story += [para(pdf_markup(layout.HEADING_HOW), HEADING, "H2"), para(pdf_markup(body.how))]
    if body.credentials:
        story.append(para(pdf_markup(layout.CREDENTIALS_INTRO)))
        story += [labeled(*cell) for cell in body.credentials]
    story += [para(pdf_markup(layout.HEADING_SUMMARY), HEADING, "H2"), para(pdf_markup(body.summary_intro))]
    if body.summary:
        story.append(para(pdf_markup(body.summary)))
    story += [para(pdf_markup(layout.HEADING_ISSUES), HEADING, "H2"), para(pdf_markup(body.issues_intro))]
    for issue in body.issues:
        story.append(para(pdf_markup(issue.decision_line), DECISION, "H3"))
        story += [labeled(*paragraph) for paragraph in issue.paragraphs]
    story += [para(pdf_markup(APPEAL_HEADING), HEADING, "H2"), para(pdf_markup(view.appeal))]
    story += [para(f"({n}) {pdf_markup(ground)}", _GROUND) for n, ground in enumerate(view.grounds, 1)]
    story += [para(pdf_markup(view.remedy)), Spacer(1, 12), para("Sincerely,"), Spacer(1, 18)]
    story.append(para("<br/>".join(map(pdf_markup, view.signature))))
    return out.pdf(story, view.title, view.author, view.subject, view.day, view.lang)


# The ineligibility notice, in the same letter form -------------------------------------------

NOTICE_TITLE = "Notice of Ineligibility for Independent Medical Review"
NOTICE_OPENING = (
    "The application for Independent Medical Review (IMR) of the treatment dispute named above was "
    "reviewed for eligibility and is not eligible, for the reasons below. No expert reviewer was "
    "assigned and no determination of medical necessity was made."
)


@dataclass(frozen=True)
class NoticeView:
    """What the ineligibility notice prints; its HTML and PDF lay out this same content."""

    title: str
    subject: str
    author: str
    day: dt.date
    date: str
    letterhead: list[str]
    addressees: list[Addressee]
    reference: list[tuple[str, str]]
    opening: str
    reasons: list[str]
    signature: list[str]
    draft: bool = False
    lang: str = LANG


def notice_view(
    number: str, reasons: list[str], sending: Sending, org: Organization, day: dt.date
) -> NoticeView:
    """The ineligibility notice of case *number*, dated *day*, giving each reason with its citation."""
    reference = [(layout.HEADER_LABELS["case_number"], number)]
    if sending.claim_number:
        reference.append(("Claim Number:", sending.claim_number))
    if sending.claimant_name:
        reference.append(("Injured Worker:", sending.claimant_name))
    who = org.name.strip() or "Independent Medical Review"
    return NoticeView(
        title=f"{NOTICE_TITLE}, case {number}",
        subject=f"Case {number} is not eligible for Independent Medical Review",
        author=who,
        day=day,
        date=long_date(day),
        letterhead=org.letterhead,
        addressees=list(sending.addressees),
        reference=reference,
        opening=NOTICE_OPENING,
        reasons=reasons,
        signature=[line for line in (org.signatory.strip(), f"{org.signatory_title}, {who}") if line],
    )


def render_notice(
    number: str,
    reasons: list[str],
    sending: Sending,
    fmt: Literal["html", "pdf"],
    org: Organization,
    day: dt.date,
) -> str | bytes:
    """The ineligibility notice as a letter: ``str`` HTML or ``bytes`` of a tagged PDF."""
    view = notice_view(number, reasons, sending, org, day)
    if fmt == "html":
        return TEMPLATES.get_template("notice.html.j2").render(view=view)
    out = TaggedStory()
    story = _heading(out, view.letterhead, view.date, view.addressees, view.reference)
    story += [out.para(pdf_markup(view.title), _TITLE, "H1"), out.para(pdf_markup(view.opening))]
    story += [out.para(f"({n}) {pdf_markup(reason)}", _GROUND) for n, reason in enumerate(view.reasons, 1)]
    story += [Spacer(1, 12), out.para("Sincerely,"), Spacer(1, 18)]
    story.append(out.para("<br/>".join(map(pdf_markup, view.signature))))
    return out.pdf(story, view.title, view.author, view.subject, view.day, view.lang)
