"""Search at scale: the mapped index, the full-text index, vector lists, the static embedding
model with its quality floor on the judged query set, and the unique-text synthetic corpus."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict
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


def _texts(engine) -> dict[int, str]:
    """Each indexed issue's item, rationale and clinical summary, lower-cased, by issue id."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ci.id, li.item, li.rationale, l.clinical_summary FROM corpus_issues AS ci"
                " JOIN letter_issues AS li ON li.letter_id = ci.letter_id AND li.position = ci.position"
                " JOIN letters AS l ON l.id = ci.letter_id"
            )
        ).all()
    return {i: " ".join(x or "" for x in texts).lower() for i, *texts in rows}


def test_text_hits_hold_the_query_words_more_of_them_first(engine) -> None:
    texts = _texts(engine)
    for query in ("physical therapy", "mri", "medically necessary", "lumbar epidural"):
        ids = _ids(engine, Searcher(engine).search(query, limit=25, mode=Mode.text))
        held = [sum(w[:6] in texts[i] for w in query.split()) for i in ids]  # stems: the first letters
        assert len(ids) == 25 and len(set(ids)) == 25, query
        assert held[0] == len(query.split()) and min(held) >= 1, query
        assert sum(h == len(query.split()) for h in held[:10]) >= 5, query
    unmatched = "acupuncture zyxwvut"  # no issue holds the second word
    ids = _ids(engine, Searcher(engine).search(unmatched, limit=10, mode=Mode.text))
    assert ids and all("acupunctur" in texts[i] for i in ids)
    assert Searcher(engine).search("zyxwvut qqqqq", mode=Mode.text) == []
    assert Searcher(engine).search("  ,;  ", mode=Mode.text) == []
    hostile = 'all:* item:[a TO z] +"therapy" -pain^9 (mri) AND OR NOT ~2 lumbar_spine x\u203fy \\ ");'
    hostile += " DROP TABLE letters; --"
    words = Searcher(engine).search(" ".join(re.findall(r"\w+", hostile)), limit=10, mode=Mode.text)
    assert Searcher(engine).search(hostile, limit=10, mode=Mode.text) == words and words


def test_the_item_outweighs_the_rationale_and_the_summary(engine) -> None:
    with engine.connect() as conn:
        items = dict(
            conn.execute(
                text(
                    "SELECT ci.id, lower(li.item) FROM corpus_issues AS ci JOIN letter_issues AS li"
                    " ON li.letter_id = ci.letter_id AND li.position = ci.position"
                )
            ).all()
        )
    for query in ("acupuncture", "ultram", "tens unit"):
        ids = _ids(engine, Searcher(engine).search(query, limit=10, mode=Mode.text))
        in_item = [all(w in items[i] for w in query.split()) for i in ids]
        assert in_item[0] and in_item == sorted(in_item, reverse=True), query


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


@pytest.mark.parametrize(
    "filters",
    [
        Filters(decision="Overturned"),
        Filters(decision="upheld", year=2016),
        Filters(body_part="lumbar spine"),
        Filters(category="drug"),
        Filters(family="mtus chronic pain medical treatment"),
        Filters(specialty="Orthopedic Surgery"),
    ],
)
def test_filtered_text_is_the_full_ranking_filtered(engine, filters: Filters) -> None:
    everything = Searcher(engine).search("pain", limit=10_000, mode=Mode.text)
    keep = [h for h in everything if _meets(engine, h, filters)]
    got = Searcher(engine).search("pain", filters, 10, Mode.text)
    assert got and [(h.letter, h.item_number) for h in got] == [(h.letter, h.item_number) for h in keep[:10]]


def _meets(engine, hit, filters: Filters) -> bool:
    """Whether *hit* meets *filters*, read from the store itself."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ci.id, lower(ci.decision), lower(ci.family), ci.category, ci.year, ci.letter_id"
                " FROM corpus_issues AS ci JOIN letters AS l ON l.id = ci.letter_id"
                " WHERE coalesce(l.case_number, l.file) = :letter AND ci.position = :position"
            ),
            {"letter": hit.letter, "position": hit.item_number - 1},
        ).one()
        body = set(
            conn.execute(
                text("SELECT name FROM corpus_body_parts WHERE issue_id = :i"), {"i": row[0]}
            ).scalars()
        )
        specialties = set(
            conn.execute(
                text("SELECT lower(specialty) FROM letter_specialties WHERE letter_id = :l"), {"l": row[5]}
            ).scalars()
        )
    checks = {
        "decision": row[1] == (filters.decision or "").lower(),
        "family": row[2] == (filters.family or "").lower(),
        "category": row[3] == filters.category,
        "year": row[4] == filters.year,
        "body_part": filters.body_part in body,
        "specialty": (filters.specialty or "").lower() in specialties,
    }
    return all(checks[name] for name, value in asdict(filters).items() if value is not None)


def test_a_second_writer_leaves_the_index_to_the_first(tmp_path: Path, gold: list[Letter]) -> None:
    import tantivy

    from openimr.services.corpus import fulltext

    engine = filled_store(f"sqlite:///{tmp_path / 'store.db'}", gold[:4])
    with engine.begin() as conn:
        for letter in gold[4:6]:
            store_letter(conn, letter, hashlib.sha256(letter.model_dump_json().encode()).hexdigest())
    sync_index(engine)
    folder = index.text_dir(engine)
    writer = tantivy.Index.open(str(folder)).writer(heap_size=15_000_000, num_threads=1)  # holds the lock
    assert fulltext.sync(engine, folder) == 0
    del writer
    assert fulltext.sync(engine, folder) == sum(len(x.issues) for x in gold[4:6])
    assert fulltext.sync(engine, folder) == 0


def test_deleted_issues_leave_the_indexes(tmp_path: Path, gold: list[Letter]) -> None:
    engine = filled_store(f"sqlite:///{tmp_path / 'store.db'}", gold[:6])
    item = gold[5].issues[0].item
    assert any(h.item == item for h in Searcher(engine).search(item, limit=50, mode=Mode.text))
    with engine.begin() as conn:
        doomed = conn.execute(text("SELECT id FROM letters ORDER BY id DESC LIMIT 1")).scalar()
        parts = "DELETE FROM corpus_body_parts WHERE issue_id IN"
        conn.execute(text(f"{parts} (SELECT id FROM corpus_issues WHERE letter_id = :l)"), {"l": doomed})
        conn.execute(text("DELETE FROM corpus_issues WHERE letter_id = :l"), {"l": doomed})
    Searcher(engine).search(item, limit=50, mode=Mode.text)  # sees the gap: both indexes marked stale
    _fresh()
    again = Searcher(engine).search(item, limit=50, mode=Mode.text)
    assert again and all(h.letter != (gold[5].case_number or gold[5].file) for h in again)
    middle = gold[2].case_number or gold[2].file
    assert any(
        h.letter == middle for h in Searcher(engine).search("medically necessary", limit=50, mode=Mode.text)
    )
    with engine.begin() as conn:  # a letter below the highest: its ids are missed, not past the end
        doomed = conn.execute(text("SELECT id FROM letters ORDER BY id LIMIT 1 OFFSET 2")).scalar()
        conn.execute(text(f"{parts} (SELECT id FROM corpus_issues WHERE letter_id = :l)"), {"l": doomed})
        conn.execute(text("DELETE FROM corpus_issues WHERE letter_id = :l"), {"l": doomed})
    Searcher(engine).search("medically necessary", limit=50, mode=Mode.text)
    _fresh()
    kept = Searcher(engine).search("medically necessary", limit=50, mode=Mode.text)
    assert kept and all(h.letter != middle for h in kept)
    assert fulltext_size(engine) == sum(len(x.issues) for x in gold[:6]) - len(gold[5].issues) - len(
        gold[2].issues
    )


def fulltext_size(engine) -> int:
    from openimr.services.corpus.fulltext import FullText

    return FullText(index.text_dir(engine)).searcher.num_docs


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
@pytest.mark.parametrize(("mode", "floor"), [(Mode.text, 0.72), (Mode.semantic, 0.6), (Mode.hybrid, 0.72)])
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
    from openimr.services.database import at_head as _at_head
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


def test_a_letter_committed_below_the_highest_indexed_is_indexed(tmp_path: Path, gold: list[Letter]) -> None:
    engine = filled_store(f"sqlite:///{tmp_path / 'store.db'}", gold[:5])
    with engine.begin() as conn:  # as if letter 3 committed after letter 5 had been indexed
        late = conn.execute(text("SELECT id FROM letters ORDER BY id LIMIT 1 OFFSET 2")).scalar()
        issues = "SELECT id FROM corpus_issues WHERE letter_id = :l"
        conn.execute(text(f"DELETE FROM corpus_body_parts WHERE issue_id IN ({issues})"), {"l": late})
        conn.execute(text("DELETE FROM corpus_issues WHERE letter_id = :l"), {"l": late})
    assert sync_index(engine) == len(gold[2].issues)
    assert sync_index(engine) == 0


def test_a_new_mapped_index_keeps_the_full_text_index(tmp_path: Path, gold: list[Letter]) -> None:
    import os

    engine = filled_store(f"sqlite:///{tmp_path / 'store.db'}", gold[:4])
    first = ensure_mapped(engine)
    for folder in (first, index.text_dir(engine)):  # both older than the grace a build gives others
        os.utime(folder, (0, 0))
    second = build_mapped(engine)
    assert (
        not first.exists()
        and second.exists()
        and fulltext_size(engine) == sum(len(x.issues) for x in gold[:4])
    )
