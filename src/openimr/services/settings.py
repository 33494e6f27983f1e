"""OpenIMR's settings in one typed place: every ``OPENIMR_*`` environment variable, read and
checked once (pydantic-settings) by :meth:`Settings.from_env`, a malformed one refused naming it.

- ``OPENIMR_DB``: the database, a URL or a file path (default ``./openimr.db``).
- ``OPENIMR_RULES``: a rules file to use instead of the packaged MTUS rules (the review included).
- ``OPENIMR_PACKS``: where criteria packs are installed (default ``./openimr-packs``).
- ``OPENIMR_INDEX_DIR``: where the corpus index of a server database lives
  (default ``~/.cache/openimr/index``; a SQLite file keeps its index beside it).
- Sign-in, tokens, sessions and HTTPS: see :class:`SignInSettings`.
- ``OPENIMR_ORG_*``: the review organization's letterhead and signatory
  (:class:`~openimr.services.organization.Organization`, composed here as :attr:`Settings.org`).
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
from typing import Annotated, Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from openimr.core.dates import utc_now
from openimr.core.errors import OpenIMRError
from openimr.services.organization import Organization

PREFIX = "OPENIMR_"
DEFAULT_DB_FILE = "openimr.db"


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
        """The limits of *env*; a malformed one is a SettingsError naming its variable."""
        return Settings.from_env(env).body_limits


@dataclass(frozen=True)
class SignInSettings:
    """How sign-ins are throttled, how long tokens and sessions last, and whether to insist on HTTPS.

    :class:`Settings` reads each from the environment (defaults in brackets):

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
        """The settings of *env*; a malformed one is a SettingsError naming it."""
        return Settings.from_env(env).sign_in


_SIGN_IN = SignInSettings()
_BODY = BodyLimits()
_POSITIVE = (
    "login_max_failures",
    "login_max_address_failures",
    "login_window_s",
    "login_delay_s",
    "login_max_delay_s",
    "token_days",
    "session_hours",
    "login_concurrency",
)


def _variable(info: ValidationInfo) -> str:
    return f"{PREFIX}{(info.field_name or '').upper()}"


class Settings(BaseSettings):
    """Every setting of one OpenIMR, each field the variable ``OPENIMR_<FIELD>``: :meth:`from_env`
    reads them; replace one with ``settings.model_copy(update={...})``."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore")

    db: str = DEFAULT_DB_FILE
    rules: Path | None = None
    packs: Path | None = None  # None: where the core finds them (core.guidelines.packs.packs_dir)
    index_dir: Path = Path.home() / ".cache" / "openimr" / "index"
    login_max_failures: int = _SIGN_IN.max_failures
    login_max_address_failures: int = _SIGN_IN.max_address_failures
    login_window_s: float = _SIGN_IN.window_s
    login_delay_s: float = _SIGN_IN.delay_s
    login_max_delay_s: float = _SIGN_IN.max_delay_s
    token_days: float = _SIGN_IN.token_days
    session_hours: float = _SIGN_IN.session_hours
    login_concurrency: int = _SIGN_IN.concurrency
    https: bool = False
    max_body_bytes: int = _BODY.uploads
    max_json_bytes: int = _BODY.other
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    org: Organization = Field(default_factory=Organization)

    @field_validator("db", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str:
        """A URL as it is; a file path (or nothing: ``./openimr.db``) as the SQLite URL of the file."""
        value = str(value or DEFAULT_DB_FILE)
        return value if "://" in value else f"sqlite:///{Path(value).resolve()}"

    @field_validator("rules", mode="before")
    @classmethod
    def _optional(cls, value: Any) -> Any:
        return value or None

    @field_validator("packs", "index_dir", mode="before")
    @classmethod
    def _folder(cls, value: Any, info: ValidationInfo) -> Any:
        return value or cls.model_fields[info.field_name or ""].default

    @field_validator(*_POSITIVE, mode="before")
    @classmethod
    def _positive(cls, value: Any, info: ValidationInfo) -> int | float:
        kind = cls.model_fields[info.field_name or ""].annotation
        kind = int if kind in (int, "int") else float
        try:
            number = kind(value)
        except (TypeError, ValueError):
            number = 0
        if not 0 < number < math.inf:
            raise ValueError(f"{_variable(info)} must be a positive {kind.__name__}, not {value!r}")
        return number

    @field_validator("https", mode="before")
    @classmethod
    def _yes_no(cls, value: Any, info: ValidationInfo) -> bool:
        if isinstance(value, bool):
            return value
        answer = str(value).strip().lower()
        if answer not in {"", "0", "1", "false", "true", "no", "yes"}:
            raise ValueError(f"{_variable(info)} must be 1 or 0, not {answer!r}")
        return answer in {"1", "true", "yes"}

    @field_validator("max_body_bytes", "max_json_bytes", mode="before")
    @classmethod
    def _bytes(cls, value: Any, info: ValidationInfo) -> int:
        raw = str(value).strip()
        if not raw.isdigit() or int(raw) == 0:
            raise ValueError(f"{_variable(info)} must be a positive whole number of bytes, not {raw!r}")
        return int(raw)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any, info: ValidationInfo) -> tuple[str, ...]:
        listed = value.split(",") if isinstance(value, str) else value
        proxies = tuple(p.strip() for p in listed if p.strip())
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"{_variable(info)} must list IP addresses or networks, not {proxy!r}"
                ) from None
        return proxies

    @property
    def sign_in(self) -> SignInSettings:
        """Sign-in throttling, token and session lifetimes, and HTTPS."""
        return SignInSettings(
            max_failures=self.login_max_failures,
            max_address_failures=self.login_max_address_failures,
            window_s=self.login_window_s,
            delay_s=self.login_delay_s,
            max_delay_s=self.login_max_delay_s,
            token_days=self.token_days,
            session_hours=self.session_hours,
            concurrency=self.login_concurrency,
            https=self.https,
        )

    @property
    def body_limits(self) -> BodyLimits:
        """The largest request bodies the web application takes."""
        return BodyLimits(uploads=self.max_body_bytes, other=self.max_json_bytes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, db: str | None = None) -> Settings:
        """The settings of the environment (or of *env*, a mapping, alone), the database *db* if
        given; a malformed variable is a :class:`SettingsError` naming it."""
        try:
            if env is None or env is os.environ:
                return cls(**({"db": db} if db else {}))
            given = _given(cls, env, PREFIX) | {"org": Organization(**_given(Organization, env, ORG_PREFIX))}
            return cls(**given | ({"db": db} if db else {}))
        except ValidationError as exc:
            raise SettingsError(_said(exc)) from None

    @classmethod
    def of(cls, given: Settings | str | None = None) -> Settings:
        """*given* settings as they are; else those of the environment, with *given* as the database."""
        return given if isinstance(given, Settings) else cls.from_env(db=given)


ORG_PREFIX = Organization.model_config.get("env_prefix", "")


def _given(model: type[BaseSettings], env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """Every plain field of *model* from *env* (its default where *env* has none), so that the
    environment of the process adds nothing."""
    fields = model.model_fields.items()
    return {
        name: env.get(f"{prefix}{name.upper()}", f.default) for name, f in fields if not f.default_factory
    }


def _said(exc: ValidationError) -> str:
    """The first problem of *exc* in one line, naming its variable."""
    first = exc.errors()[0]
    error = first.get("ctx", {}).get("error")
    if isinstance(error, ValueError):
        return str(error)
    prefix = ORG_PREFIX if exc.title == Organization.__name__ else PREFIX
    where = f"{prefix}{str(first['loc'][0]).upper()}" if first["loc"] else "a setting"
    return f"{where}: {first['msg']}"


def db_url(db: str | None = None) -> str:
    """The database URL: *db* (a URL or a file path), else the settings' (``$OPENIMR_DB``, else
    ``./openimr.db``)."""
    return Settings.from_env(db=db).db
