"""A signed-in user's case reads while anonymous clients flood sign-in with wrong passwords, and a
freshly started server under many clients at once, on SQLite and on PostgreSQL.

    python bench/bench_floods.py [--flooders 20] [--reads 40] [--clients 50] [--backends sqlite,postgres]
                                 [--only flood|fresh] [--no-address-throttle]

``flood``: ``openimr serve --demo`` on a fresh database; ``--flooders`` clients post wrong passwords
to ``POST /api/tokens`` back to back (each a made-up username) while one signed-in coordinator reads
a case ``--reads`` times; prints the reads' p50 and max and the flood's answers by status.
``fresh``: a newly started server, ``--clients`` clients at once each signing in (waiting the
Retry-After of a 429) and then reading the case list and a case, 10 rounds; prints the answers by
status (a 5xx or a 10 s timeout is an error).
Only loopback addresses are used. Figures are for the machine they ran on: compare ratios.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import threading
import time
from contextlib import contextmanager

import httpx

from bench_web import postgres_url, server, sqlite_url
from openimr.services import web_demo as demo


@contextmanager
def database(backend: str):
    """A fresh database URL: a SQLite file or a throw-away PostgreSQL schema."""
    with sqlite_url() if backend == "sqlite" else postgres_url() as url:
        yield url


def signed_in(base: str, username: str = "coordinator") -> tuple[dict[str, str], str]:
    answer = httpx.post(
        f"{base}/api/tokens", json={"username": username, "password": demo.PASSWORD}, timeout=60
    )
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    case = httpx.get(f"{base}/api/cases", headers=headers, timeout=60).json()["items"][0]["case_number"]
    return headers, case


def flood(base: str, flooders: int, reads: int) -> str:
    headers, case = signed_in(base)
    stop, codes = threading.Event(), collections.Counter()

    def attack(n: int) -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                body = {"username": f"nobody-{n}", "password": "guess"}
                codes[client.post(f"{base}/api/tokens", json=body).status_code] += 1

    threads = [threading.Thread(target=attack, args=(n,), daemon=True) for n in range(flooders)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    times = []
    with httpx.Client(timeout=120, headers=headers) as client:
        for _ in range(reads):
            start = time.perf_counter()
            status = client.get(f"{base}/api/cases/{case}").status_code
            times.append((time.perf_counter() - start) * 1000)
            assert status == 200, status
    stop.set()
    for thread in threads:
        thread.join(120)
    p50, worst = statistics.median(times), max(times)
    return f"case read p50 {p50:.0f} ms, max {worst:.0f} ms; flood answers {dict(codes)}"


def fresh(base: str, clients: int) -> str:
    _, case = signed_in(base)
    codes: collections.Counter = collections.Counter()
    barrier = threading.Barrier(clients)
    body = {"username": "coordinator", "password": demo.PASSWORD}

    def user() -> None:
        with httpx.Client(timeout=10) as client:
            barrier.wait()
            token = None
            for _ in range(60):  # sign in, waiting as told while too many sign in at once
                try:
                    answer = client.post(f"{base}/api/tokens", json=body)
                except httpx.TimeoutException:
                    codes["timeout"] += 1
                    continue
                codes[answer.status_code] += 1
                if answer.status_code == 201:
                    token = answer.json()["token"]
                    break
                if answer.status_code != 429:
                    return
                time.sleep(float(answer.headers.get("retry-after", "1")))
            if token is None:
                return
            client.headers["Authorization"] = f"Bearer {token}"
            for _ in range(10):
                for path in ("/api/cases", f"/api/cases/{case}"):
                    try:
                        codes[client.get(base + path).status_code] += 1
                    except httpx.TimeoutException:
                        codes["timeout"] += 1

    threads = [threading.Thread(target=user, daemon=True) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    took = time.perf_counter() - start
    errors = sum(n for code, n in codes.items() if code == "timeout" or int(code) >= 500)
    return f"{sum(codes.values())} requests in {took:.0f} s, {errors} errors: {dict(codes)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flooders", type=int, default=20)
    parser.add_argument("--reads", type=int, default=40)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--only", choices=["flood", "fresh"], default=None)
    parser.add_argument(
        "--no-address-throttle",
        action="store_true",
        help="Raise the per-address limit out of reach, as if each flooder came from an address of its own.",
    )
    args = parser.parse_args()
    env = {"OPENIMR_LOGIN_MAX_ADDRESS_FAILURES": "1000000000"} if args.no_address_throttle else {}
    for backend in args.backends.split(","):
        if args.only in (None, "flood"):
            with database(backend) as url, server(url, 1, "--demo", env=env) as base:
                print(f"{backend} flood ({args.flooders} clients): {flood(base, args.flooders, args.reads)}")
        if args.only in (None, "fresh"):
            with database(backend) as url, server(url, 1, "--demo") as base:
                print(f"{backend} fresh server ({args.clients} clients): {fresh(base, args.clients)}")


if __name__ == "__main__":
    main()
