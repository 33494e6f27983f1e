"""The letter corpus on the gate: search, statistics, a past letter, ingest and the index's sync,
each operation ``op(who, ...)`` checking its permission (a refusal audited) and auditing what it
changes (an ingest); reads of the corpus, public decisions with no claimant in them, are not."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from openimr.core.roles import Action, Principal
from openimr.services.access import Gate, NotFound

if TYPE_CHECKING:
    from openimr.core.models import Letter
    from openimr.services.corpus.search import Filters, Results
    from openimr.services.options import By
    from openimr.services.stats import Breakdown
    from openimr.store.ingest import IngestReport

CORPUS = "corpus"  # the audit log's entity for the corpus's refusals and changes


class Corpus(Gate):
    """The past decisions of the store, for the accounts that may read or add to them."""

    def search(self, who: Principal, q: str, filters: Filters, offset: int = 0, limit: int = 20) -> Results:
        """A page of the decisions that match *q* (none: the filters alone), best first, with the
        count of all."""
        from openimr.services.corpus.search import search_page

        self.require(who, Action.SEARCH_CORPUS, what=CORPUS)
        return search_page(self.store, q, filters, offset, limit)

    def choices(self, who: Principal) -> dict[str, list[str]]:
        """The values each text filter takes in the corpus: what a search form suggests."""
        from openimr.services.corpus.search import filter_values

        self.require(who, Action.SEARCH_CORPUS, what=CORPUS)
        return filter_values(self.store)

    def stats(self, who: Principal, by: By) -> Breakdown:
        """Decisions grouped *by* a dimension, with overturn rates and intervals, the index synced."""
        from openimr.services.corpus.index import sync_index
        from openimr.services.stats import breakdown

        self.require(who, Action.SEARCH_CORPUS, what=CORPUS)
        sync_index(self.store.engine)
        return breakdown(self.store.engine, by)

    def letter(self, who: Principal, key: str) -> Letter:
        """The stored letter *key* names (its case number, else its file name)."""
        from openimr.services.corpus.search import past_decision

        self.require(who, Action.SEARCH_CORPUS, what=CORPUS)
        found = past_decision(self.store, key)
        if found is None:
            raise NotFound(f"no letter {key} in the corpus")
        return found

    def ingest(self, who: Principal, uploads: Iterable[tuple[str, bytes]]) -> IngestReport:
        """Store uploaded letters, each (file name, bytes), and index them; one stored already is
        left alone. Audited with its counts."""
        from openimr.services.corpus.ingest import ingest_uploads

        self.require(who, Action.INGEST_LETTERS, what=CORPUS)
        report = ingest_uploads(uploads, self.store)
        self.sync(who)
        with self._tx() as s:
            counts = {
                "stored": len(report.stored),
                "unchanged": len(report.unchanged),
                "errors": len(report.errors),
            }
            self._audit(s, who, None, CORPUS, "letters", "ingest", after=counts)
        return report

    def sync(self, who: Principal, embed: bool = False) -> int:
        """Bring the search index up to date with the stored letters (with embeddings when *embed*);
        how many documents it added."""
        from openimr.services.corpus.index import sync_index

        self.require(who, Action.INGEST_LETTERS, what=CORPUS)
        return sync_index(self.store.engine, embed=embed)
