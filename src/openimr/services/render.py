"""Writing a :class:`~openimr.core.models.Letter` as a Final Determination letter (txt, HTML or PDF).

All three formats come from one content model (:class:`LetterView`), laid out like the real
letters: header block, how the determination was made with the reviewer's credentials, the
clinical case summary, then each issue's decision line, guideline lines and rationale. Headings
and labels come from :mod:`openimr.core.letters.layout`, so :mod:`openimr.core.letters.parse` reads the
txt and PDF output back; the connecting prose is our own plain-English wording. This is the
published, redacted form; the letter the parties are sent is :mod:`openimr.services.sending`.
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from jinja2 import Environment, PackageLoader, select_autoescape
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from openimr.core.letters import layout
from openimr.core.models import Issue, Letter
from openimr.services.options import LETTER_FORMATS, LetterFormat

Format = LetterFormat
FORMATS = LETTER_FORMATS
TXT_WIDTH = 95
LANG = "en-US"  # the letters' language, in their HTML and PDF

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


def header_value(letter: Letter, field: str) -> str | None:
    value = getattr(letter, field)
    if isinstance(value, dt.date):
        return value.strftime("%m/%d/%Y")
    return value


def letter_view(letter: Letter, organization: str = layout.DEFAULT_ORGANIZATION) -> LetterView:
    """Build the printed content of *letter* for review organization *organization*."""
    header = [
        [(layout.HEADER_LABELS[f], v) for f in row if (v := header_value(letter, f)) is not None]
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


TEMPLATES = Environment(
    loader=PackageLoader("openimr.services", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
TEMPLATES.filters["wrap"] = wrap
TEMPLATES.filters["labeled"] = labeled
TEMPLATES.globals["layout"] = layout


def render(letter: Letter, fmt: Format, organization: str = layout.DEFAULT_ORGANIZATION) -> str | bytes:
    """Render *letter* as a Final Determination letter: ``str`` for txt and html, ``bytes`` for pdf."""
    view = letter_view(letter, organization)
    if fmt == "pdf":
        return _pdf(view, organization, letter.decision_date)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return TEMPLATES.get_template(f"letter.{fmt}.j2").render(view=view)


BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=10, leading=13, spaceAfter=6, splitLongWords=0)
HEADING = ParagraphStyle(
    "heading", parent=BODY, fontName="Helvetica-Bold", fontSize=11, spaceBefore=10, spaceAfter=6
)
DECISION = ParagraphStyle("decision", parent=BODY, fontName="Helvetica-Bold", spaceBefore=8)


def pdf_markup(text: str) -> str:
    # A line-end '-' reads back as a split word, so keep "pre- and" together with a no-break space.
    return escape(text).replace("- ", "-\u00a0")


def _para(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(pdf_markup(text), style)


def _labeled_para(label: str, text: str | None) -> Paragraph:
    """A paragraph opening with its label in bold."""
    return Paragraph(
        f"<b>{pdf_markup(label)}</b> {pdf_markup(text)}" if text else f"<b>{pdf_markup(label)}</b>", BODY
    )


class DayStamp:
    """reportlab's document time stamp set to a letter's own date (midnight UTC), in place of
    its fixed 2000-01-01 (``invariant``) or the moment of writing."""

    def __init__(self, day: dt.date) -> None:
        self.YMDhms = (day.year, day.month, day.day, 0, 0, 0)
        self.dhh = self.dmm = 0


class NumberedCanvas(Canvas):
    """A canvas that prints "Page N of M" at each page's foot once the page count is known, and
    dates the document on :attr:`day` when it has one."""

    day: dt.date | None = None

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
        if self.day is not None:
            self._doc._timeStamp = DayStamp(self.day)
        self._finish()
        super().save()

    def _footer(self) -> None:
        self.setFont("Helvetica", 8)
        self.drawCentredString(LETTER[0] / 2, 0.5 * inch, f"Page {self._pageNumber} of {len(self._pages)}")

    def _finish(self) -> None:
        """After the last page, before the file is written: nothing here (see tagged_pdf)."""


def _pdf(view: LetterView, author: str, day: dt.date | None) -> bytes:
    """Lay out *view* on US-letter pages in Helvetica with reportlab's platypus; the PDF is by
    *author* (the organization), in English, dated *day* (the decision date) when known."""
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
    story += [_para(layout.HEADING_HOW, HEADING), _para(view.how)]
    if view.credentials:
        story.append(_para(layout.CREDENTIALS_INTRO))
        story += [_labeled_para(*cell) for cell in view.credentials]
    story += [_para(layout.HEADING_SUMMARY, HEADING), _para(view.summary_intro)]
    if view.summary:
        story.append(_para(view.summary))
    story += [_para(layout.HEADING_ISSUES, HEADING), _para(view.issues_intro)]
    for issue in view.issues:
        story.append(_para(issue.decision_line, DECISION))
        story += [_labeled_para(*paragraph) for paragraph in issue.paragraphs]

    def canvas(*args: Any, **kwargs: Any) -> NumberedCanvas:
        made = NumberedCanvas(*args, **kwargs)
        made.day = day
        return made

    return build_pdf(story, canvas, title=view.title, author=author, lang=LANG)


def build_pdf(story: list, canvasmaker: Callable[..., Canvas], **metadata: Any) -> bytes:
    """*story* laid out on US-letter pages with the letters' margins, drawn by *canvasmaker*;
    *metadata* (title, author, lang, subject, creator) as reportlab's document takes it."""
    buffer = io.BytesIO()
    margin = 0.9 * inch
    SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        invariant=True,
        **metadata,
    ).build(story, canvasmaker=canvasmaker)
    return buffer.getvalue()
