"""The application object: every service of OpenIMR over one store, with one set of settings and
one set of rules, as the web application and the command line alike build it."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from openimr.services.cases import CaseService
from openimr.services.corpus.service import Corpus
from openimr.services.guidelines import Guidelines, load
from openimr.services.settings import Settings
from openimr.services.users import Users
from openimr.store.db import Store, warm

if TYPE_CHECKING:
    from openimr.core.case import Case
    from openimr.core.guidelines.rules import RuleSet
    from openimr.core.review.engine import Review


class OpenIMR:
    """OpenIMR with *settings* over *store* (default: the settings' database, opened as it is):
    the case services (:attr:`cases`), the accounts (:attr:`users`), the letter corpus
    (:attr:`corpus`), the guidelines (:attr:`guidelines`), and the rules every review and the
    guidelines read, loaded once, on first use, and replaceable (assign another :class:`RuleSet`)."""

    def __init__(self, settings: Settings | None = None, store: Store | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.store = store or Store(self.settings.db)
        self.cases = CaseService(self.store, rules=lambda: self.rules)
        self.cases.organization = lambda: self.settings.org  # the letters' sender, from the settings
        self.users = Users(self.store)
        self.corpus = Corpus(self.store)
        self.guidelines = Guidelines(self.store, rules=lambda: self.rules)

    @classmethod
    def open(cls, settings: Settings | str | None = None) -> OpenIMR:
        """OpenIMR with *settings* (a string: the database URL, the rest from the environment),
        its store upgraded to the newest schema first."""
        settings = Settings.of(settings)
        return cls(settings, Store.open(settings.db))

    @cached_property
    def rules(self) -> RuleSet:
        """The settings' rules file (``--rules``, ``$OPENIMR_RULES``), else the packaged rules and
        the installed criteria packs; RuleFileError names a bad file."""
        return load(self.settings.rules, self.settings.packs)

    def review(self, case: Case, model_path: str | None = None, similar: bool = True) -> Review:
        """Decision support's review of *case* with these rules; with *similar*, the reasons give
        the store's most similar past decisions."""
        from openimr.services.review import review

        return review(case, self.rules, model_path, self.store if similar else None)

    def warm(self) -> None:
        """Open the connection pool's connections now, before the first requests need them."""
        warm(self.store.engine)

    def close(self) -> None:
        self.store.close()
