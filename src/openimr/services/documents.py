"""Documents of a case: stored once by content, listed, uploaded and read, each audited.

An upload must be what its name says (:func:`media_type`): a PDF that opens, an image (PNG, JPEG,
TIFF, GIF) by its first bytes, or UTF-8 text; anything else, an empty file included, is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from openimr.core.errors import OpenIMRError
from openimr.core.letters.errors import LetterError
from openimr.core.letters.pdf import pdf_opens
from openimr.core.roles import Action, Principal
from openimr.services import schemas as out
from openimr.services import views
from openimr.services.access import Gate, NotFound
from openimr.store.schema import (
    BlobRow,
    CaseRow,
    DocumentRow,
)

# What an upload may be: its media type by name, and the first bytes an image of that type has.
PDF, TEXT = "application/pdf", "text/plain; charset=utf-8"
IMAGES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
KINDS = {
    ".pdf": PDF,
    ".txt": TEXT,
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".gif": "image/gif",
}
ACCEPTED = "a PDF, an image (PNG, JPEG, TIFF or GIF) or a text file (UTF-8)"


class NotADocument(OpenIMRError):
    """An upload that is not what its name says, or of a kind the case record does not take."""

    status, code = 422, "unreadable"


def media_type(name: str, content: bytes) -> str:
    """The media type of the upload *name* whose bytes are *content*, once they are checked to be
    what the name says; :class:`NotADocument` naming the file and the problem otherwise."""
    kind = KINDS.get(Path(name).suffix.lower())
    if kind is None:
        raise NotADocument(f"{name}: not a kind of file the case record takes; send {ACCEPTED}")
    if not content:
        raise NotADocument(f"{name}: the file is empty")
    if kind == PDF:
        try:
            pdf_opens(content, name)  # in the PDF reader's bounded worker
        except LetterError:
            raise NotADocument(f"{name}: the PDF does not open (it is damaged, or not a PDF)") from None
    elif kind == TEXT:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise NotADocument(f"{name}: not a text file (it is not UTF-8 text)") from None
        if "\x00" in text:
            raise NotADocument(f"{name}: not a text file (it holds NUL bytes)")
    elif not content.startswith(IMAGES[kind]):
        raise NotADocument(f"{name}: not the {kind.split('/')[1].upper()} image its name says")
    return kind


def store_document(
    s: Session, case: CaseRow, name: str, content: bytes, doc_type: str, received: dt.date
) -> tuple[DocumentRow, bool]:
    """Add a document to the case record, its bytes stored once by content; (the document,
    whether it is new): the same file again is the one already there."""
    sha = hashlib.sha256(content).hexdigest()
    existing = next((d for d in case.documents if d.sha256 == sha), None)
    if existing is not None:
        return existing, False
    if s.get(BlobRow, sha) is None:
        s.add(BlobRow(sha256=sha, size=len(content), content=content))
    doc = DocumentRow(
        sha256=sha, name=(Path(name).name or "document")[:255], doc_type=doc_type, received=received
    )
    case.documents.append(doc)
    s.flush()
    return doc, True


class Documents(Gate):
    """The documents of each case, for the account that acts."""

    def documents(self, who: Principal, number: str) -> list[out.DocumentOut]:
        """The case's documents; the listing is audited."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.READ_DOCUMENT, "document", read="list")
            return [views.document_out(d) for d in case.documents]

    def upload(
        self, who: Principal, number: str, name: str, content: bytes, doc_type: str, received: dt.date
    ) -> out.DocumentOut:
        """Add a document to the case record (stored once by content) once :func:`media_type` finds
        it is what its name says; the same file again is a no-op."""
        self.require(who, Action.UPLOAD_DOCUMENT, number, "document")
        media_type(name, content)  # before the transaction: a PDF is read in up to 10 s
        with self._tx() as s:
            case = self._open(s, who, number, Action.UPLOAD_DOCUMENT, "document", read=None)
            doc, new = store_document(s, case, name, content, doc_type, received)
            if new:
                after = {"name": doc.name, "sha256": doc.sha256}
                self._audit(s, who, number, "document", f"{number}/{doc.id}", "upload", after=after)
            return views.document_out(doc)

    def document(self, who: Principal, number: str, doc_id: int) -> tuple[str, str, bytes]:
        """(file name, media type, bytes) of one document of the case; audited. The media type is
        its name's (:data:`KINDS`), ``application/octet-stream`` for a kind taken before uploads
        were checked."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.READ_DOCUMENT, "document", read=None)
            doc = next((d for d in case.documents if d.id == doc_id), None)
            if doc is None:
                raise NotFound(f"case {number} has no document {doc_id}")
            content = s.scalar(select(BlobRow.content).where(BlobRow.sha256 == doc.sha256))
            if content is None:
                raise NotFound(f"the stored file of document {doc_id} of case {number} is missing")
            self._read(s, who, number, "document", f"{number}/{doc_id}", action="download", name=doc.name)
            return doc.name, KINDS.get(Path(doc.name).suffix.lower(), "application/octet-stream"), content
