"""Text out of letter files (the I/O edge): PDFs through pypdfium2, ``.txt`` as text.

pypdfium2 marks a hyphen at a line end with U+FFFE and ends lines with CR LF; both are
normalized here so the rest of the pipeline sees plain text with ``\\n`` line breaks.
"""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium

from openimr.letters.errors import LetterError

LETTER_SUFFIXES = (".pdf", ".txt")
# (what, replacement); str.replace per character is much faster here than str.translate.
_REPLACEMENTS = (("\r\n", "\n"), ("\r", ""), ("\ufffe", "-"), ("\x00", ""), ("\u00a0", " "), ("\u00ad", "-"))


def normalize_text(raw: str) -> str:
    """Plain text: LF line breaks, U+FFFE line-end hyphens as '-', no NULs or soft hyphens."""
    for what, replacement in _REPLACEMENTS:
        if what in raw:
            raw = raw.replace(what, replacement)
    return raw


def pdf_text(data: bytes, file: str) -> str:
    """All pages' text of a PDF (an empty user password is tried, as the published PDFs use)."""
    try:
        doc = pdfium.PdfDocument(data, password="")
    except pdfium.PdfiumError as exc:
        raise LetterError(file, f"damaged or unreadable PDF ({exc})") from None
    try:
        pages = []
        for index in range(len(doc)):
            page = doc[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
    except pdfium.PdfiumError as exc:
        raise LetterError(file, f"damaged PDF page ({exc})") from None
    finally:
        doc.close()
    return "\n".join(pages)


def read_text(path: Path) -> str:
    """The normalized text of one letter file; ``LetterError`` for empty or unreadable files."""
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LetterError(name, f"cannot read file ({exc.strerror})") from None
    if not data.strip():
        raise LetterError(name, "empty file")
    if data.startswith(b"%PDF") or path.suffix.lower() == ".pdf":
        text = pdf_text(data, name)
        if not text.strip():
            raise LetterError(name, "PDF has no text layer (image-only or scanned PDF; run OCR first)")
    else:
        if b"\x00" in data[:4096]:
            raise LetterError(name, "binary file, not a text or PDF letter")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    return normalize_text(text)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Folders become their letter files (sorted by name); files are kept as given, in order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in LETTER_SUFFIXES)
            )
        else:
            out.append(path)
    return out
