"""The corpus index, search, stats and export over the dev gold letters, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from corpus_store import filled_store
from openimr.cli import app
from openimr.core.models import Letter
from openimr.services.corpus import embeddings
from openimr.services.corpus.export import Format, export
from openimr.services.corpus.features import records_from_letters
from openimr.services.corpus.index import sync_index
from openimr.services.corpus.search import Filters, Mode, Searcher
from openimr.services.corpus.similar import SimilarIndex
from openimr.services.stats import By, compute, wilson
from openimr.store.ingest import store_letter
from openimr.store.schema import corpus_docs, corpus_embeddings, corpus_issues
from store_pg import pg_schema_url


@pytest.fixture(scope="module")
def gold(gold_path: Path) -> list[Letter]:
    return [Letter.model_validate_json(line) for line in gold_path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, gold: list[Letter]):
    """A store holding the gold letters, its corpus index synced (with embeddings when installed)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'store.db'}"
        yield filled_store(url, gold)
    else:  # the mapped index of a throw-away schema goes to a throw-away folder too
        with pg_schema_url() as url, pytest.MonkeyPatch.context() as patch:
            patch.setenv("OPENIMR_INDEX_DIR", str(tmp_path_factory.mktemp("index")))
            yield filled_store(url, gold)


def test_sync_is_idempotent(engine, gold: list[Letter]) -> None:
    assert sync_index(engine, embed=embeddings.available()) == 0
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(corpus_issues)) == 258
        if embeddings.available():
            distinct = conn.scalar(select(func.count(func.distinct(corpus_issues.c.text_hash))))
            assert conn.scalar(select(func.count()).select_from(corpus_embeddings)) == distinct


def test_filtered_full_text(engine) -> None:
    searcher = Searcher(engine)
    hits = searcher.search("acupuncture", Filters(category="acupuncture"), limit=50, mode=Mode.text)
    assert hits and all(h.category == "acupuncture" for h in hits)
    assert any("ACUPUNCTURE" in h.item.upper() for h in hits)
    overturned = searcher.search("medically necessary", Filters(decision="overturned"), 50, Mode.text)
    assert overturned and {h.decision for h in overturned} == {"Overturned"}
    lumbar = searcher.search("MRI", Filters(body_part="lumbar spine", year=2017), 50, Mode.text)
    assert lumbar and all(h.year == 2017 for h in lumbar)
    assert all("lumbar" in h.item.lower() or "low back" in h.item.lower() for h in lumbar[:3])
    assert searcher.search("zzqx", limit=5, mode=Mode.text) == []


def test_specialty_and_family_filters(engine, gold: list[Letter]) -> None:
    specialty = gold[1].reviewer.specialties[0]
    expected = sum(len(x.issues) for x in gold if specialty in x.reviewer.specialties)
    hits = Searcher(engine).search("request", Filters(specialty=specialty.upper()), 500, Mode.text)
    assert 0 < len(hits) <= expected
    hits = Searcher(engine).search("acupuncture", Filters(family="MTUS Acupuncture Treatment"), 50, Mode.text)
    assert hits and {h.family for h in hits} == {"MTUS Acupuncture Treatment"}


def test_pages_count_every_match_and_split_the_ranking(engine) -> None:
    """Page by page, the full text's ranking as :meth:`Searcher.search` gives it whole, with the
    number of all matches; filters alone keep what they name, newest first."""
    searcher = Searcher(engine)
    whole = searcher.search("pain medication", Filters(decision="upheld"), 1000, Mode.text)
    pages = [
        searcher.page("pain medication", Filters(decision="Upheld"), at, 20) for at in range(0, 1000, 20)
    ]
    assert {p.total for p in pages} == {len(whole)} and len(whole) > 40
    assert [f.hit.letter + str(f.hit.item_number) for p in pages for f in p.found] == [
        h.letter + str(h.item_number) for h in whole
    ]
    marked = [f.snippet.text[a:b].lower() for f in pages[0].found for a, b in f.snippet.marks]
    assert marked and {w[:4] for w in marked} <= {"pain", "medi"}
    alone = searcher.page("", Filters(decision="overturned"), 0, 100)
    assert alone.total == len(alone.found) == 28 and {f.hit.decision for f in alone.found} == {"Overturned"}
    assert searcher.page("", Filters(year=1901), 0, 10) == searcher.page("?!", Filters(), 0, 10)
    assert searcher.page("", Filters(year=1901), 0, 10).total == 0
    assert (
        searcher.page("", Filters(), 250, 100).total == 258
        and len(searcher.page("", Filters(), 250, 100).found) == 8
    )


def test_a_snippet_is_the_passage_holding_most_words() -> None:
    from openimr.services.corpus.fulltext import snippet, terms

    words = frozenset(terms("Norco opioids therapy"))
    rationale = " ".join(
        ["filler"] * 40 + ["Norco", "once;"] + ["filler"] * 10 + ["opioid", "and", "Norco", "again."]
    )
    found = snippet(["no match in the item", rationale], words, size=60)
    assert found.text == "… filler filler filler filler filler opioid and Norco again."
    assert [found.text[a:b] for a, b in found.marks] == ["opioid", "Norco"]
    cut = snippet(["Physical therapy, not a therapist: THERAPY " + "filler " * 60], words, size=50)
    assert cut.text == "Physical therapy, not a therapist: THERAPY filler …"  # stems as the index does
    assert [cut.text[a:b] for a, b in cut.marks] == ["therapy", "THERAPY"]
    assert snippet(["Short   text,\nno match."], words).text == "Short text, no match."
    assert snippet(["a Norco", "Norco, opioid, Norco"], words).text == "a Norco"  # the rationale first
    assert snippet([None, ""], words).parts == ()


@pytest.mark.skipif(not embeddings.available(), reason="the static embedding model is missing")
def test_hybrid_finds_meaning_beyond_words(engine) -> None:
    searcher = Searcher(engine)
    semantic = searcher.search("spine scan", limit=5, mode=Mode.semantic)
    assert any(h.category == "imaging" and "scan" not in h.item.lower() for h in semantic)
    hybrid = searcher.search("topical analgesic cream", Filters(category="drug"), limit=10)
    assert hybrid and all(h.category == "drug" for h in hybrid)


def test_stats_by_category_and_wilson(engine) -> None:
    groups = compute(engine, By.category)
    assert sum(g.issues for g in groups) == 258
    assert sum(g.overturned for g in groups) == 28
    low, high = wilson(28, 258)
    assert low < 28 / 258 < high
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert round(wilson(5, 10)[0], 4) == 0.2366  # textbook value for 5/10
    years = [g.name for g in compute(engine, By.year)]
    assert years == sorted(years, key=lambda y: (y == "Not stated", y))


def test_export_csv_and_parquet(engine, tmp_path: Path) -> None:
    assert export(engine, tmp_path / "c.csv", Format.csv) == 258
    rows = list(csv.DictReader((tmp_path / "c.csv").open(encoding="utf-8")))
    assert len(rows) == 258 and {r["decision"] for r in rows} == {"Upheld", "Overturned"}
    assert export(engine, tmp_path / "c.parquet", Format.parquet) == 258
    table = pq.read_table(tmp_path / "c.parquet")
    assert table.num_rows == 258
    assert table.column("item").to_pylist() == [r["item"] for r in rows]


def test_similar_from_db_matches_from_letters(engine, gold: list[Letter]) -> None:
    from_db = SimilarIndex.from_db(engine)
    assert sorted((r.letter, r.position, r.features) for r in from_db.records) == sorted(
        (r.letter, r.position, r.features) for r in records_from_letters(gold)
    )
    query = "Norco 10/325mg #120"
    assert [m.record.item for m in from_db.similar(query, 5)] == [
        m.record.item for m in SimilarIndex.from_letters(gold).similar(query, 5)
    ]


def test_commands(engine, tmp_path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    result = runner.invoke(
        app, ["search", "acupuncture", "--db", url, "--mode", "text", "-f", "jsonl", "-n", "3"]
    )
    assert result.exit_code == 0, result.output
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(hits) == 3 and {"letter", "item", "decision", "family"} <= hits[0].keys()
    result = runner.invoke(app, ["stats", "--by", "drug-class", "--db", url, "-f", "csv"])
    assert result.exit_code == 0 and result.stdout.startswith("group,issues,upheld,overturned")
    for fmt in ("png", "svg"):
        chart = tmp_path / f"chart.{fmt}"
        result = runner.invoke(app, ["stats", "--by", "family", "--db", url, "-f", fmt, "-o", str(chart)])
        assert result.exit_code == 0, result.output
        assert chart.read_bytes()[:4] in (b"\x89PNG", b"<?xm")
    result = runner.invoke(app, ["similar", "Lumbar MRI", "--db", url, "-f", "jsonl", "-n", "3"])
    assert result.exit_code == 0 and all(
        json.loads(x)["category"] == "imaging" for x in result.stdout.splitlines()
    )


def test_repeated_texts_are_indexed_once_and_new_issues_reach_a_running_searcher(
    tmp_path: Path, gold: list[Letter]
) -> None:
    """A copy of a letter under another case number adds issues but no new indexed text, and a
    searcher that has already answered sees the copy after the next sync."""
    engine = filled_store(f"sqlite:///{tmp_path / 'store.db'}", gold[:3])
    searcher = Searcher(engine)
    item = gold[1].issues[0].item
    before = searcher.search(item, limit=100, mode=Mode.text)
    with engine.connect() as conn:
        docs = conn.scalar(select(func.count()).select_from(corpus_docs))
    copy = gold[1].model_copy(update={"case_number": "CM99-0000099", "file": "copy.pdf"})
    with engine.begin() as conn:
        store_letter(conn, copy, "copy")
    assert sync_index(engine) == len(copy.issues)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(corpus_docs)) == docs
    after = searcher.search(item, limit=100, mode=Mode.text)
    assert {h.letter for h in after} - {h.letter for h in before} == {"CM99-0000099"}


def _unique_words(letters: list[Letter], among: list[Letter]) -> dict[str, str]:
    """For each of *letters* (by case number or file), a word of its issues whose stem no other
    letter of *among* holds."""
    from openimr.services.corpus.fulltext import _ANALYZER

    def texts(letter: Letter) -> list[str]:
        return [t for i in letter.issues for t in (i.item, i.rationale)] + [letter.clinical_summary or ""]

    def words(letter: Letter) -> list[str]:
        return [w for t in texts(letter) for w in t.split() if w.isalpha() and len(w) > 5]

    stems = {id(x): {s for t in texts(x) for s in _ANALYZER.analyze(t)} for x in among}
    chosen = {}
    for letter in letters:
        others = set().union(*(stems[id(x)] for x in among if x is not letter))
        found = next((w for w in words(letter) if not set(_ANALYZER.analyze(w)) & others), None)
        if found:
            chosen[letter.case_number or letter.file] = found
    return chosen


def _found(engine, words: dict[str, str]) -> int:
    """How many of *words* (letter → word) find their letter by full text."""
    searcher = Searcher(engine)
    return sum(
        any(h.letter == letter for h in searcher.search(word, limit=20, mode=Mode.text))
        for letter, word in words.items()
    )


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_store_replaced_under_its_index_is_indexed_afresh(
    kind: str, gold: list[Letter], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store file deleted and made again, or a schema dropped and created under the same URL, then
    filled: its issue ids start over, and the index built from the old store is not extended."""
    monkeypatch.setenv("OPENIMR_INDEX_DIR", str(tmp_path / "index"))
    old, new = gold[:10], gold[10:40]
    words = _unique_words(new, old + new)
    gone = _unique_words(old, old + new)
    assert len(words) >= 20 and len(gone) >= 5

    def replace(url: str) -> None:
        engine = filled_store(url, old)
        assert _found(engine, gone) == len(gone)
        if kind == "sqlite":
            engine.dispose()
            for suffix in ("", "-wal", "-shm"):  # the store, not its index beside it
                (tmp_path / f"store.db{suffix}").unlink(missing_ok=True)
        else:
            schema = url.rsplit("search_path%3D", 1)[-1].split("&")[0]
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine.dispose()
        engine = filled_store(url, new)
        assert _found(engine, words) == len(words)
        assert _found(engine, gone) == 0
        engine.dispose()

    if kind == "sqlite":
        replace(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        with pg_schema_url() as url:
            replace(url)
