"""Hostile PDFs, written as raw PDF bytes at test time (small on disk, huge once read).

- :func:`bomb`: one page whose FlateDecode content stream inflates to *inflated* bytes of text
  operators (0.2 MB on disk for 200 MB);
- :func:`long_page`: one page of a million characters;
- :func:`pages`: *count* pages that all share one small content stream (or none: empty pages).
"""

from __future__ import annotations

import zlib

_LINE = b"(IMR letter text that repeats and repeats) Tj T*\n"


def _document(page_count: int, stream: bytes | None) -> bytes:
    """*page_count* pages sharing one FlateDecode content stream, *stream* already compressed
    (no content when ``None``)."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (5 + i) for i in range(page_count))
        + b"] /Count %d >>" % page_count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if stream is None:
        objects.append(b"<< /Length 0 >>\nstream\n\nendstream")
        page_contents = b""
    else:
        dictionary = b"<< /Length %d /Filter /FlateDecode >>" % len(stream)
        objects.append(dictionary + b"\nstream\n" + stream + b"\nendstream")
        page_contents = b" /Contents 4 0 R"
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
        b" /Resources << /Font << /F1 3 0 R >> >>" + page_contents + b" >>"
    )
    objects += [page] * page_count
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def bomb(inflated: int = 200_000_000) -> bytes:
    """One page whose compressed content stream inflates to about *inflated* bytes of text."""
    compressor = zlib.compressobj(9)
    chunk = _LINE * (1_000_000 // len(_LINE))
    parts = [compressor.compress(b"BT /F1 10 Tf 12 TL 72 720 Td\n")]
    parts += [compressor.compress(chunk) for _ in range(max(1, inflated // len(chunk)))]
    parts.append(compressor.compress(b"ET\n") + compressor.flush())
    return _document(1, b"".join(parts))


def long_page(lines: int = 33) -> bytes:
    """One page of *lines* lines of 30,000 characters each (PDFium reads 32,767 of a string at most)."""
    line = b"(" + b"x " * 15_000 + b") Tj T*\n"
    return _document(1, zlib.compress(b"BT /F1 10 Tf 12 TL 72 720 Td\n" + line * lines + b"ET\n", 9))


def pages(count: int, text: bool = True, lines: int = 1) -> bytes:
    """*count* pages, each showing the same *lines* lines of text (or nothing)."""
    page = zlib.compress(b"BT /F1 10 Tf 12 TL 72 720 Td\n" + _LINE * lines + b"ET\n", 9)
    return _document(count, page if text else None)
