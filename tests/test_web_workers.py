"""``openimr serve --workers 2``: two processes serve one store, sessions and all.

A session opened through one worker is honoured by the other: sessions, CSRF tokens and sign-in
failures live in the store, never in a worker's memory. Which worker answered is read from the
kernel (each worker's CPU time), so the app needs no header naming it.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from helpers import csrf_token
from openimr.services import web_demo as demo

OPENIMR = str(Path(sys.executable).with_name("openimr"))
HOST = "127.0.0.1"
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads worker CPU time in /proc")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def children(pid: int) -> list[int]:
    """The processes whose parent is *pid*."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cpu_ticks(pid: int) -> int:
    """User + system CPU ticks *pid* has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """``openimr serve --demo --workers 2`` on a free port: its base URL and its workers' pids."""
    port = free_port()
    command = [OPENIMR, "serve", "--demo", "--workers", "2", "--db", f"sqlite:///{tmp_path / 'web.db'}"]
    server = subprocess.Popen(
        [*command, "--host", HOST, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the server did not answer"
            workers = children(server.pid)
            try:
                if len(workers) >= 2 and httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield base, workers
    finally:
        server.terminate()
        server.wait(timeout=30)


def sign_in(base: str) -> dict[str, str]:
    """The cookies of a coordinator signed in through the form (its CSRF token included)."""
    with httpx.Client(base_url=base) as client:
        form = client.get("/login")
        answer = client.post(
            "/login",
            data={"username": "coordinator", "password": demo.PASSWORD, "csrf_token": csrf_token(form.text)},
        )
        assert answer.status_code == 303, answer.text[:500]
        return dict(client.cookies)


def test_two_workers_share_sessions_and_both_serve(two_workers: tuple[str, list[int]]) -> None:
    base, workers = two_workers
    cookies = sign_in(base)
    with httpx.Client(base_url=base, cookies=cookies) as client:
        worklist = client.get("/worklist")
        assert worklist.status_code == 200
        numbers = sorted(set(re.findall(r'href="/cases/([A-Z]{2}\d{2}-\d+)"', worklist.text)))
    assert numbers, "the coordinator's worklist lists no case"
    before = {pid: cpu_ticks(pid) for pid in workers}

    close = {"Connection": "close"}

    def read(k: int) -> tuple[int, str]:
        # A new connection each time, so the kernel hands each to whichever worker accepts first.
        with httpx.Client(base_url=base, cookies=cookies, headers=close, timeout=120) as c:
            answer = c.get(f"/cases/{numbers[k % len(numbers)]}")
            return answer.status_code, answer.text

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(read, range(40)))
    assert all(status == 200 for status, _ in answers), {status for status, _ in answers}
    assert all(numbers[k % len(numbers)] in text for k, (_, text) in enumerate(answers))
    used = {pid: cpu_ticks(pid) - before[pid] for pid in workers}
    assert sum(1 for ticks in used.values() if ticks > 0) >= 2, f"CPU ticks per worker: {used}"
