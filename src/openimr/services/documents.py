"""Documents of a case: stored once by content, listed, uploaded and read, each audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from openimr.core.roles import Action, Principal
from openimr.services import schemas as out
from openimr.services import views
from openimr.services.access import Gate, NotFound
from openimr.store.schema import (
    BlobRow,
    CaseRow,
    DocumentRow,
)


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
        """Add a document to the case record (stored once by content); the same file again is a no-op."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.UPLOAD_DOCUMENT, "document", read=None)
            doc, new = store_document(s, case, name, content, doc_type, received)
            if new:
                after = {"name": doc.name, "sha256": doc.sha256}
                self._audit(s, who, number, "document", f"{number}/{doc.id}", "upload", after=after)
            return views.document_out(doc)

    def document(self, who: Principal, number: str, doc_id: int) -> tuple[str, str, bytes]:
        """(file name, media type, bytes) of one document of the case; audited."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.READ_DOCUMENT, "document", read=None)
            doc = next((d for d in case.documents if d.id == doc_id), None)
            if doc is None:
                raise NotFound(f"case {number} has no document {doc_id}")
            content = s.scalar(select(BlobRow.content).where(BlobRow.sha256 == doc.sha256))
            if content is None:
                raise NotFound(f"the stored file of document {doc_id} of case {number} is missing")
            self._read(s, who, number, "document", f"{number}/{doc_id}", action="download", name=doc.name)
            kind = mimetypes.guess_type(doc.name)[0] or "application/octet-stream"
            return doc.name, kind, content
