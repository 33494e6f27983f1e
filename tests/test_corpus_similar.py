"""Similar past decisions on the dev letters: nDCG@10 against the labeled requests, and a
plain token-overlap ranking run alongside as the baseline it must beat."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from openimr.core.models import Letter
from openimr.services.corpus.similar import SimilarIndex, tokens


@pytest.fixture(scope="module")
def setup(gold_path: Path, requests_path: Path):
    letters = [Letter.model_validate_json(x) for x in gold_path.read_text(encoding="utf-8").splitlines()]
    labels = {(r["file"], r["issue_index"]): r["request"] for r in map(json.loads, requests_path.open())}
    index = SimilarIndex.from_letters(letters)
    file_of = {letter.case_number or letter.file: letter.file for letter in letters}
    gold = [labels[(file_of[r.letter], r.position)] for r in index.records]
    return index, gold


def relevant(a: dict, b: dict) -> bool:
    """Same labeled category and a shared labeled body part (or neither names one)."""
    parts_a, parts_b = set(a["body_parts"]), set(b["body_parts"])
    return a["category"] == b["category"] and (bool(parts_a & parts_b) or not (parts_a or parts_b))


def ndcg10(ranked: list[int], query: int, gold: list[dict], pool: list[int]) -> float | None:
    """nDCG@10 of *ranked* for *query*; None when no other letter's item is relevant."""
    total = sum(relevant(gold[query], gold[j]) for j in pool)
    if not total:
        return None
    dcg = sum(relevant(gold[query], gold[j]) / math.log2(i + 2) for i, j in enumerate(ranked[:10]))
    return dcg / sum(1 / math.log2(i + 2) for i in range(min(10, total)))


def test_similar_beats_token_overlap(setup) -> None:
    index, gold = setup
    records = index.records
    position = {id(r): i for i, r in enumerate(records)}
    ours, baseline = [], []
    for q, record in enumerate(records):
        pool = [j for j, r in enumerate(records) if r.letter != record.letter]
        matches = index.similar(record, k=10, exclude_letter=record.letter)
        assert all(m.record.letter != record.letter for m in matches)
        score = ndcg10([position[id(m.record)] for m in matches], q, gold, pool)
        if score is None:
            continue
        words = set(tokens(record.item))

        def overlap(j: int, words: set[str] = words) -> float:
            other = set(tokens(records[j].item))
            return len(words & other) / max(1, len(words | other))

        ours.append(score)
        baseline.append(ndcg10(sorted(pool, key=lambda j: (-overlap(j), j)), q, gold, pool))
    ours_mean, baseline_mean = sum(ours) / len(ours), sum(baseline) / len(baseline)
    print(f"nDCG@10 over {len(ours)} items: similar {ours_mean:.3f}, token overlap {baseline_mean:.3f}")
    assert ours_mean >= 0.8
    assert ours_mean > baseline_mean


def test_similar_takes_text_request_and_exclusion(setup) -> None:
    index, _ = setup
    from openimr.core.requests import parse

    by_text = index.similar("Norco 10/325mg #120", k=5)
    assert len(by_text) == 5 and all(m.record.features.category == "drug" for m in by_text)
    scores = [m.score for m in by_text]
    assert scores == sorted(scores, reverse=True)
    by_request = index.similar(parse("MRI of the lumbar spine"), k=3)
    assert all(m.record.features.category == "imaging" for m in by_request)
    letter = by_text[0].record.letter
    assert all(m.record.letter != letter for m in index.similar("Norco 10/325mg #120", 5, letter))
    assert SimilarIndex([]).similar("anything") == []
