"""Letters per second from PDF to records stored in SQLite, against bare pypdfium2 extraction.

    python bench/bench_letters.py [LETTERS_DIR] [--rounds N]

The baseline (pypdfium2 opening each PDF and extracting every page's text, nothing else) runs in
the same process on the same files, so the ratios compare like with like on this machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pypdfium2 as pdfium

from openimr.store.db import Store, migrate

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "dwc-letters" / "dev" / "letters"


def extract_one(path: Path) -> int:
    """Only what any PDF-text pipeline must do: open a PDF and extract each page's text."""
    doc = pdfium.PdfDocument(path)
    size = sum(len(page.get_textpage().get_text_range()) for page in doc)
    doc.close()
    return size


def bare_extraction(files: list[Path], jobs: int) -> None:
    """Bare extraction of every file, in *jobs* processes (chunked as ``--jobs`` chunks them)."""
    if jobs == 1:
        for path in files:
            extract_one(path)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(extract_one, files, chunksize=max(1, min(16, len(files) // (jobs * 4)))))


def timed(fn, rounds: int) -> float:
    """Best wall time of *rounds* calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def best_of(fn, rounds: int) -> float:
    """Smallest of *rounds* durations that *fn* reports itself."""
    return min(fn() for _ in range(rounds))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("letters", nargs="?", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    files = sorted(args.letters.glob("*.pdf"))
    n = len(files)

    def ingest(jobs: int) -> float:
        """Seconds to ingest every file into a new store whose schema exists already (creating
        the schema is one-off set-up, not per-letter work)."""
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            migrate(url)
            start = time.perf_counter()
            with Store.open(url) as store:
                report = ingest(files, store, jobs=jobs)
            elapsed = time.perf_counter() - start
            assert len(report.stored) == n and not report.errors, report.errors[:3]
            return elapsed

    print(f"{n} PDF letters, {os.cpu_count()} CPUs, best of {args.rounds} rounds")
    bare1 = n / timed(lambda: bare_extraction(files, 1), args.rounds)
    print(f"bare pypdfium2 extraction, 1 process  : {bare1:8.1f} letters/s")
    for jobs in (1, 2):
        bare = bare1 if jobs == 1 else n / timed(lambda jobs=jobs: bare_extraction(files, jobs), args.rounds)
        if jobs > 1:
            print(
                f"bare pypdfium2 extraction, {jobs} processes: {bare:8.1f} letters/s ({bare / jobs:.1f}/core)"
            )
        rate = n / best_of(lambda jobs=jobs: ingest(jobs), args.rounds)
        print(
            f"PDF -> SQLite records, --jobs {jobs}     : {rate:8.1f} letters/s ({rate / jobs:.1f}/core): "
            f"{rate / jobs / bare1:.2f} x one process's bare extraction per core, "
            f"{rate / bare:.2f} x bare extraction in {jobs} process{'es' if jobs > 1 else ''}"
        )


if __name__ == "__main__":
    main()
