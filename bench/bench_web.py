"""Latency and throughput of the web API under concurrent users, on SQLite and on PostgreSQL.

    python bench/bench_web.py [--users 50] [--seconds 20] [--think 1.0] [--warmup 3] [--cases 200]
                              [--workers 1] [--backends sqlite,postgres]
    python bench/bench_web.py --users 1,10,25,50 --think 0 --workers 1,2   # the throughput curve

For each backend: a fresh database with the web demo plus ``--cases`` more open cases spread over
the reviewers, served by ``openimr serve`` on a free loopback port. Each of ``--users`` simulated
users (reviewers and coordinators, each with their own API token) repeats: open the worklist
(``GET /api/cases``), open one of its cases (``GET /api/cases/{n}``, an audited read), then pause
``--think`` seconds on average (a person reading; 0 = back-to-back). Users arrive over the first
think time; requests in the first ``--warmup`` seconds are not timed; the timed run is bounded by
``--seconds``.
``--users`` and ``--workers`` take lists: one server per worker count (``openimr serve --workers N``),
one timed run per user count, one Markdown table row each (requests/s, p50/p95 per page). Only
loopback addresses are used.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from openimr.services import demo as examples
from openimr.services import web_demo as demo
from openimr.services.cases import CaseService, operator
from openimr.store.db import Store

PG_URL = os.environ.get("OPENIMR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HOST = "127.0.0.1"


def populate(url: str, count: int) -> None:
    """The web demo plus about *count* more open cases, assigned where a reviewer qualifies."""
    store = Store.open(url)
    cases, who = CaseService(store), operator("openimr-web")
    try:
        today = dt.date.today()
        demo.load(cases, today)
        with store.engine.begin() as conn:  # room for every bench case
            conn.execute(text("UPDATE reviewers SET capacity = 100"))
        made, day = 0, 30
        while made < count:
            for example in examples.examples(today - dt.timedelta(days=day % 28)):
                case = example.case.model_copy(
                    update={"clinical_summary": f"{example.case.clinical_summary} (bench {made})"}
                )
                cases.create_case(who, case)
                made += 1
            day += 1
        cases.assign(who, None, today)
    finally:
        store.close()


@contextmanager
def postgres_url():
    """A fresh schema on the local PostgreSQL server, dropped afterwards."""
    admin = create_engine(PG_URL)
    schema = f"openimr_bench_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def sqlite_url():
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def server(url: str, workers: int = 1, *options: str, env: dict[str, str] | None = None):
    """``openimr serve`` (with *options*, and *env* added to the environment) on a free loopback
    port; yields its base URL once it answers."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "openimr"),
        "serve",
        "--db",
        url,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        *options,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    base = f"http://{HOST}:{port}"
    try:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"the server stopped: {process.stderr.read().decode()[-2000:]}")
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


async def timed(
    client: httpx.AsyncClient, path: str, headers: dict, page: str, measure: float, times: dict
) -> httpx.Response | None:
    """GET *path*, its latency recorded under *page* once timing has started; None on failure."""
    start = time.perf_counter()
    try:
        answer = await client.get(path, headers=headers)
    except httpx.TransportError:
        answer = None
    if start >= measure:
        times[page].append(time.perf_counter() - start)
    if answer is None or answer.status_code != 200:
        times["failed"].append(0.0)
        return None
    return answer


async def user(
    client: httpx.AsyncClient, token: str, measure: float, stop: float, think: float, times: dict, seed: int
) -> None:
    """One user's visits; only those that start after *measure* are timed."""
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, think))  # users arrive over the first think time
    while time.perf_counter() < stop:
        answer = await timed(client, "/api/cases?limit=50", headers, "worklist", measure, times)
        numbers = [c["case_number"] for c in answer.json()["items"]] if answer else []
        if numbers:
            await timed(client, f"/api/cases/{rng.choice(numbers)}", headers, "case", measure, times)
        if think:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))


async def drive(base: str, users: int, seconds: float, think: float, warmup: float) -> tuple[dict, float]:
    usernames = [name for name, role, code in demo.accounts() if role in ("reviewer", "coordinator")]
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        tokens = {}
        for name in usernames:
            answer = await client.post("/api/tokens", json={"username": name, "password": demo.PASSWORD})
            tokens[name] = answer.json()["token"]
        times: dict[str, list[float]] = defaultdict(list)
        measure = time.perf_counter() + warmup
        stop = measure + seconds
        await asyncio.gather(
            *(
                user(client, tokens[usernames[i % len(usernames)]], measure, stop, think, times, i)
                for i in range(users)
            )
        )
        return times, time.perf_counter() - measure


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def summary(times: dict, elapsed: float) -> dict[str, float]:
    """Requests/s, failures and each page's p50/p95/p99 (ms) of one timed run."""
    failed = len(times.pop("failed", []))
    total = sum(len(v) for v in times.values())
    out = {"requests": total, "rate": total / elapsed, "failed": failed}
    for page, values in times.items():
        for q in (50, 95, 99):
            out[f"{page} p{q}"] = percentile(values, q) * 1000
    return out


def row(r: dict[str, float]) -> str:
    """A run's figures as the rest of a Markdown table row."""
    pages = (
        f"{r.get(f'{page} p50', 0):.0f} / {r.get(f'{page} p95', 0):.0f} ms" for page in ("case", "worklist")
    )
    return f"{r['rate']:.1f} | {' | '.join(pages)} | {r['failed']:.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="50", help="Simulated users; a comma-separated list is a curve.")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=3.0, help="Seconds run before timing starts.")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--workers", default="1", help="Server worker processes; a comma-separated list.")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    users = [int(u) for u in args.users.split(",")]
    print(
        f"{args.seconds:.0f} s per run after {args.warmup:.0f} s warm-up, think {args.think} s, "
        f"{args.cases} extra cases, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
    )
    print("| backend | workers | users | think | requests/s | case p50 / p95 | worklist p50 / p95 | failed |")
    print("|---|---|---|---|---|---|---|---|")
    databases = {"sqlite": sqlite_url, "postgres": postgres_url}
    for backend in args.backends.split(","):
        with databases[backend]() as url:
            populate(url, args.cases)
            for workers in (int(w) for w in args.workers.split(",")):
                with server(url, workers) as base:
                    for count in users:
                        r = summary(*asyncio.run(drive(base, count, args.seconds, args.think, args.warmup)))
                        print(f"| {backend} | {workers} | {count} | {args.think:g} s | {row(r)}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
