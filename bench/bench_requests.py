"""Benchmark ``openimr.core.requests.parse`` on one core: items/s, against a bare regex tokenization.

Usage: python bench/bench_requests.py [REQUESTS.jsonl] [--seconds S]
Items come from the labeled dev items in ../shared when present, else from generic examples.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from openimr.core.requests import parse

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared/data/dwc-letters/dev/requests.jsonl"
GENERIC = [
    "Norco 10/325mg #60",
    "Physical therapy 2 times a week for 6 weeks for the lumbar spine",
    "MRI of the right shoulder without contrast",
    "Retrospective Cyclobenzaprine 7.5mg #60 DOS: 01/05/17",
    "Acupuncture 12 sessions, neck and left wrist",
    "Flurbiprofen 20%/Lidocaine 5% cream 180gm #1",
    "EMG/NCV of the bilateral upper extremities",
    "Post-op cold therapy unit 7 day rental",
]
_TOKEN = re.compile(r"\w+")


def _items(path: Path) -> list[str]:
    if path.exists():
        return [json.loads(line)["item"] for line in path.open() if line.strip()]
    return GENERIC


def _rate(fn: Callable[[str], object], items: list[str], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for item in items:
            fn(item)
        done += len(items)
    return done / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("items", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--seconds", type=float, default=2.0)
    a = ap.parse_args()
    items = _items(a.items)
    parse(items[0])  # load the dictionaries once, as a long-running process would
    baseline = _rate(_TOKEN.findall, items, a.seconds)
    rate = _rate(parse, items, a.seconds)
    print(f"items: {len(items)} distinct")
    print(f"baseline (regex \\w+ tokenization): {baseline:,.0f} items/s")
    print(f"openimr.core.requests.parse:            {rate:,.0f} items/s (1 core)")
    print(f"ratio parse/baseline: {rate / baseline:.3f} (parse is {baseline / rate:.1f}x slower)")


if __name__ == "__main__":
    main()
