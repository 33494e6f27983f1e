"""The application object: every service of OpenIMR over one store, as the web application and the
command line alike build it."""

from __future__ import annotations

from openimr.services.cases import CaseService
from openimr.services.users import Users
from openimr.store.db import Store, warm


class OpenIMR:
    """OpenIMR over *store*: the case services (:attr:`cases`) and the accounts (:attr:`users`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cases = CaseService(store)
        self.users = Users(store)

    @classmethod
    def open(cls, url: str | None = None) -> OpenIMR:
        """OpenIMR on the store at *url* (default: $OPENIMR_DB or ./openimr.db), upgraded first."""
        return cls(Store.open(url))

    def warm(self) -> None:
        """Open the connection pool's connections now, before the first requests need them."""
        warm(self.store.engine)

    def close(self) -> None:
        self.store.close()
