"""A tagged PDF letter, written with reportlab (which writes no structure tree itself).

Each paragraph is marked content (BDC/EMC with an MCID) owned by a structure element (H1, H2, H3,
P) of one /Document element; page numbers are artifacts. The canvas writes the structure tree,
/MarkInfo and the viewer's "show the title" preference when it saves, and dates the document on
the letter's own date rather than reportlab's fixed 2000-01-01 or the moment it was written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFObject, PDFPage
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from openimr.services.render import BODY, NumberedCanvas, build_pdf, pdf_markup


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


class TaggedCanvas(NumberedCanvas):
    """A numbered canvas that marks page numbers as artifacts and writes the structure tree."""

    structure: _Structure

    def showPage(self) -> None:
        super().showPage()
        self.structure.page += 1
        self.structure.next_mcid = 0

    def _footer(self) -> None:
        self.addLiteral("/Artifact BMC")
        super()._footer()
        self.addLiteral("EMC")

    def save(self) -> None:
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


class TaggedStory:
    """Tagged paragraphs of one PDF letter, each its own structure element."""

    def __init__(self) -> None:
        self.structure = _Structure()

    def para(self, markup: str, style: ParagraphStyle = BODY, tag: str = "P") -> _Tagged:
        paragraph = _Tagged(markup, style)
        paragraph.structure, paragraph.element = self.structure, self.structure.element(tag)
        return paragraph

    def labeled(self, label: str, text: str | None) -> _Tagged:
        return self.para(
            f"<b>{pdf_markup(label)}</b> {pdf_markup(text)}" if text else f"<b>{pdf_markup(label)}</b>"
        )

    def pdf(self, story: list, title: str, author: str, subject: str, day: dt.date, lang: str) -> bytes:
        """*story* on US-letter pages: a tagged PDF titled *title*, by *author*, in *lang*, created
        on *day*."""
        structure = self.structure

        def canvas(*args: Any, **kwargs: Any) -> TaggedCanvas:
            made = TaggedCanvas(*args, **kwargs)
            made.structure, made.day = structure, day
            return made

        return build_pdf(
            story, canvas, title=title, author=author, subject=subject, creator="OpenIMR", lang=lang
        )
