"""Milliseconds per disputed item for `review_case`, after start-up, on the dev letters' cases.

    python bench/bench_review.py [GOLD.jsonl] [--rounds N]

Baseline in the same run: the two text steps every review needs (request parsing and clinical
fact extraction) without rules or models, so the ratio shows what the engine adds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from openimr.core.case import case_from_letter
from openimr.core.facts.pipeline import extract_facts
from openimr.core.requests import parse as parse_request
from openimr.core.review.engine import review_case
from openimr.core.review.train import load_records

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "dwc-letters" / "dev" / "gold.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gold", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cases = [case_from_letter(r) for r in load_records(args.gold)]
    n_items = sum(len(c.disputed_items) for c in cases)
    start = time.perf_counter()
    review_case(cases[0])  # start-up: models, rules and pipelines load once
    startup = time.perf_counter() - start

    def engine() -> None:
        for case in cases:
            review_case(case)

    def baseline() -> None:
        for case in cases:
            extract_facts(case.clinical_summary)
            for item in case.disputed_items:
                parse_request(item.item)

    timings = {}
    for name, fn in (("baseline", baseline), ("engine", engine)):
        best = float("inf")
        for _ in range(args.rounds):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        timings[name] = best * 1000 / n_items
    print(f"{len(cases)} cases, {n_items} items; start-up {startup * 1000:.0f} ms")
    print(f"baseline (parse request + extract facts): {timings['baseline']:.2f} ms/item")
    print(
        f"review_case (rules, criteria, models, rationale): {timings['engine']:.2f} ms/item "
        f"({timings['engine'] / timings['baseline']:.1f} x baseline)"
    )


if __name__ == "__main__":
    main()
