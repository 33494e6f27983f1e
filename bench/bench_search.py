"""Corpus index build time, memory and search latency at 10k to 2M issues; Dask vs --jobs ingest.

    python bench/bench_search.py [--sizes 10000 100000 1000000] [--backends sqlite postgres]
                                 [--rounds 5] [--ingest] [--gold GOLD.jsonl] [--letters DIR]
                                 [--unique [--keep DIR] [--build-only]]

``--unique`` fills the store with letters whose texts are their own
(:func:`openimr.services.corpus.synthetic.synthesize_unique`: sentences recombined across the dev
letters, numbers and sides varied) instead of copies, and prints per (backend, size): the fill,
the index build (features and the store's full text, then the tantivy full-text index, then
embeddings and the mapped index), the size on disk (database, full-text index, mapped index),
peak memory, in-process p50/p95 (after one untimed round) of text, filtered text, hybrid and
filtered hybrid queries beside the store's own full-text query on the same data (FTS5 ``bm25``
ranking or ``ts_rank``, all matches ranked, top 10), the first text query in a fresh process (and
that process's peak memory) and the whole ``openimr search`` command (median of 3) in text and
hybrid mode beside a bare ``python -c pass``. ``--keep DIR`` keeps the stores for a later run,
``--build-only`` stops after building them.

Each (backend, size) runs in a subprocess of its own, so its peak memory (max RSS) is its own: a
fresh database (a SQLite file, or a new schema in PostgreSQL ``test`` at 127.0.0.1:5432) is filled
with the dev gold letters replicated under distinct keys (openimr.services.corpus.synthetic), the corpus
index is built (features, full text, embeddings), the first query loads the searcher's in-memory
corpus (``load_s``), and a fixed set of filtered queries runs ``--rounds`` times each in text and
hybrid mode. ``embed`` is the query embedding alone, part of every hybrid query. ``--ingest``
also times the dev letters' ingest with --jobs 1, --jobs 2 and --engine dask (2 local workers).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "dwc-letters" / "dev"
PG = os.environ.get("OPENIMR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

QUERIES = [
    ("acupuncture visits", {"category": "acupuncture"}),
    ("MRI", {"body_part": "lumbar spine"}),
    ("topical compound cream", {"decision": "Overturned"}),
    ("physical therapy sessions", {"year": 2016}),
    ("epidural steroid injection", {"decision": "Upheld"}),
    ("knee surgery", {"body_part": "knee"}),
    ("functional restoration program", {}),
    ("urine drug screen", {"category": "lab"}),
    ("TENS unit", {"category": "electrotherapy"}),
    ("opioid weaning", {"category": "drug"}),
    ("shoulder arthroscopy", {"specialty": "Orthopedic Surgery"}),
    ("home health aide", {"family": "Non-MTUS"}),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


BARE = {
    "sqlite": (
        "SELECT rowid FROM corpus_doc_fts WHERE corpus_doc_fts MATCH :q"
        " ORDER BY bm25(corpus_doc_fts, 4.0, 1.0, 0.5) LIMIT 10"
    ),
    "postgres": (
        "SELECT d.id FROM corpus_docs AS d, to_tsquery('english', :q) AS query"
        " WHERE d.search_vector @@ query ORDER BY ts_rank(d.search_vector, query) DESC LIMIT 10"
    ),
}
FIRST = """
import re, sys, time
start = time.perf_counter()
from openimr.services.corpus.search import Filters, Mode, Searcher
from openimr.store.db import make_engine
engine = make_engine(sys.argv[1])
t = time.perf_counter()
Searcher(engine).search(sys.argv[2], Filters(), 10, Mode.text)
end = time.perf_counter()
status = open("/proc/self/status").read()  # this process's own peak (ru_maxrss survives exec)
print(end - t, end - start, re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
"""


def median_run(cmd: list[str], n: int = 3) -> tuple[float, int]:
    """The median wall time of *n* runs of *cmd* (output discarded) and its peak memory in MiB
    (GNU time's maximum resident set)."""
    times, peak = [], 0
    for _ in range(n):
        start = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True
        )
        times.append(time.perf_counter() - start)
        peak = max(peak, int(done.stderr.decode().split()[-1]) // 1024)
    return sorted(times)[len(times) // 2], peak


def unique(
    backend: str, size: int, rounds: int, gold: Path, keep: Path | None = None, build_only: bool = False
) -> dict:
    """Build and query one unique-text corpus; the figures as a dict. With *keep*, the store stays
    in that folder (PostgreSQL: schema ``bench_keep_<size>``) with its build figures, and a later
    run with the same *keep* measures the queries again without building; *build_only* stops
    after the build."""
    from openimr.core.models import Letter
    from openimr.services.corpus import fulltext
    from openimr.services.corpus.index import ensure_mapped, index_dir, sync_index, text_dir
    from openimr.services.corpus.search import Filters, Mode, Searcher
    from openimr.services.corpus.synthetic import synthesize_unique
    from openimr.store.db import make_engine, migrate

    letters = [Letter.model_validate_json(x) for x in gold.read_text(encoding="utf-8").splitlines()]
    tmp = tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP"))
    home = Path(keep, f"{backend}-{size}") if keep else Path(tmp.name)
    home.mkdir(parents=True, exist_ok=True)
    schema = f"bench_keep_{size}" if keep else f"bench_{uuid.uuid4().hex[:10]}"
    built = home / "build.json"
    if backend == "sqlite":
        url = f"sqlite:///{home}/bench.db"
    else:
        if not built.exists():
            with create_engine(PG).begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    os.environ["OPENIMR_INDEX_DIR"] = f"{home}/index"
    out: dict = {"backend": backend}
    try:
        if built.exists():
            out.update(json.loads(built.read_text(encoding="utf-8")))
            engine = make_engine(url)
            start = time.perf_counter()
            folder = ensure_mapped(engine)
            out["remap_s"] = round(time.perf_counter() - start, 1)  # 0 unless the index format changed
        else:
            migrate(url)
            engine = make_engine(url)
            start = time.perf_counter()
            out["issues"] = synthesize_unique(engine, letters, size)
            out["fill_s"] = round(time.perf_counter() - start, 1)
            start = time.perf_counter()
            sync_index(engine)
            out["index_s"] = round(time.perf_counter() - start, 1)
            start = time.perf_counter()
            fulltext.sync(engine, text_dir(engine))
            out["text_index_s"] = round(time.perf_counter() - start, 1)
            start = time.perf_counter()
            folder = ensure_mapped(engine)
            out["embed_map_s"] = round(time.perf_counter() - start, 1)
            out["build_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            if keep:
                built.write_text(json.dumps(out), encoding="utf-8")
        if build_only:
            return out
        with engine.connect() as conn:
            if backend == "sqlite":
                db_bytes = Path(home, "bench.db").stat().st_size
            else:
                db_bytes = conn.scalar(
                    text(
                        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                        " JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = :s AND c.relkind = 'r'"
                    ),
                    {"s": schema},
                )
            out["db_mb"] = round(db_bytes / 2**20)
            out["mapped_mb"] = round(sum(f.stat().st_size for f in folder.iterdir()) / 2**20)
            texts = text_dir(engine).rglob("*")
            out["text_index_mb"] = round(sum(f.stat().st_size for f in texts if f.is_file()) / 2**20)
            out["texts"] = conn.scalar(text("SELECT count(DISTINCT text_hash) FROM corpus_issues"))
        engine.dispose()
        first = subprocess.run(
            [sys.executable, "-c", FIRST, url, "lumbar MRI radiculopathy"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        out["first_query_s"], out["first_process_s"] = round(float(first[0]), 3), round(float(first[1]), 2)
        out["first_rss_mb"] = round(int(first[2]) / 1024)
        engine = make_engine(url)
        searcher = Searcher(engine)
        latencies: dict[str, list[float]] = {}
        bare = text(BARE[backend])
        with engine.connect() as conn:  # round 0 warms the caches, untimed, here and below
            for round_ in range(rounds + 1):
                for query, _filters in QUERIES:
                    words = query.lower().split()
                    q = " & ".join(words) if backend == "postgres" else " AND ".join(f'"{w}"' for w in words)
                    start = time.perf_counter()
                    conn.execute(bare, {"q": q}).all()
                    if round_:
                        latencies.setdefault("bare_fulltext", []).append(1000 * (time.perf_counter() - start))
        for mode in (Mode.text, Mode.hybrid):
            for filtered in (False, True):
                name = f"{mode.value}{'_filtered' if filtered else ''}"
                for round_ in range(rounds + 1):
                    for query, filters in QUERIES:
                        start = time.perf_counter()
                        searcher.search(query, Filters(**filters) if filtered else Filters(), 10, mode)
                        if round_:
                            latencies.setdefault(name, []).append(1000 * (time.perf_counter() - start))
        for name, values in latencies.items():
            out[f"{name}_p50_ms"] = round(percentile(values, 0.5), 1)
            out[f"{name}_p95_ms"] = round(percentile(values, 0.95), 1)
        engine.dispose()
        cli = str(Path(sys.executable).with_name("openimr"))
        base = ["search", "lumbar MRI radiculopathy", "--db", url, "--limit", "10"]
        for name, cmd in (
            ("python_pass", [sys.executable, "-c", "pass"]),
            ("cli_text", [cli, *base, "--mode", "text"]),
            ("cli_hybrid", [cli, *base]),
            ("cli_help", [cli, "--help"]),
            ("cli_search_help", [cli, "search", "--help"]),
        ):
            took, peak = median_run(cmd)
            out[f"{name}_s"] = round(took, 2)
            if name.startswith("cli_") and "help" not in name:
                out[f"{name}_mb"] = peak
        out["index_dir"] = str(index_dir(make_engine(url)).name)
    finally:
        if backend == "postgres" and not keep:
            with create_engine(PG).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        tmp.cleanup()
    return out


def one(backend: str, size: int, rounds: int, gold: Path) -> dict:
    """Build and query one synthetic corpus; the figures as a dict."""
    from openimr.core.models import Letter
    from openimr.services.corpus import embeddings
    from openimr.services.corpus.index import sync_index
    from openimr.services.corpus.search import Filters, Mode, Searcher
    from openimr.services.corpus.synthetic import synthesize
    from openimr.store.db import make_engine, migrate

    letters = [Letter.model_validate_json(x) for x in gold.read_text(encoding="utf-8").splitlines()]
    tmp = tempfile.TemporaryDirectory()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        url = f"sqlite:///{tmp.name}/bench.db"
    else:
        with create_engine(PG).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    try:
        migrate(url)
        engine = make_engine(url)
        start = time.perf_counter()
        issues = synthesize(engine, letters, size)
        fill_s = time.perf_counter() - start
        embeddings.embed(["warm up"])  # model load is not index build time
        start = time.perf_counter()
        sync_index(engine, embed=True)
        build_s = time.perf_counter() - start
        searcher = Searcher(engine)
        start = time.perf_counter()
        searcher.search("warm up", limit=10, mode=Mode.hybrid)
        load_s = time.perf_counter() - start
        latencies: dict[str, list[float]] = {"text": [], "hybrid": [], "embed": []}
        for _ in range(rounds):
            for query, _filters in QUERIES:
                start = time.perf_counter()
                embeddings.embed_query(query)
                latencies["embed"].append(1000 * (time.perf_counter() - start))
        for mode in (Mode.text, Mode.hybrid):
            for _ in range(rounds):
                for query, filters in QUERIES:
                    start = time.perf_counter()
                    searcher.search(query, Filters(**filters), limit=10, mode=mode)
                    latencies[mode.value].append(1000 * (time.perf_counter() - start))
        with engine.connect() as conn:
            if backend == "sqlite":
                db_mb = Path(tmp.name, "bench.db").stat().st_size / 2**20
            else:
                db_mb = (
                    conn.scalar(
                        text(
                            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                            " JOIN pg_namespace n ON n.oid = c.relnamespace"
                            " WHERE n.nspname = :s AND c.relkind = 'r'"
                        ),
                        {"s": schema},
                    )
                    / 2**20
                )
        engine.dispose()
    finally:
        if backend == "postgres":
            with create_engine(PG).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        tmp.cleanup()
    return {
        "backend": backend,
        "issues": issues,
        "fill_s": round(fill_s, 1),
        "build_s": round(build_s, 1),
        "load_s": round(load_s, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "db_mb": round(db_mb),
        **{
            f"{mode}_p{q}_ms": round(percentile(values, q / 100), 1)
            for mode, values in latencies.items()
            for q in (50, 95)
        },
    }


def bench_ingest(letters: Path) -> None:
    from openimr.services.corpus.ingest import ingest, ingest_dask
    from openimr.store.db import Store

    runs = {
        "--jobs 1": lambda url: ingest([letters], Store.open(url), jobs=1),
        "--jobs 2": lambda url: ingest([letters], Store.open(url), jobs=2),
        "--engine dask (2 workers, incl. cluster start)": lambda url: ingest_dask(
            [letters], Store.open(url), workers=2
        ),
    }
    for name, run in runs.items():
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            report = run(f"sqlite:///{tmp}/ingest.db")
            elapsed = time.perf_counter() - start
        n = len(report.stored)
        print(f"ingest {name:48s} {n} letters in {elapsed:5.1f} s = {n / elapsed:5.1f} letters/s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--gold", type=Path, default=SHARED / "gold.jsonl")
    ap.add_argument("--letters", type=Path, default=SHARED / "letters")
    ap.add_argument("--ingest", action="store_true", help="also time letters ingest: --jobs vs dask")
    ap.add_argument("--unique", action="store_true", help="letters with texts of their own (see above)")
    ap.add_argument("--keep", type=Path, help="with --unique: keep the stores here, reuse them next time")
    ap.add_argument("--build-only", action="store_true", help="with --unique --keep: build the stores only")
    ap.add_argument("--one", nargs=2, metavar=("BACKEND", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        if args.unique:
            figures = unique(
                args.one[0], int(args.one[1]), args.rounds, args.gold, args.keep, args.build_only
            )
        else:
            figures = one(args.one[0], int(args.one[1]), args.rounds, args.gold)
        print(json.dumps(figures), flush=True)
        return
    print(
        f"{os.cpu_count()} CPUs; {len(QUERIES)} filtered queries x {args.rounds} rounds, top 10", flush=True
    )
    for backend in args.backends:
        for size in args.sizes:
            cmd = [sys.executable, __file__, "--one", backend, str(size), "--rounds", str(args.rounds)]
            cmd += ["--unique"] if args.unique else []
            cmd += ["--keep", str(args.keep)] if args.keep else []
            cmd += ["--build-only"] if args.build_only else []
            out = subprocess.run([*cmd, "--gold", str(args.gold)], capture_output=True, text=True, check=True)
            print(out.stdout.strip().splitlines()[-1], flush=True)
    if args.ingest:
        bench_ingest(args.letters)


if __name__ == "__main__":
    main()
