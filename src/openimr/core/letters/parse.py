"""Reading IMR Final Determination letters (PDF or text) into :class:`~openimr.core.models.Letter`.

A pipeline of small pure steps over the extracted text: split the sections, read the header,
the credentials, the claimant, the summary and the issues. Only ``read_file`` touches files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from openimr.core.letters import layout
from openimr.core.letters.errors import LetterError
from openimr.core.letters.extract import expand_paths, letter_text, normalize_text, read_text, text_hash
from openimr.core.letters.header import claimant, collapse, credentials, header_fields
from openimr.core.letters.issues import IssuesError, ends_a_sentence, parse_issues
from openimr.core.letters.sections import drop_intro, split_sections
from openimr.core.models import Letter

__all__ = [
    "LetterError",
    "Parsed",
    "parse_file",
    "parse_paths",
    "parse_text",
    "read_bytes",
    "read_file",
    "read_paths",
]

# The dev letters dispute at most 21 items; far more is not one letter (or a layout misread).
MAX_ISSUES = 50
NO_FINAL_PERIOD = "the last rationale has no final period: check that the letter is complete"


@dataclass(frozen=True, slots=True)
class Parsed:
    """A letter read from a file, with its text's hash and what may be wrong with it."""

    letter: Letter
    source_hash: str  # SHA-256 of its text as words: the same for any encoding of the same letter
    warnings: tuple[str, ...] = ()


def organizations(organization: str = layout.DEFAULT_ORGANIZATION) -> tuple[str, ...]:
    """Names that label the review organization's guideline line: *organization*, the default
    and the published letters' (:data:`~openimr.core.letters.layout.PUBLISHED_ORGANIZATIONS`)."""
    names = (organization.strip(), layout.DEFAULT_ORGANIZATION, *layout.PUBLISHED_ORGANIZATIONS)
    return tuple(dict.fromkeys(n for n in names if n))


def parse_text(text: str, file: str, organization: str = layout.DEFAULT_ORGANIZATION) -> Letter:
    """The letter in *text* (already extracted); ``LetterError`` when it is not a complete letter.

    *organization* is the review organization whose name labels its guideline line (the
    published letters' label is always read too); the adapter passes its setting in."""
    sections = split_sections(normalize_text(text))
    if sections.issues is None:
        if sections.summary is None and not sections.how:
            raise LetterError(file, "not an IMR Final Determination letter (no IMR headings found)")
        raise LetterError(file, "no 'IMR ISSUES, DECISIONS AND RATIONALES' section (letter cut off?)")
    try:
        issues = parse_issues(drop_intro(sections.issues), organizations(organization))
    except IssuesError as exc:
        raise LetterError(file, str(exc)) from None
    if len(issues) > MAX_ISSUES:
        problem = f"{len(issues)} disputed items: more than one letter holds (at most {MAX_ISSUES})"
        raise LetterError(file, problem)
    summary = collapse(drop_intro(sections.summary)) if sections.summary is not None else None
    return Letter(
        file=file,
        **header_fields(sections.header),
        reviewer=credentials(sections.how),
        claimant=claimant(summary),
        clinical_summary=summary,
        issues=issues,
    )


def letter_warnings(letter: Letter) -> tuple[str, ...]:
    """What looks wrong with a parsed letter but may be right (it is kept, with these)."""
    last = letter.issues[-1].rationale if letter.issues else None
    return () if last is None or ends_a_sentence(last) else (NO_FINAL_PERIOD,)


def read_file(path: str | os.PathLike[str], organization: str = layout.DEFAULT_ORGANIZATION) -> Parsed:
    """Read and parse one letter file (PDF, including empty-password encrypted, or text)."""
    path = Path(path)
    return _parsed(read_text(path), path.name, organization)


def read_bytes(data: bytes, name: str, organization: str = layout.DEFAULT_ORGANIZATION) -> Parsed:
    """Parse the letter file *name* whose bytes are *data* (an upload), as :func:`read_file` does."""
    return _parsed(letter_text(data, name), name, organization)


def _parsed(text: str, name: str, organization: str) -> Parsed:
    letter = parse_text(text, name, organization)
    return Parsed(letter, text_hash(text), letter_warnings(letter))


def parse_file(path: str | os.PathLike[str], organization: str = layout.DEFAULT_ORGANIZATION) -> Letter:
    """The letter in one file (see :func:`read_file`)."""
    return read_file(path, organization).letter


def read_or_error(path: Path, organization: str = layout.DEFAULT_ORGANIZATION) -> Parsed | LetterError:
    """The letter in *path*, or the error that names why it cannot be read (never raises)."""
    return _or_error(path.name, read_file, path, organization)


def bytes_or_error(
    data: bytes, name: str, organization: str = layout.DEFAULT_ORGANIZATION
) -> Parsed | LetterError:
    """The letter in the upload *name* whose bytes are *data*, or the error why not (never raises)."""
    return _or_error(name, read_bytes, data, name, organization)


def _or_error(name: str, read: Callable[..., Parsed], *args: object) -> Parsed | LetterError:
    try:
        return read(*args)
    except LetterError as exc:
        return exc
    except Exception as exc:  # one bad file never stops a batch: report it as this file's error
        return LetterError(name, f"unexpected error: {type(exc).__name__}: {exc}")


def read_paths(
    paths: Iterable[str | os.PathLike[str]], jobs: int = 1, organization: str = layout.DEFAULT_ORGANIZATION
) -> Iterator[tuple[Path, Parsed | LetterError]]:
    """Read files and folders (expanded to their letters) in input order, with *jobs* processes."""
    files = expand_paths([Path(p) for p in paths])
    read = partial(read_or_error, organization=organization)
    if jobs <= 1 or len(files) < 2:
        for path in files:
            yield path, read(path)
        return
    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        chunk = max(1, min(16, len(files) // (jobs * 4)))
        yield from zip(files, pool.map(read, files, chunksize=chunk), strict=True)
    finally:  # a batch stopped early (a full store) leaves the files not read yet unread
        pool.shutdown(cancel_futures=True)


def parse_paths(
    paths: Iterable[str | os.PathLike[str]], jobs: int = 1, organization: str = layout.DEFAULT_ORGANIZATION
) -> Iterator[tuple[Path, Letter | LetterError]]:
    """The letters at *paths* (see :func:`read_paths`), without their hashes or warnings."""
    for path, result in read_paths(paths, jobs, organization):
        yield path, result if isinstance(result, LetterError) else result.letter
