"""The settings: every OPENIMR_* variable read in one place, a malformed one refused naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from openimr.core.errors import OpenIMRError
from openimr.services.settings import BodyLimits, Settings, SettingsError, SignInSettings


def test_the_environment_is_read_once_into_typed_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        {
            "OPENIMR_DB": "cases.db",
            "OPENIMR_RULES": "draft.yaml",
            "OPENIMR_PACKS": "/srv/packs",
            "OPENIMR_INDEX_DIR": "/srv/index",
            "OPENIMR_LOGIN_MAX_FAILURES": "3",
            "OPENIMR_HTTPS": "yes",
            "OPENIMR_MAX_JSON_BYTES": "2048",
            "OPENIMR_TRUSTED_PROXIES": " 10.0.0.2 ,10.1.0.0/16,",
            "OPENIMR_UNKNOWN": "ignored",
        }
    )
    assert settings.db == f"sqlite:///{tmp_path / 'cases.db'}"
    assert (settings.rules, settings.packs, settings.index_dir) == (
        Path("draft.yaml"),
        Path("/srv/packs"),
        Path("/srv/index"),
    )
    assert settings.sign_in == SignInSettings(max_failures=3, https=True)
    assert settings.body_limits == BodyLimits(other=2048)
    assert settings.trusted_proxies == ("10.0.0.2", "10.1.0.0/16")
    empty = Settings.from_env({})
    assert empty.db == f"sqlite:///{tmp_path / 'openimr.db'}" and empty.rules is None
    assert empty.packs is None and empty.trusted_proxies == ()
    assert Settings.from_env({"OPENIMR_DB": "other.db"}, db="postgresql+psycopg://u@h/db").db == (
        "postgresql+psycopg://u@h/db"
    )
    with pytest.raises(ValueError):  # frozen: a copy with changes, never a change in place
        settings.db = "x"  # type: ignore[misc]
    assert settings.model_copy(update={"rules": None}).rules is None and settings.rules is not None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OPENIMR_LOGIN_WINDOW_S", "-1", "OPENIMR_LOGIN_WINDOW_S must be a positive float, not '-1'"),
        ("OPENIMR_HTTPS", "maybe", "OPENIMR_HTTPS must be 1 or 0, not 'maybe'"),
        (
            "OPENIMR_MAX_BODY_BYTES",
            "1e6",
            "must be a positive whole number of bytes, not '1e6'",
        ),
        (
            "OPENIMR_TRUSTED_PROXIES",
            "proxy.example",
            "must list IP addresses or networks, not 'proxy.example'",
        ),
    ],
)
def test_a_malformed_setting_is_one_error_naming_it(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert str(raised.value).startswith(variable) and message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, OpenIMRError) and raised.value.exit_code == 2


def test_the_organizations_settings_are_composed_not_defined_again(monkeypatch: pytest.MonkeyPatch) -> None:
    given = {"OPENIMR_ORG_NAME": "Bay Review", "OPENIMR_ORG_ADDRESS": "1 Main St; Oakland"}
    org = Settings.from_env(given).org
    assert org.label == "Bay Review" and org.address_lines == ["1 Main St", "Oakland"]
    monkeypatch.setenv("OPENIMR_ORG_NAME", "Elsewhere")
    monkeypatch.setenv("OPENIMR_LOGIN_MAX_FAILURES", "9")
    assert Settings.from_env().org.name == "Elsewhere" and Settings.from_env().sign_in.max_failures == 9
    alone = Settings.from_env({})  # a mapping alone: the process's environment adds nothing
    assert alone.org.name == "" and alone.sign_in.max_failures == 5
    with pytest.raises(SettingsError, match=r"^OPENIMR_ORG_PHONE: .*50 characters"):
        Settings.from_env({"OPENIMR_ORG_PHONE": "5" * 51})
