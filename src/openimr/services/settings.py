"""OpenIMR's settings in one typed place: every ``OPENIMR_*`` environment variable, read and
checked once by :meth:`Settings.from_env`, a malformed one refused naming it.

- ``OPENIMR_DB``: the database, a URL or a file path (default ``./openimr.db``).
- ``OPENIMR_RULES``: a rules file to use instead of the packaged MTUS rules (the review included).
- ``OPENIMR_PACKS``: where criteria packs are installed (default ``./openimr-packs``).
- ``OPENIMR_INDEX_DIR``: where the corpus index of a server database lives
  (default ``~/.cache/openimr/index``; a SQLite file keeps its index beside it).
- Sign-in, tokens, sessions and HTTPS: see :class:`SignInSettings`.
- ``OPENIMR_MAX_BODY_BYTES`` (25 MiB) and ``OPENIMR_MAX_JSON_BYTES`` (1 MiB): the largest request
  bodies the web application takes, multipart and any other.
- ``OPENIMR_TRUSTED_PROXIES``: the proxies (addresses or networks, comma-separated) whose
  ``X-Forwarded-For`` and ``-Proto`` the web server believes (default none).

The command line and the web application build them alike and hand them to
:class:`~openimr.services.app.OpenIMR`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from openimr.core.errors import OpenIMRError
from openimr.core.guidelines.packs import packs_dir
from openimr.services.options import RULES_ENV
from openimr.store.schema import utc_now

DB_ENV = "OPENIMR_DB"
DEFAULT_DB_FILE = "openimr.db"
INDEX_ENV = "OPENIMR_INDEX_DIR"
PROXIES_ENV = "OPENIMR_TRUSTED_PROXIES"
HTTPS_ENV = "OPENIMR_HTTPS"
SIGN_IN_ENV: dict[str, tuple[str, type[int] | type[float]]] = {
    "max_failures": ("OPENIMR_LOGIN_MAX_FAILURES", int),
    "max_address_failures": ("OPENIMR_LOGIN_MAX_ADDRESS_FAILURES", int),
    "window_s": ("OPENIMR_LOGIN_WINDOW_S", float),
    "delay_s": ("OPENIMR_LOGIN_DELAY_S", float),
    "max_delay_s": ("OPENIMR_LOGIN_MAX_DELAY_S", float),
    "token_days": ("OPENIMR_TOKEN_DAYS", float),
    "session_hours": ("OPENIMR_SESSION_HOURS", float),
    "concurrency": ("OPENIMR_LOGIN_CONCURRENCY", int),
}
BODY_ENV = (("uploads", "OPENIMR_MAX_BODY_BYTES"), ("other", "OPENIMR_MAX_JSON_BYTES"))


class SettingsError(OpenIMRError, ValueError):
    """A setting with a value it cannot take; the message names the variable."""

    exit_code = 2


@dataclass(frozen=True)
class BodyLimits:
    """The largest request bodies taken, in bytes: a multipart body (uploads; each file is at most
    :data:`~openimr.web.api.MAX_UPLOAD`) and any other."""

    uploads: int = 25 * 2**20
    other: int = 2**20

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> BodyLimits:
        """The limits from the environment; a malformed one is a SettingsError naming its variable."""
        values = {}
        for name, variable in BODY_ENV:
            if variable in env:
                raw = env[variable].strip()
                if not raw.isdigit() or int(raw) == 0:
                    raise SettingsError(f"{variable} must be a positive whole number of bytes, not {raw!r}")
                values[name] = int(raw)
        return cls(**values)


def db_url(value: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    """The database URL: *value*, else ``$OPENIMR_DB``, else ``./openimr.db``; a file path
    becomes the SQLite URL of the file."""
    value = value or env.get(DB_ENV) or DEFAULT_DB_FILE
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).resolve()}"


@dataclass(frozen=True)
class SignInSettings:
    """How sign-ins are throttled, how long tokens and sessions last, and whether to insist on HTTPS.

    :meth:`from_env` reads each from the environment (defaults in brackets):

    - ``OPENIMR_LOGIN_MAX_FAILURES`` (5): failed sign-ins to one account within the window before
      it is throttled; a successful sign-in clears the account's count.
    - ``OPENIMR_LOGIN_MAX_ADDRESS_FAILURES`` (20): the same for one client address, whatever the
      usernames tried (failures against an account that has since signed in no longer count).
    - ``OPENIMR_LOGIN_WINDOW_S`` (3600): how long a failure counts, in seconds.
    - ``OPENIMR_LOGIN_DELAY_S`` (1) and ``OPENIMR_LOGIN_MAX_DELAY_S`` (900): once throttled, every
      attempt (even with the right password) is refused until this delay has passed since the
      last failure; it doubles with each further failure, up to the maximum.
    - ``OPENIMR_TOKEN_DAYS`` (30): how long a new API token is valid.
    - ``OPENIMR_SESSION_HOURS`` (12): how long a browser sign-in lasts.
    - ``OPENIMR_LOGIN_CONCURRENCY`` (half the CPUs, at least 1): sign-ins one server worker
      checks at once (argon2 takes about 50 ms of CPU and 64 MiB each, so a flood at the bound
      still leaves CPUs to everyone else); one over the bound is refused at once with 429 and
      ``Retry-After: 1``, before it touches the database.
    - ``OPENIMR_HTTPS`` (0): 1 when the app is served over HTTPS (say, behind a TLS-terminating
      proxy): cookies are marked ``Secure`` and ``Strict-Transport-Security`` is sent. A request
      that arrived as ``https`` gets both anyway (the scheme and the client address come from
      ``X-Forwarded-Proto`` and ``X-Forwarded-For`` only from the proxies listed in
      ``OPENIMR_TRUSTED_PROXIES``).

    The app reads them once, at start-up, into ``app.state.sign_in``; set that attribute to use
    other values. *clock* dates failures, new tokens and new sessions (tests pass their own).
    """

    max_failures: int = 5
    max_address_failures: int = 20
    window_s: float = 3600
    delay_s: float = 1
    max_delay_s: float = 900
    token_days: float = 30
    session_hours: float = 12
    concurrency: int = max(1, (os.cpu_count() or 2) // 2)
    https: bool = False
    clock: Callable[[], dt.datetime] = utc_now

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SignInSettings:
        """The settings from ``OPENIMR_*`` variables; a malformed one is a SettingsError naming it."""
        values: dict[str, object] = {}
        for name, (variable, kind) in SIGN_IN_ENV.items():
            if variable in env:
                raw = env[variable]
                try:
                    value = kind(raw)
                except ValueError:
                    value = 0
                if not 0 < value < math.inf:
                    raise SettingsError(f"{variable} must be a positive {kind.__name__}, not {raw!r}")
                values[name] = value
        https = env.get(HTTPS_ENV, "0").strip().lower()
        if https not in {"", "0", "1", "false", "true", "no", "yes"}:
            raise SettingsError(f"{HTTPS_ENV} must be 1 or 0, not {https!r}")
        return cls(**values, https=https in {"1", "true", "yes"})


def index_root(env: Mapping[str, str] = os.environ) -> Path:
    """Where the corpus index of a server database lives: ``$OPENIMR_INDEX_DIR``, else
    ``~/.cache/openimr/index``."""
    return Path(env.get(INDEX_ENV) or Path.home() / ".cache" / "openimr" / "index")


def trusted_proxies(env: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The proxies listed in ``OPENIMR_TRUSTED_PROXIES``, each an IP address or network."""
    proxies = tuple(p.strip() for p in env.get(PROXIES_ENV, "").split(",") if p.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(f"{PROXIES_ENV} must list IP addresses or networks, not {proxy!r}") from None
    return proxies


class Settings(BaseModel):
    """Every setting of one OpenIMR: :meth:`from_env` reads them; replace one with
    ``settings.model_copy(update={...})``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    db: str
    rules: Path | None = None
    packs: Path = Path("openimr-packs")
    index_dir: Path = Field(default_factory=lambda: index_root({}))
    sign_in: SignInSettings = SignInSettings()
    body_limits: BodyLimits = BodyLimits()
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, db: str | None = None) -> Settings:
        """The settings from *env* (default: the environment), the database *db* if given; a
        malformed variable is a :class:`SettingsError` naming it."""
        return cls(
            db=db_url(db, env),
            rules=Path(env[RULES_ENV]) if env.get(RULES_ENV) else None,
            packs=packs_dir(env),
            index_dir=index_root(env),
            sign_in=SignInSettings.from_env(env),
            body_limits=BodyLimits.from_env(env),
            trusted_proxies=trusted_proxies(env),
        )

    @classmethod
    def of(cls, given: Settings | str | None = None) -> Settings:
        """*given* settings as they are; else those of the environment, with *given* as the database."""
        return given if isinstance(given, Settings) else cls.from_env(db=given)
