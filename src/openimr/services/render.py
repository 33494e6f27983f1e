"""Writing a :class:`~openimr.core.models.Letter` as a Final Determination letter (txt, HTML or PDF).

All three formats come from one content model (:class:`LetterView`), laid out like the real
letters: header block, how the determination was made with the reviewer's credentials, the
clinical case summary, then each issue's decision line, guideline lines and rationale. Headings
and labels come from :mod:`openimr.core.letters.layout`, so :mod:`openimr.core.letters.parse` reads the
txt and PDF output back; the connecting prose is our own plain-English wording.
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
from dataclasses import dataclass
from typing import Any, Literal
from xml.sax.saxutils import escape

from jinja2 import Environment, PackageLoader, select_autoescape
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFObject, PDFPage
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from openimr.core.letters import layout
from openimr.core.models import Issue, Letter
from openimr.services.options import LETTER_FORMATS, LetterFormat
from openimr.services.organization import Organization

Format = LetterFormat
FORMATS = LETTER_FORMATS
TXT_WIDTH = 95

# Our own wording for the letter's connecting prose ({named}: ", NAME," for a named organization).
HOW_TEXT = (
    "The independent review organization{named} sent this dispute to an expert reviewer who has no "
    "ties to the employer, the "
    "injured worker, the treating providers or the claims administrator. The reviewer read the "
    "whole case file and decided each disputed item under the medical treatment standards that "
    "California law sets for Independent Medical Review, weighing the evidence by its strength as "
    "that law requires. The reviewer is in active clinical practice and was chosen for training "
    "and experience with conditions and treatments like those in dispute."
)
SUMMARY_INTRO = "After reading all the medical records, the reviewer summarized the case as follows:"
ISSUES_INTRO = "The reviewer's decision on each disputed item or service, and the reasons, follow:"

# The header block's rows, as in the real letters: two fields a row after the case number.
HEADER_ROWS: tuple[tuple[str, ...], ...] = (
    ("case_number",),
    ("date_assigned", "date_of_injury"),
    ("decision_date", "ur_denial_date"),
    ("priority", "application_received"),
)


@dataclass(frozen=True)
class IssueView:
    """One issue as printed: the decision line (or paragraph), then (label, text) paragraphs."""

    decision_line: str
    paragraphs: list[tuple[str, str | None]]


@dataclass(frozen=True)
class LetterView:
    """What a rendered letter prints, in order; every format lays out this same content."""

    title: str
    header: list[list[tuple[str, str]]]
    how: str
    credentials: list[tuple[str, str]]
    summary_intro: str
    summary: str
    issues_intro: str
    issues: list[IssueView]


def labeled(label: str, text: str | None) -> str:
    """``label text``, or the bare label when the letter has no text for it."""
    return f"{label} {text}" if text else label


def decision_line(issue: Issue) -> str:
    """``item: Decision``, or the partial-authorization paragraph when part was authorized."""
    if issue.original_request is None and issue.authorized is None:
        return f"{issue.item}: {issue.decision}"
    parts = []
    if issue.original_request is not None:
        parts.append(f"{issue.original_request} {layout.ORIGINAL_REQUEST_TAIL}")
    if issue.authorized is not None:
        parts.append(f"{issue.authorized} {layout.AUTHORIZED_TAIL}")
    parts.append(f"{layout.REMAINING_LEAD} {issue.item} is: {issue.decision}")
    return " ".join(parts)


def _value(letter: Letter, field: str) -> str | None:
    value = getattr(letter, field)
    if isinstance(value, dt.date):
        return value.strftime("%m/%d/%Y")
    return value


def letter_view(letter: Letter, organization: str = layout.DEFAULT_ORGANIZATION) -> LetterView:
    """Build the printed content of *letter* for review organization *organization*."""
    header = [
        [(layout.HEADER_LABELS[f], v) for f in row if (v := _value(letter, f)) is not None]
        for row in HEADER_ROWS
    ]
    reviewer = letter.reviewer
    credentials = [
        (label, ", ".join(values))
        for label, values in (
            (layout.LICENSE_LABEL, reviewer.license_states),
            (layout.SPECIALTY_LABEL, reviewer.specialties),
        )
        if values
    ]
    title = "Independent Medical Review Final Determination"
    return LetterView(
        title=f"{title}, case {letter.case_number}" if letter.case_number else title,
        header=[row for row in header if row],
        how=HOW_TEXT.format(
            named="" if organization == layout.DEFAULT_ORGANIZATION else f", {organization},"
        ),
        credentials=credentials,
        summary_intro=SUMMARY_INTRO,
        summary=letter.clinical_summary or "",
        issues_intro=ISSUES_INTRO,
        issues=[
            IssueView(
                decision_line=decision_line(issue),
                paragraphs=[
                    (layout.CA_GUIDELINE_LABEL, issue.claims_administrator_guideline),
                    (f"{organization} guideline:", issue.imro_guideline),
                    (layout.RATIONALE_LABEL, issue.rationale),
                ],
            )
            for issue in letter.issues
        ],
    )


def wrap(text: str, width: int = TXT_WIDTH) -> str:
    """Wrap *text* at spaces to *width* columns, never ending a line with a word's hyphen."""
    glued = text.replace("- ", "-\0")  # "pre- and" stays on one line: a line-end '-' reads as a split word
    lines = textwrap.wrap(glued, width, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines).replace("\0", " ")


_ENV = Environment(
    loader=PackageLoader("openimr.services", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["wrap"] = wrap
_ENV.filters["labeled"] = labeled
_ENV.globals["layout"] = layout


def render(letter: Letter, fmt: Format, organization: str = layout.DEFAULT_ORGANIZATION) -> str | bytes:
    """Render *letter* as a Final Determination letter: ``str`` for txt and html, ``bytes`` for pdf."""
    view = letter_view(letter, organization)
    if fmt == "pdf":
        return _pdf(view)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return _ENV.get_template(f"letter.{fmt}.j2").render(view=view)


_BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=10, leading=13, spaceAfter=6, splitLongWords=0)
_HEADING = ParagraphStyle(
    "heading", parent=_BODY, fontName="Helvetica-Bold", fontSize=11, spaceBefore=10, spaceAfter=6
)
_DECISION = ParagraphStyle("decision", parent=_BODY, fontName="Helvetica-Bold", spaceBefore=8)


def _markup(text: str) -> str:
    # A line-end '-' reads back as a split word, so keep "pre- and" together with a no-break space.
    return escape(text).replace("- ", "-\u00a0")


def _para(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(_markup(text), style)


def _labeled_para(label: str, text: str | None) -> Paragraph:
    """A paragraph opening with its label in bold."""
    return Paragraph(
        f"<b>{_markup(label)}</b> {_markup(text)}" if text else f"<b>{_markup(label)}</b>", _BODY
    )


class _NumberedCanvas(Canvas):
    """A canvas that prints "Page N of M" at each page's foot once the page count is known."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        for state in self._pages:
            self.__dict__.update(state)
            self._footer()
            Canvas.showPage(self)
        self._finish()
        super().save()

    def _footer(self) -> None:
        self.setFont("Helvetica", 8)
        self.drawCentredString(LETTER[0] / 2, 0.5 * inch, f"Page {self._pageNumber} of {len(self._pages)}")

    def _finish(self) -> None:
        """After the last page, before the file is written (nothing here)."""


def _pdf(view: LetterView) -> bytes:
    """Lay out *view* on US-letter pages in Helvetica with reportlab's platypus."""
    story: list = []
    if view.header:
        cells = [[_labeled_para(*cell) for cell in row] for row in view.header]
        table = Table([row + [""] * (2 - len(row)) for row in cells], colWidths=["50%", "50%"])
        table.setStyle(
            TableStyle(
                [
                    ("BOX", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
                ]
            )
        )
        story += [table, Spacer(1, 6)]
    story += [_para(layout.HEADING_HOW, _HEADING), _para(view.how)]
    if view.credentials:
        story.append(_para(layout.CREDENTIALS_INTRO))
        story += [_labeled_para(*cell) for cell in view.credentials]
    story += [_para(layout.HEADING_SUMMARY, _HEADING), _para(view.summary_intro)]
    if view.summary:
        story.append(_para(view.summary))
    story += [_para(layout.HEADING_ISSUES, _HEADING), _para(view.issues_intro)]
    for issue in view.issues:
        story.append(_para(issue.decision_line, _DECISION))
        story += [_labeled_para(*paragraph) for paragraph in issue.paragraphs]
    buffer = io.BytesIO()
    margin = 0.9 * inch
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=view.title,
        invariant=True,
    )
    doc.build(story, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()


# The letter as sent ---------------------------------------------------------------------------
#
# The published form above is what the corpus reads back. The letter the organization sends adds
# a letterhead, the date, the parties it goes to, what each decision means, the reviewer's
# qualifications, the parties' appeal rights and a signature, around the same determination.

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
LANG = "en-US"


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


def _long_date(day: dt.date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


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
        if (v := _value(letter, f)) is not None
    ]
    reviewer = letter.reviewer
    licenses = ", ".join(sending.licenses or reviewer.license_states) or "not stated"
    specialties = ", ".join(reviewer.specialties) or "not stated"
    qualifications = (
        f"The expert reviewer is licensed in {licenses} and practises in {specialties}; the reviewer is "
        "in active clinical practice and has no ties to any party to this dispute."
    )
    who = org.name.strip() or "Independent Medical Review"
    return SentView(
        title=body.title,
        subject=f"Final Determination of the Independent Medical Review of case {letter.case_number}",
        author=who,
        day=issued_on,
        date=_long_date(issued_on),
        draft=sending.draft,
        letterhead=org.letterhead,
        addressees=list(sending.addressees),
        reference=reference,
        opening=OPENING,
        determinations=[(issue.item, issue.decision) for issue in letter.issues],
        qualifications=qualifications,
        body=body,
        appeal=APPEAL_TEXT.format(date=_long_date(issued_on)),
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
    return _ENV.get_template("sent.html.j2").render(view=view, meaning=MEANING, appeal_heading=APPEAL_HEADING)


# A tagged PDF: each paragraph is marked content (BDC/EMC with an MCID) that a structure element
# (H1, H2, H3, P) of one /Document element owns; page numbers are artifacts. reportlab writes
# no structure tree itself, so the canvas below writes one when it saves.


class _True(PDFObject):
    """PDF's ``true`` (reportlab writes Python's ``True`` as ``True``)."""

    def format(self, document: Any) -> bytes:
        return b"true"


class _Structure:
    """The structure elements in reading order, and where each one's content was drawn."""

    def __init__(self) -> None:
        self.tags: list[str] = []
        self.kids: list[list[tuple[int, int]]] = []  # per element: (page index, MCID)
        self.page = 0
        self.next_mcid = 0

    def element(self, tag: str) -> int:
        self.tags.append(tag)
        self.kids.append([])
        return len(self.tags) - 1

    def mark(self, element: int) -> int:
        """A new MCID on the current page for *element*."""
        mcid, self.next_mcid = self.next_mcid, self.next_mcid + 1
        self.kids[element].append((self.page, mcid))
        return mcid


class _Tagged(Paragraph):
    """A paragraph drawn as marked content of its structure element (kept across page splits)."""

    structure: _Structure
    element: int

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:
        mcid = self.structure.mark(self.element)
        tag = self.structure.tags[self.element]
        canvas.addLiteral(f"/{tag} <</MCID {mcid}>> BDC")
        super().drawOn(canvas, x, y, _sW)
        canvas.addLiteral("EMC")

    def split(self, availWidth: float, availHeight: float) -> list:
        parts = super().split(availWidth, availHeight)
        for part in parts:
            part.structure, part.element = self.structure, self.element
        return parts


class _IssueStamp:
    """reportlab's document time stamp, set to a letter's issue date (midnight UTC)."""

    def __init__(self, day: dt.date) -> None:
        self.YMDhms = (day.year, day.month, day.day, 0, 0, 0)
        self.dhh = self.dmm = 0


class _TaggedCanvas(_NumberedCanvas):
    """A numbered canvas that marks page numbers as artifacts and writes the structure tree."""

    structure: _Structure
    issued_on: dt.date

    def showPage(self) -> None:
        super().showPage()
        self.structure.page += 1
        self.structure.next_mcid = 0

    def _footer(self) -> None:
        self.addLiteral("/Artifact BMC")
        super()._footer()
        self.addLiteral("EMC")

    def save(self) -> None:
        self._doc._timeStamp = _IssueStamp(self.issued_on)
        self._doc.Catalog.MarkInfo = PDFDictionary({"Marked": _True()})
        self._doc.Catalog.ViewerPreferences = PDFDictionary({"DisplayDocTitle": _True()})
        super().save()

    def _finish(self) -> None:
        doc, st = self._doc, self.structure
        pages = doc.Pages.pages
        refs = [doc.Reference(page) for page in pages]
        root = PDFDictionary({"Type": PDFName("StructTreeRoot")})
        root_ref = doc.Reference(root)
        document = PDFDictionary({"Type": PDFName("StructElem"), "S": PDFName("Document"), "P": root_ref})
        document_ref = doc.Reference(document)
        parents: dict[int, dict[int, Any]] = {i: {} for i in range(len(pages))}
        refs_of = []
        for tag, kids in zip(st.tags, st.kids, strict=True):
            if not kids:
                continue
            element = PDFDictionary(
                {
                    "Type": PDFName("StructElem"),
                    "S": PDFName(tag),
                    "P": document_ref,
                    "Pg": refs[kids[0][0]],
                    "K": PDFArray(
                        [
                            PDFDictionary({"Type": PDFName("MCR"), "Pg": refs[page], "MCID": mcid})
                            for page, mcid in kids
                        ]
                    ),
                }
            )
            ref = doc.Reference(element)
            refs_of.append(ref)
            for page, mcid in kids:
                parents[page][mcid] = ref
        document.dict["K"] = PDFArray(refs_of)
        nums: list[Any] = []
        for index, page in enumerate(pages):
            page.__NoDefault__ = [*PDFPage.__NoDefault__, "StructParents", "Tabs"]
            page.StructParents = index
            page.Tabs = PDFName("S")
            nums += [index, PDFArray([parents[index][m] for m in sorted(parents[index])])]
        root.dict["K"] = document_ref
        root.dict["ParentTree"] = doc.Reference(PDFDictionary({"Nums": PDFArray(nums)}))
        root.dict["ParentTreeNextKey"] = len(pages)
        doc.Catalog.StructTreeRoot = root_ref


_LETTERHEAD = ParagraphStyle("letterhead", parent=_BODY, fontName="Helvetica-Bold", fontSize=14, leading=17)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=9, leading=11, spaceAfter=0)
_TITLE = ParagraphStyle("title", parent=_HEADING, fontSize=13, spaceBefore=14)
_GROUND = ParagraphStyle("ground", parent=_BODY, leftIndent=18, firstLineIndent=-14)


class _Story:
    """Tagged paragraphs of one PDF letter, each its own structure element."""

    def __init__(self) -> None:
        self.structure = _Structure()

    def para(self, markup: str, style: ParagraphStyle = _BODY, tag: str = "P") -> _Tagged:
        paragraph = _Tagged(markup, style)
        paragraph.structure, paragraph.element = self.structure, self.structure.element(tag)
        return paragraph

    def labeled(self, label: str, text: str | None) -> _Tagged:
        return self.para(f"<b>{_markup(label)}</b> {_markup(text)}" if text else f"<b>{_markup(label)}</b>")

    def heading(
        self, letterhead: list[str], date: str, addressees: list[Addressee], reference: list[tuple[str, str]]
    ) -> list:
        """The letterhead, the date, the addressees and the reference block."""
        head, *rest = letterhead
        story: list = [self.para(_markup(head), _LETTERHEAD)]
        story += [self.para(_markup(line), _SMALL) for line in rest]
        story += [Spacer(1, 12), self.para(_markup(date))]
        for addressee in addressees:
            name = f"<b>{_markup(addressee.role)}:</b> {_markup(addressee.name)}"
            story.append(self.para("<br/>".join([name, *map(_markup, addressee.address)])))
        return story + [self.labeled(label, value) for label, value in reference]

    def pdf(self, story: list, title: str, author: str, subject: str, day: dt.date) -> bytes:
        """*story* on US-letter pages: a tagged PDF titled *title*, by *author*, created on *day*."""
        structure = self.structure

        def canvas(*args: Any, **kwargs: Any) -> _TaggedCanvas:
            made = _TaggedCanvas(*args, **kwargs)
            made.structure, made.issued_on = structure, day
            return made

        buffer = io.BytesIO()
        margin = 0.9 * inch
        SimpleDocTemplate(
            buffer,
            pagesize=LETTER,
            leftMargin=margin,
            rightMargin=margin,
            topMargin=margin,
            bottomMargin=margin,
            title=title,
            author=author,
            subject=subject,
            creator="OpenIMR",
            lang=LANG,
            invariant=True,
        ).build(story, canvasmaker=canvas)
        return buffer.getvalue()


def _sent_pdf(view: SentView) -> bytes:
    """Lay out the letter as sent as a tagged PDF whose metadata name it, its sender and its date."""
    out = _Story()
    para, labeled = out.para, out.labeled
    story = out.heading(view.letterhead, view.date, view.addressees, view.reference)
    if view.draft:
        story.insert(0, para("<b>DRAFT: not issued and not sent.</b>"))
    story += [para(_markup(view.title), _TITLE, "H1"), para(_markup(view.opening))]
    story += [
        para(f"<b>{_markup(item)}: {_markup(decision)}</b>. {_markup(MEANING[decision])}")
        for item, decision in view.determinations
    ]
    story.append(para(_markup(view.qualifications)))
    body = view.body
    story += [para(_markup(layout.HEADING_HOW), _HEADING, "H2"), para(_markup(body.how))]
    if body.credentials:
        story.append(para(_markup(layout.CREDENTIALS_INTRO)))
        story += [labeled(*cell) for cell in body.credentials]
    story += [para(_markup(layout.HEADING_SUMMARY), _HEADING, "H2"), para(_markup(body.summary_intro))]
    if body.summary:
        story.append(para(_markup(body.summary)))
    story += [para(_markup(layout.HEADING_ISSUES), _HEADING, "H2"), para(_markup(body.issues_intro))]
    for issue in body.issues:
        story.append(para(_markup(issue.decision_line), _DECISION, "H3"))
        story += [labeled(*paragraph) for paragraph in issue.paragraphs]
    story += [para(_markup(APPEAL_HEADING), _HEADING, "H2"), para(_markup(view.appeal))]
    story += [para(f"({n}) {_markup(ground)}", _GROUND) for n, ground in enumerate(view.grounds, 1)]
    story += [para(_markup(view.remedy)), Spacer(1, 12), para("Sincerely,"), Spacer(1, 18)]
    story.append(para("<br/>".join(map(_markup, view.signature))))
    return out.pdf(story, view.title, view.author, view.subject, view.day)


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
        date=_long_date(day),
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
        return _ENV.get_template("notice.html.j2").render(view=view)
    out = _Story()
    story = out.heading(view.letterhead, view.date, view.addressees, view.reference)
    story += [out.para(_markup(view.title), _TITLE, "H1"), out.para(_markup(view.opening))]
    story += [out.para(f"({n}) {_markup(reason)}", _GROUND) for n, reason in enumerate(view.reasons, 1)]
    story += [Spacer(1, 12), out.para("Sincerely,"), Spacer(1, 18)]
    story.append(out.para("<br/>".join(map(_markup, view.signature))))
    return out.pdf(story, view.title, view.author, view.subject, view.day)
