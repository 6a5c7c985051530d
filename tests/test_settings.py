"""Settings: production refuses placeholder secrets; bad URLs are named clearly."""

from __future__ import annotations

import pytest

from app.settings import DEV_SECRET, SettingsError, load_settings


@pytest.mark.parametrize("secret", ["", "change-me", "secret", DEV_SECRET])
def test_production_refuses_a_placeholder_secret(secret: str) -> None:
    with pytest.raises(SettingsError, match="MCX_SECRET_KEY is missing or a placeholder"):
        load_settings(env="production", secret_key=secret)


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(SettingsError, match="at least 32 characters"):
        load_settings(env="production", secret_key="short-but-not-a-placeholder")


def test_production_starts_with_a_real_secret() -> None:
    settings = load_settings(env="production", secret_key="x" * 48, base_url="https://mcx.example/")
    assert settings.secure_cookies
    assert settings.base_url == "https://mcx.example"


def test_development_uses_the_dev_secret_and_plain_cookies() -> None:
    settings = load_settings(env="development", base_url="http://127.0.0.1:8000")
    assert settings.secret_key == DEV_SECRET
    assert not settings.secure_cookies


def test_database_url_must_be_postgres() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL must be a PostgreSQL URL"):
        load_settings(database_url="sqlite:///mcx.db")


def test_database_url_is_normalised_to_asyncpg() -> None:
    settings = load_settings(database_url="postgresql://postgres@127.0.0.1:5432/mcx")
    assert settings.database_url == "postgresql+asyncpg://postgres@127.0.0.1:5432/mcx"


def test_redis_url_scheme_is_checked() -> None:
    with pytest.raises(SettingsError, match="REDIS_URL must start with"):
        load_settings(redis_url="http://127.0.0.1:6379")


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCX_LEASE_MINUTES", "45")
    monkeypatch.setenv("MCX_UPLOAD_MAX_FILE_BYTES", "1000")
    settings = load_settings()
    assert (settings.lease_minutes, settings.upload_max_file_bytes) == (45, 1000)


def test_bad_numbers_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCX_LEASE_MINUTES", "0")
    with pytest.raises(SettingsError, match="lease_minutes"):
        load_settings()
