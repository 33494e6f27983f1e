"""Search at scale: the mapped index, windowed full-text ranking, vector lists, the static embedding
model with its quality floor on the judged query set, and the unique-text synthetic corpus."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from corpus_store import filled_store
from openimr.core.models import Letter
from openimr.services.corpus import embeddings, index, search
from openimr.services.corpus.index import build_mapped, current_meta, ensure_mapped, index_dir, sync_index
from openimr.services.corpus.search import Filters, Mode, Searcher
from openimr.services.corpus.synthetic import synthesize_unique
from openimr.store.db import make_engine, migrate
from openimr.store.ingest import store_letter

JUDGMENTS = Path(__file__).parent / "data" / "search_judgments.json"
needs_model = pytest.mark.skipif(not embeddings.available(), reason="the static embedding model is missing")


@pytest.fixture(scope="module")
def gold(gold_path: Path) -> list[Letter]:
    return [Letter.model_validate_json(line) for line in gold_path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, gold: list[Letter]):
    return filled_store(f"sqlite:///{tmp_path_factory.mktemp('scale') / 'store.db'}", gold)


def _fresh() -> None:
    """Forget the opened mapped indexes, as a new process would."""
    search._CORPORA.clear()


def test_mapped_index_is_opened_not_rebuilt(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = ensure_mapped(engine)
    assert folder.parent == index_dir(engine) and (folder / "ids.npy").is_file()
    queries = [("MRI", Filters(body_part="lumbar spine")), ("acupuncture", Filters()), ("norco", Filters())]
    before = [Searcher(engine).search(q, f, 10, Mode.hybrid) for q, f in queries]
    _fresh()

    def no_build(_engine):
        raise AssertionError("the mapped index was rebuilt")

    monkeypatch.setattr(index, "build_mapped", no_build)
    assert [Searcher(engine).search(q, f, 10, Mode.hybrid) for q, f in queries] == before
    assert all(before)


def _bare_ranking(engine, q: str) -> list[int]:
    """Issue ids of the documents matching *q*, every match ranked by the same BM25, best first."""
    sql = (
        "SELECT ci.id FROM corpus_doc_fts AS f JOIN corpus_issues AS ci ON ci.doc_id = f.rowid"
        " WHERE corpus_doc_fts MATCH :q ORDER BY bm25(corpus_doc_fts, 4.0, 1.0, 0.5), f.rowid, ci.id"
    )
    with engine.connect() as conn:
        return list(conn.execute(text(sql), {"q": q}).scalars())


def test_top_k_equals_full_ranking_on_a_small_store(engine) -> None:
    for query in ("physical therapy", "mri", "medically necessary"):
        quoted = " AND ".join(f'"{w}"' for w in query.split())
        hits = Searcher(engine).search(query, limit=25, mode=Mode.text)
        ids = _ids(engine, hits)
        assert ids == _bare_ranking(engine, quoted)[: len(ids)] and len(ids) == 25


def _ids(engine, hits) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT coalesce(l.case_number, l.file), ci.position, ci.id FROM corpus_issues AS ci"
                " JOIN letters AS l ON l.id = ci.letter_id"
            )
        ).all()
    of = {(letter, position + 1): i for letter, position, i in rows}
    return [of[(h.letter, h.item_number)] for h in hits]


def test_many_matches_are_ranked_a_window_at_a_time(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "WINDOW", 20)
    quoted = '"medically" AND "necessary"'
    ranked = _bare_ranking(engine, quoted)
    with engine.connect() as conn:
        newest = conn.execute(
            text(
                "SELECT rowid FROM corpus_doc_fts WHERE corpus_doc_fts MATCH :q ORDER BY rowid DESC LIMIT 20"
            ),
            {"q": quoted},
        ).scalars()
        docs = set(newest)
        doc_of = dict(conn.execute(text("SELECT id, doc_id FROM corpus_issues")).all())
    assert len(ranked) > 40
    hits = _ids(engine, Searcher(engine).search("medically necessary", limit=10, mode=Mode.text))
    assert hits == [i for i in ranked if doc_of[i] in docs][:10]
    filtered = Searcher(engine).search("medically necessary", Filters(decision="Overturned"), 50, Mode.text)
    assert filtered and {h.decision for h in filtered} == {"Overturned"}


@needs_model
def test_vector_lists_find_what_an_exhaustive_search_finds(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    exact = search._CORPORA.get(engine) or search._corpus(engine, engine.connect())
    assert exact.lists == 1
    query = embeddings.embed_query("lumbar spine MRI")
    _, scores = exact.nearest(query, 10)
    assert np.all(np.diff(scores) <= 1e-6)
    everything = exact.similarity(np.arange(len(exact.texts.starts) - 1), query)
    assert np.allclose(np.sort(everything)[::-1][:10], scores, atol=1e-5)
    monkeypatch.setattr(index, "EXACT_VECTORS", 10)
    monkeypatch.setattr(search, "PROBES", 10**6)  # every list probed: exact again
    _fresh()
    build_mapped(engine)
    listed = search._corpus(engine, engine.connect())
    assert listed.lists > 1
    assert np.allclose(listed.nearest(query, 10)[1], scores, atol=1e-5)
    _fresh()


def test_changed_corpus_is_indexed_again(tmp_path: Path, gold: list[Letter]) -> None:
    engine = filled_store(f"sqlite:///{tmp_path / 'store.db'}", gold[:5])
    first = current_meta(index_dir(engine))
    assert first and first[1]["issues"] == sum(len(x.issues) for x in gold[:5])
    with engine.begin() as conn:
        for letter in gold[5:8]:
            store_letter(conn, letter, hashlib.sha256(letter.model_dump_json().encode()).hexdigest())
    item = gold[6].issues[0].item
    assert sync_index(engine) == sum(len(x.issues) for x in gold[5:8])
    hits = Searcher(engine).search(item, limit=50, mode=Mode.text)
    assert any(h.item == item for h in hits)
    assert current_meta(index_dir(engine))[1]["issues"] == sum(len(x.issues) for x in gold[:8])


@needs_model
def test_static_embeddings_are_mean_token_vectors() -> None:
    tokenizer = embeddings._model()[0]
    got = embeddings.embed(["Lumbar spine MRI", "", "physical therapy 2 times a week"])
    assert got.shape == (3, embeddings.DIM) and not got[1].any()
    ids = tokenizer.encode("Lumbar spine MRI", add_special_tokens=False).ids
    mean = embeddings.token_vectors(np.array(ids)).mean(axis=0)
    assert np.allclose(got[0], mean / np.linalg.norm(mean), atol=1e-6)
    assert np.allclose(embeddings.embed_query("physical therapy 2 times a week"), got[2])


def _metrics(ranked: list[tuple[str, int]], relevant: set[tuple[str, int]]) -> tuple[float, float]:
    gains = [1.0 if key in relevant else 0.0 for key in ranked[:10]]
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains)) / ideal, sum(gains) / min(10, len(relevant))


def test_judged_queries_are_ours_and_match_their_rules(gold: list[Letter]) -> None:
    queries = json.loads(JUDGMENTS.read_text(encoding="utf-8"))["queries"]
    assert len(queries) >= 30
    items = {(x.case_number or x.file, n): i.item for x in gold for n, i in enumerate(x.issues, 1)}
    for query in queries:
        assert query["relevant"], query["query"]
        for letter, n in query["relevant"]:
            assert all(re.search(p, items[(letter, n)], re.IGNORECASE) for p in query["rule"])
        assert query["query"] not in items.values()


@needs_model
@pytest.mark.parametrize(("mode", "floor"), [(Mode.text, 0.6), (Mode.semantic, 0.6), (Mode.hybrid, 0.65)])
def test_quality_floor_on_the_judged_queries(engine, mode: Mode, floor: float) -> None:
    queries = json.loads(JUDGMENTS.read_text(encoding="utf-8"))["queries"]
    searcher = Searcher(engine)
    ndcg = []
    for query in queries:
        hits = searcher.search(query["query"], limit=10, mode=mode)
        ndcg.append(
            _metrics([(h.letter, h.item_number) for h in hits], {tuple(r) for r in query["relevant"]})[0]
        )
    assert np.mean(ndcg) >= floor


def test_unique_corpus_has_texts_of_its_own(tmp_path: Path, gold: list[Letter]) -> None:
    url = f"sqlite:///{tmp_path / 'unique.db'}"
    migrate(url)
    engine = make_engine(url)
    added = synthesize_unique(engine, gold, 600, seed=3)
    assert 600 <= added < 620
    with engine.connect() as conn:
        rationales = conn.execute(text("SELECT rationale FROM letter_issues")).scalars().all()
        summaries = conn.execute(text("SELECT clinical_summary FROM letters")).scalars().all()
        years = set(conn.execute(text("SELECT DISTINCT substr(decision_date, 1, 4) FROM letters")).scalars())
        decisions = conn.execute(text("SELECT decision, count(*) FROM letter_issues GROUP BY decision")).all()
    assert len(set(rationales)) == len(rationales) and len(set(summaries)) == len(summaries)
    real = {i.rationale for x in gold for i in x.issues} | {x.clinical_summary for x in gold}
    assert not real & (set(rationales) | set(summaries))
    assert years <= {"2014", "2015", "2016", "2017", "2018"} and len(years) > 1
    assert {d for d, _ in decisions} <= {i.decision for x in gold for i in x.issues}
    again = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    migrate(str(again.url))
    synthesize_unique(again, gold, 600, seed=3)
    with again.connect() as conn:
        assert conn.execute(text("SELECT rationale FROM letter_issues")).scalars().all() == rationales


def test_cli_schema_check_reads_the_migration_files(tmp_path: Path) -> None:
    from openimr.cli.corpus import _at_head
    from openimr.store.db import Store, head_revisions

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with Store(url) as store:
        assert not _at_head(store)  # no version table yet
    migrate(url)
    with Store(url) as store:
        assert _at_head(store)
        assert len(head_revisions()) == 1
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0001_letters'"))
        assert not _at_head(store)
