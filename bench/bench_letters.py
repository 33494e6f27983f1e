"""Letters per second from PDF to records stored in SQLite, against bare pypdfium2 extraction.

    python bench/bench_letters.py [LETTERS_DIR] [--rounds N]

The baseline (pypdfium2 opening each PDF and extracting every page's text, nothing else) runs in
the same process on the same files, in the same number of processes, chunked as ``--jobs`` chunks
them. Each round runs the baseline and the ingest back to back, so load from elsewhere on the
machine falls on both alike; the best round of each is kept. Beside wall time, the CPU seconds
spent (this process and its workers, user + system) give letters per CPU-second: what a core
does, whatever else the machine is running.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pypdfium2 as pdfium

from openimr.services.corpus.ingest import ingest as ingest_letters
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


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(fn: Callable[[], None]) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one call (workers are joined before it returns)."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    fn()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def ingest_batch(files: list[Path], jobs: int) -> tuple[float, float]:
    """Wall and CPU seconds to ingest every file into a new, opened store (creating the schema and
    opening the store, which reads its revision, are one-off set-up, not per-letter work)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url)
        reports = []
        with Store.open(url) as store:
            wall, cpu = measure(lambda: reports.append(ingest_letters(files, store, jobs=jobs)))
        report = reports[0]
        if len(report.stored) != len(files) or report.errors:
            raise SystemExit(f"ingest stored {len(report.stored)} of {len(files)}: {report.errors[:3]}")
        return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("letters", nargs="?", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to measure")
    args = ap.parse_args()
    files = sorted(args.letters.glob("*.pdf"))
    n = len(files)
    load = os.getloadavg()[0]
    print(f"{n} PDF letters, {os.cpu_count()} CPUs, load average {load:.2f} at start, best of {args.rounds}")
    for jobs in (int(j) for j in args.jobs.split(",")):
        bare: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for _ in range(args.rounds):
            bare.append(measure(lambda jobs=jobs: bare_extraction(files, jobs)))
            ours.append(ingest_batch(files, jobs))
        bare_wall, bare_cpu = min(w for w, _ in bare), min(c for _, c in bare)
        our_wall, our_cpu = min(w for w, _ in ours), min(c for _, c in ours)
        procs = f"{jobs} process{'es' if jobs > 1 else ''}"
        print(
            f"--jobs {jobs}: bare extraction in {procs} {n / bare_wall:7.1f} letters/s, "
            f"{n / bare_cpu:6.1f} per CPU-second"
        )
        print(
            f"          PDF -> SQLite records   {n / our_wall:7.1f} letters/s, "
            f"{n / our_cpu:6.1f} per CPU-second: "
            f"{bare_wall / our_wall:.2f} x bare (wall), {bare_cpu / our_cpu:.2f} x bare (CPU)"
        )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
