"""A PDF's text, read within bounds: pypdfium2 runs in a worker process, never in the caller's.

PDFium parses a page's whole content stream when the page is loaded, in C that no budget can
interrupt: a 0.7 MB PDF whose one compressed stream inflates to 200 MB held a thread for minutes at
4 GB. So the text is read by a worker process (``python -m openimr.core.letters.pdf``) that

- runs under an address-space limit of :data:`MEMORY_LIMIT` (``RLIMIT_AS``): a bomb's allocation
  fails there and the worker ends, not the caller;
- is killed once a file has taken :data:`TIME_LIMIT` seconds (the caller waits no longer);
- refuses more than :data:`MAX_PAGES` pages before reading any, and checks each page's characters
  (:data:`MAX_PAGE_CHARS`) and the total so far (the caller's ``max_text``) before copying them out.

Workers are kept between files (one start costs ~0.2 s, a letter ~0.05 s): at most
:data:`WORKERS` at once per process; a caller waits for a free one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time

from openimr.core.letters.errors import LetterError

# The dev letters have 2-12 pages of 2-5 thousand characters each; these are far past any letter.
MAX_PAGES = 200
MAX_PAGE_CHARS = 100_000
TIME_LIMIT = 10.0  # seconds for one file (a letter takes ~0.05 s)
MEMORY_LIMIT = 384 * 2**20  # bytes of address space for a worker (it starts at 28 MB; a letter: 30)
WORKERS = max(2, min(4, os.cpu_count() or 1))
_JOB = struct.Struct("!IdI")  # PDF bytes, seconds, most characters
_REPLY = struct.Struct("!BI")  # 0 text / 1 problem, bytes of UTF-8 that follow
_TEXT, _PROBLEM = 0, 1


class _Refused(Exception):
    """Why the worker stopped reading a PDF (a one-line problem)."""


def _page_text(doc, index: int, total: int, max_text: int) -> str:
    page = doc[index]
    try:
        textpage = page.get_textpage()
        try:
            count = textpage.count_chars()
            if count > MAX_PAGE_CHARS:
                raise _Refused(
                    f"page {index + 1} holds {count:,} characters: not a letter's page"
                    f" (at most {MAX_PAGE_CHARS:,})"
                )
            if total + count > max_text:
                raise _Refused(
                    f"PDF text too long for one letter (over {max_text:,} characters by page {index + 1})"
                )
            return textpage.get_text_range()
        finally:
            textpage.close()
    finally:
        page.close()


def extract(data: bytes, max_text: int) -> str:
    """All pages' text of a PDF (an empty user password is tried), within the page and character
    bounds; ``_Refused`` names the problem. With *max_text* 0, only whether it opens (no text read,
    any number of pages). Runs in the worker."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data, password="")
    except pdfium.PdfiumError as exc:
        raise _Refused(f"damaged or unreadable PDF ({exc})") from None
    try:
        pages = len(doc)
        if not max_text:
            return ""
        if pages > MAX_PAGES:
            raise _Refused(f"PDF has {pages:,} pages: more than one letter holds (at most {MAX_PAGES})")
        texts: list[str] = []
        total = 0
        for index in range(pages):
            texts.append(_page_text(doc, index, total, max_text))
            total += len(texts[-1])
    except pdfium.PdfiumError as exc:
        raise _Refused(f"damaged PDF page ({exc})") from None
    finally:
        doc.close()
    return "\n".join(texts)


def _read_exact(stream, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def _serve() -> None:
    """The worker: read jobs on stdin, answer on stdout, until stdin ends."""
    import resource

    import pypdfium2  # noqa: F401  (loaded before the limit: it is part of every worker)

    jobs, replies = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to stderr, never into the replies
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    while (header := _read_exact(jobs, _JOB.size)) is not None:
        size, seconds, max_text = _JOB.unpack(header)
        data = _read_exact(jobs, size)
        if data is None:
            return
        # The caller kills a worker past its time; should the caller be gone, this ends it anyway.
        signal.setitimer(signal.ITIMER_REAL, seconds + 5)
        try:
            kind, answer = _TEXT, extract(data, max_text)
        except _Refused as exc:
            kind, answer = _PROBLEM, str(exc)
        except MemoryError:
            kind, answer = _PROBLEM, _too_much_memory()
        except Exception as exc:  # anything else the reader raises ends this file, not the worker
            kind, answer = _PROBLEM, f"unreadable PDF ({type(exc).__name__}: {exc})"
        signal.setitimer(signal.ITIMER_REAL, 0)
        del data
        payload = answer.encode("utf-8", errors="surrogatepass")
        replies.write(_REPLY.pack(kind, len(payload)) + payload)
        replies.flush()


def _too_much_memory() -> str:
    return f"reading the PDF needs over {MEMORY_LIMIT // 2**20} MB: not one letter (a compression bomb?)"


class _Worker:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def run(self, data: bytes, max_text: int, file: str) -> str:
        """The text of *data*, or ``LetterError``; the worker is killed (and ``LetterError``
        raised) when it takes over :data:`TIME_LIMIT` or dies."""
        deadline = time.monotonic() + TIME_LIMIT
        try:
            self.process.stdin.write(_JOB.pack(len(data), TIME_LIMIT, max_text))
            self.process.stdin.write(data)
            self.process.stdin.flush()
            header = self._receive(_REPLY.size, deadline)
            kind, size = _REPLY.unpack(header)
            answer = self._receive(size, deadline).decode("utf-8", errors="surrogatepass")
        except TimeoutError:
            self.stop()
            raise LetterError(
                file, f"reading the PDF took over {TIME_LIMIT:g} s: not one letter (a compression bomb?)"
            ) from None
        except (BrokenPipeError, EOFError):
            self.stop()
            raise LetterError(file, self._died()) from None
        if kind == _PROBLEM:
            raise LetterError(file, answer)
        return answer

    def _receive(self, size: int, deadline: float) -> bytes:
        out = self.process.stdout.fileno()
        chunks, needed = [], size
        while needed:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(out, min(needed, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            needed -= len(chunk)
        return b"".join(chunks)

    def _died(self) -> str:
        code = self.process.returncode
        how = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"status {code}"
        return f"the PDF reader stopped ({how}): damaged PDF, or it needs over {MEMORY_LIMIT // 2**20} MB"

    def stop(self) -> None:
        """End the worker at once (it may be mid-file) and close its pipes."""
        self.process.kill()
        self.process.wait()
        self.close_pipes()

    def close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):  # a flush into a dead worker
                pipe.close()

    def alive(self) -> bool:
        return self.process.poll() is None


class _Pool:
    """The idle workers, and a bound on how many work at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(WORKERS)
        self.idle: list[_Worker] = []

    def text(self, data: bytes, max_text: int, file: str) -> str:
        with self.slots:
            with self.lock:
                worker = self.idle.pop() if self.idle else None
            if worker is None or not worker.alive():
                worker = _Worker()
            try:
                return worker.run(data, max_text, file)
            finally:
                if worker.alive():
                    with self.lock:
                        self.idle.append(worker)

    def close(self) -> None:
        """Let the idle workers end (their stdin closes) and wait briefly for them."""
        with self.lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            worker.close_pipes()
            try:
                worker.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                worker.stop()


_pool = _Pool()
atexit.register(lambda: _pool.close())


def _after_fork() -> None:
    """A forked child (a parser process) gets a pool of its own; its copies of the parent's pipes
    are closed, so the parent's workers still end when the parent closes its own."""
    global _pool
    for worker in _pool.idle:
        worker.close_pipes()
    _pool = _Pool()


os.register_at_fork(after_in_child=_after_fork)


def pdf_text(data: bytes, file: str, max_text: int) -> str:
    """All pages' text of the PDF *data*, read by a worker within this module's bounds and at most
    *max_text* characters; ``LetterError`` naming *file* and the problem otherwise."""
    return _pool.text(data, max_text, file)


def pdf_opens(data: bytes, file: str) -> None:
    """Check that the PDF *data* opens (a case record's: any number of pages, no text read), in a
    worker within this module's time and memory bounds; ``LetterError`` naming *file* otherwise."""
    _pool.text(data, 0, file)


if __name__ == "__main__":
    _serve()
