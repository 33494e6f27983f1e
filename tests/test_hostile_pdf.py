"""Hostile PDFs end in a one-line error within seconds and far under 1 GB, wherever a letter is read:
``letters parse``, ``letters ingest`` (the batch goes on) and ``POST /api/letters/parse``.

The PDFs are written at test time (:mod:`hostile_pdf`): a 0.6 MB file whose one stream inflates to
200 MB of text operators, a page of a million characters, 20,000 pages of text, 5,000 empty pages.
Before the bounds, the bomb held its reader for a minute at 4.6 GB and then crashed the process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import hostile_pdf
from openimr.core.letters import pdf
from openimr.core.letters.errors import LetterError
from openimr.core.letters.extract import read_text
from openimr.core.letters.parse import read_paths
from test_web_api import Api, api  # noqa: F401  (fixtures)

OPENIMR = Path(sys.executable).with_name("openimr")
HANG = 120  # seconds: only a guard against a hang, far past what any of these takes


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    made = {
        "bomb": hostile_pdf.bomb(200_000_000),
        "long-page": hostile_pdf.long_page(),
        "pages": hostile_pdf.pages(20_000),
        "empty": hostile_pdf.pages(5_000, text=False),
    }
    for name, data in made.items():
        (folder / f"{name}.pdf").write_bytes(data)
    return {name: folder / f"{name}.pdf" for name in made}


PROBLEMS = {
    "bomb": f"over {pdf.MEMORY_LIMIT // 2**20} MB",
    "long-page": "page 1 holds 990,",
    "pages": "PDF has 20,000 pages: more than one letter holds",
    "empty": "PDF has 5,000 pages: more than one letter holds",
}


def test_the_bomb_is_small_on_disk(hostile: dict[str, Path]) -> None:
    assert hostile["bomb"].stat().st_size < 700_000


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_a_hostile_pdf_is_refused_naming_the_bound(hostile: dict[str, Path], name: str) -> None:
    with pytest.raises(LetterError) as raised:
        read_text(hostile[name])
    assert PROBLEMS[name] in raised.value.problem and "\n" not in str(raised.value)


def test_the_characters_are_bounded_as_they_are_read(tmp_path: Path) -> None:
    path = tmp_path / "many.pdf"
    path.write_bytes(hostile_pdf.pages(150, lines=60))  # 150 pages of 2,519 characters
    assert len(read_text(path)) > 300_000
    with pytest.raises(LetterError, match=r"over 100,000 characters by page 40\)"):
        pdf.pdf_text(path.read_bytes(), path.name, 100_000)


def test_a_file_past_the_time_limit_is_stopped_and_the_next_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = hostile_pdf.pages(200, lines=60)
    monkeypatch.setattr(pdf, "TIME_LIMIT", 0.005)
    with pytest.raises(LetterError, match=r"reading the PDF took over 0.005 s"):
        pdf.pdf_text(slow, "slow.pdf", 10**7)
    monkeypatch.setattr(pdf, "TIME_LIMIT", 10.0)
    assert "repeats" in pdf.pdf_text(hostile_pdf.pages(1), "one.pdf", 10**7)


# Runs a command and writes the peak RSS (KB) of the processes under it to the file given first:
# a fresh process, so nothing this test process ran before counts.
_PEAK = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[2:]).returncode;"
    " open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss));"
    " sys.exit(code)"
)


def _run(*args: str | Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``openimr ARGS``; its result and the peak RSS in MB of it and its worker processes."""
    with tempfile.TemporaryDirectory() as folder:
        peak = Path(folder) / "peak"
        command = [sys.executable, "-c", _PEAK, peak, OPENIMR, *args]
        done = subprocess.run(list(map(str, command)), capture_output=True, text=True, timeout=HANG)
        return done, int(peak.read_text()) / 1024


def test_letters_parse_ends_each_hostile_pdf_in_one_line(hostile: dict[str, Path]) -> None:
    done, peak = _run("letters", "parse", *hostile.values())
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == len(hostile)
    for line, (name, path) in zip(lines, hostile.items(), strict=True):
        assert line.startswith(f"error: {path}: ") and PROBLEMS[name] in line
    assert peak < 600, f"peak RSS {peak:.0f} MB"


def test_letters_ingest_stores_the_good_letters_beside_a_bomb(
    hostile: dict[str, Path], letters_dir: Path, tmp_path: Path
) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    shutil.copy(hostile["bomb"], batch / "a-bomb.pdf")
    good = sorted(letters_dir.glob("*.pdf"))[:3]
    for path in good:
        shutil.copy(path, batch / path.name)
    done, peak = _run("letters", "ingest", "--db", f"sqlite:///{tmp_path / 'store.db'}", batch)
    assert done.returncode == 1, done.stderr
    assert f"error: {batch / 'a-bomb.pdf'}: " in done.stderr
    assert done.stderr.splitlines()[-1] == f"{len(good)} stored, 0 already stored, 1 failed"
    assert peak < 600, f"peak RSS {peak:.0f} MB"


def test_parser_processes_each_read_with_their_own_workers(
    hostile: dict[str, Path], letters_dir: Path
) -> None:
    good = sorted(letters_dir.glob("*.pdf"))[:4]
    results = dict(read_paths([hostile["bomb"], *good, hostile["empty"]], jobs=2))
    assert all(isinstance(results[path], LetterError) for path in (hostile["bomb"], hostile["empty"]))
    assert not any(isinstance(results[path], LetterError) for path in good)


def test_the_web_parse_answers_a_bomb_with_422(
    request: pytest.FixtureRequest, hostile: dict[str, Path]
) -> None:
    web: Api = request.getfixturevalue("api")
    files = {"file": ("bomb.pdf", hostile["bomb"].read_bytes(), "application/pdf")}
    answer = web.call("analyst", "POST", "/api/letters/parse", files=files)
    assert answer.status_code == 422 and PROBLEMS["bomb"] in answer.json()["message"]
    assert "/tmp" not in answer.text
    files = {"file": ("pages.pdf", hostile["pages"].read_bytes(), "application/pdf")}
    answer = web.call("analyst", "POST", "/api/letters/parse", files=files)
    assert answer.status_code == 422 and PROBLEMS["pages"] in answer.json()["message"]


def test_web_parses_run_in_a_bounded_number_of_threads(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of uploads: at most as many parse at once as there are PDF readers; the others wait
    on the event loop, holding none of the threads every other request needs."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from openimr.web import corpus_api as web_api

    web: Api = request.getfixturevalue("api")
    lock, active, most = threading.Lock(), [0], [0]
    read = web_api.read_bytes

    def slow_read(data: bytes, name: str):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return read(data, name)

    monkeypatch.setattr(web_api, "read_bytes", slow_read)
    monkeypatch.setattr(web_api, "PARSE_QUEUE", 100)  # all of them wait (the next test refuses)
    files = {"file": ("junk.txt", b"hello")}
    web.token("analyst")
    with ThreadPoolExecutor(12) as pool:
        answers = list(
            pool.map(lambda _: web.call("analyst", "POST", "/api/letters/parse", files=files), range(12))
        )
    assert [a.status_code for a in answers] == [422] * 12
    assert most[0] == pdf.WORKERS


def test_a_parse_past_the_queue_is_refused_at_once_with_retry_after(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from openimr.web import corpus_api as web_api

    web: Api = request.getfixturevalue("api")
    web.token("analyst")
    monkeypatch.setattr(web_api, "PDF_READERS", 1)
    monkeypatch.setattr(web_api, "PARSE_QUEUE", 0)
    reading, release = threading.Event(), threading.Event()
    read = web_api.read_bytes

    def held(data: bytes, name: str):
        reading.set()
        release.wait(30)
        return read(data, name)

    monkeypatch.setattr(web_api, "read_bytes", held)
    files = {"file": ("junk.txt", b"hello")}
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(web.call, "analyst", "POST", "/api/letters/parse", files=files)
        assert reading.wait(30)
        refused = web.call("analyst", "POST", "/api/letters/parse", files=files)
        release.set()
        assert first.result().status_code == 422
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert refused.json()["error"] == "busy"
