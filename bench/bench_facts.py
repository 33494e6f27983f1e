"""Milliseconds per case summary for ``extract_facts``, after start-up, on the dev gold summaries.

    python bench/bench_facts.py [GOLD_JSONL] [--rounds N]

Prints start-up time (compiling the rule files), then the best of N rounds over every summary:
mean and worst milliseconds per summary, and the mean summary length in words.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from openimr.core.facts import extract_facts
from openimr.core.facts.pipeline import warm_up

DEFAULT_GOLD = Path(__file__).resolve().parents[2] / "shared" / "data" / "dwc-letters" / "dev" / "gold.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold", nargs="?", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with args.gold.open(encoding="utf-8") as fh:
        summaries = [json.loads(line).get("clinical_summary") or "" for line in fh if line.strip()]

    start = time.perf_counter()
    warm_up()
    startup = time.perf_counter() - start

    best_total, best_worst = float("inf"), float("inf")
    for _ in range(args.rounds):
        times = []
        for text in summaries:
            t = time.perf_counter()
            extract_facts(text)
            times.append(time.perf_counter() - t)
        best_total, best_worst = min(best_total, sum(times)), min(best_worst, max(times))

    words = sum(len(s.split()) for s in summaries) / len(summaries)
    facts = sum(len(extract_facts(s).facts) for s in summaries)
    print(f"summaries: {len(summaries)}  mean words: {words:.0f}  facts: {facts}")
    print(f"start-up: {startup * 1000:.0f} ms")
    print(f"per summary: {best_total / len(summaries) * 1000:.2f} ms mean, {best_worst * 1000:.2f} ms worst")


if __name__ == "__main__":
    main()
