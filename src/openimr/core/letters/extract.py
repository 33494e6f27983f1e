"""Text out of letter files (the I/O edge): PDFs through pypdfium2 in a bounded worker process
(:mod:`openimr.core.letters.pdf`), ``.txt`` as text.

pypdfium2 marks a hyphen at a line end with U+FFFE and ends lines with CR LF; both are
normalized here so the rest of the pipeline sees plain text with ``\\n`` line breaks.

Only regular files are read: a FIFO, socket or device is refused after ``stat`` and never opened
(opening a FIFO blocks until a writer comes). A folder is read one level deep; whatever in it is
not a letter file is reported as skipped, with why.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from openimr.core.letters.errors import LetterError
from openimr.core.letters.pdf import pdf_text

LETTER_SUFFIXES = (".pdf", ".txt")
# Real letters are 3-30 KB of text (the dev letters' PDFs are at most 0.1 MB): far past that, a file
# is not one letter. A file over its limit is refused before it is read.
MAX_TEXT = 2_000_000  # bytes of a text file, characters of a PDF's text
MAX_PDF_BYTES = 50_000_000
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# (what, replacement); str.replace per character is much faster here than str.translate.
_REPLACEMENTS = (("\r\n", "\n"), ("\r", ""), ("\ufffe", "-"), ("\x00", ""), ("\u00a0", " "), ("\u00ad", "-"))
_FILE_TYPES = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


@dataclass(slots=True)
class Inputs:
    """The letter files that paths name, and ``(path, why)`` for each entry skipped or unlisted."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One stderr line per entry skipped (``skipped: PATH: why``) or folder unlisted (``error:``)."""
        skipped = [f"skipped: {p}: {why}" for p, why in self.skipped]
        return skipped + [f"error: {p}: {why}" for p, why in self.errors]

    def nothing_found(self, paths: list[Path]) -> str | None:
        """The error line when *paths* name no letter file at all (nothing to do), else ``None``."""
        if self.files or self.errors:
            return None
        where = ", ".join(map(str, paths)) or "no paths"
        return f"error: no letter files ({', '.join(LETTER_SUFFIXES)}) in {where}: nothing to do"


def normalize_text(raw: str) -> str:
    """Plain text: LF line breaks, U+FFFE line-end hyphens as '-', no NULs or soft hyphens."""
    for what, replacement in _REPLACEMENTS:
        if what in raw:
            raw = raw.replace(what, replacement)
    return raw


def text_hash(text: str) -> str:
    """SHA-256 (hex) of *text* as words: the same for any encoding, BOM, line endings or spacing."""
    words = " ".join(unicodedata.normalize("NFC", text).replace("\ufeff", " ").split())
    return hashlib.sha256(words.encode("utf-8")).hexdigest()


def decode_text(data: bytes) -> str:
    """Text of a ``.txt`` letter: UTF-8 (a BOM dropped), UTF-16 with a BOM, else Windows-1252/Latin-1."""
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # every byte is a Latin-1 character


def path_problem(path: Path) -> str | None:
    """Why *path* is not a regular file that can be read (``None`` when it is one); opens nothing."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno == errno.ENOENT and path.is_symlink():
            return f"dangling symbolic link (to {os.readlink(path)})"
        return f"cannot read file ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    kind = next((what for test, what in _FILE_TYPES if test(mode)), "not a regular file")
    return f"{kind}, not a letter file"


def _read_regular(path: Path, name: str) -> bytes:
    """The bytes of a regular file of sane size; ``LetterError`` for anything else."""
    if problem := path_problem(path):
        raise LetterError(name, problem)
    limit = _size_limit(name)
    try:
        # O_NONBLOCK: should the path become a FIFO after the check, opening it still cannot block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise LetterError(name, "not a regular file, not a letter file")
            if info.st_size > limit:
                raise LetterError(name, _too_big(info.st_size, limit))
            data = handle.read(limit + 1)
    except OSError as exc:
        raise LetterError(name, f"cannot read file ({exc.strerror})") from None
    if len(data) > limit:  # it grew while being read
        raise LetterError(name, _too_big(len(data), limit))
    return data


def _size_limit(name: str) -> int:
    """The most bytes a letter file named *name* may hold."""
    return MAX_PDF_BYTES if name.lower().endswith(".pdf") else MAX_TEXT


def _too_big(size: int, limit: int) -> str:
    return f"file too large for one letter ({size / 1e6:.1f} MB; at most {limit / 1e6:g} MB)"


def read_text(path: Path) -> str:
    """The normalized text of one letter file; ``LetterError`` for empty or unreadable files."""
    return letter_text(_read_regular(path, path.name), path.name)


def letter_text(data: bytes, name: str) -> str:
    """The normalized text of the letter file *name* whose bytes are *data* (a PDF when it starts
    ``%PDF`` or is named ``.pdf``); ``LetterError`` naming *name* when it is empty or unreadable."""
    if len(data) > (limit := _size_limit(name)):
        raise LetterError(name, _too_big(len(data), limit))
    if not data.strip():
        raise LetterError(name, "empty file")
    if data.startswith(b"%PDF") or name.lower().endswith(".pdf"):
        text = pdf_text(data, name, MAX_TEXT)
        if not text.strip():
            raise LetterError(name, "PDF has no text layer (image-only or scanned PDF; run OCR first)")
    else:
        if b"\x00" in data[:4096] and not data.startswith(_UTF16_BOMS):
            raise LetterError(name, "binary file, not a text or PDF letter")
        text = decode_text(data)
    return normalize_text(text)


def _entry_problem(entry: Path) -> str | None:
    """Why a folder's entry is skipped (``None`` for a letter file): folders are not recursed."""
    if entry.is_dir():
        return "sub-folder, not read (name it to read its letters)"
    if problem := path_problem(entry):
        return problem
    if entry.suffix.lower() not in LETTER_SUFFIXES:
        return f"not a {' or '.join(LETTER_SUFFIXES)} file"
    return None


def scan_paths(paths: list[Path]) -> Inputs:
    """Folders become their letter files (sorted by name); files are kept as given, in order.

    A folder's entries that are not letter files (sub-folders, links to nothing, FIFOs, other
    suffixes) are listed in ``skipped``; a folder that cannot be listed is listed in ``errors``.
    """
    inputs = Inputs()
    for path in paths:
        if not path.is_dir():
            inputs.files.append(path)
            continue
        try:
            entries = sorted(path.iterdir())
        except OSError as exc:
            inputs.errors.append((path, f"cannot list folder ({exc.strerror})"))
            continue
        for entry in entries:
            if problem := _entry_problem(entry):
                inputs.skipped.append((entry, problem))
            else:
                inputs.files.append(entry)
    return inputs


def expand_paths(paths: list[Path]) -> list[Path]:
    """The letter files that *paths* name (see :func:`scan_paths`)."""
    return scan_paths(paths).files
