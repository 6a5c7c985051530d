"""MCX's one settings object, read from the environment (and an optional `.env`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that ship in docs, compose files and demos; a production start refuses them.
PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "secret", "dev", "development", "please-change-this-secret"}
)
MIN_SECRET_LENGTH = 32
DEV_SECRET = "mcx-development-secret-not-for-production-use"  # noqa: S105


class SettingsError(ValueError):
    """Configuration that MCX refuses to run with; the message says what to set."""


class Settings(BaseSettings):
    """Everything configurable about a running MCX, each field from `MCX_*` or a named variable."""

    model_config = SettingsConfigDict(
        env_prefix="MCX_",
        env_file=".env",
        extra="ignore",
        validate_default=True,
        populate_by_name=True,
    )

    env: Literal["development", "production", "test"] = "development"
    secret_key: str = DEV_SECRET
    data_dir: Path = Path(".mcx")
    base_url: str = "http://127.0.0.1:8000"
    # Unset: the embedded servers in data_dir. Named without the MCX_ prefix, as tools expect.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    # Every Redis key MCX writes starts with this, so tests and tenants can share a server.
    redis_prefix: str = "mcx:"
    upload_max_file_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    upload_max_submission_bytes: int = Field(default=2 * 1024 * 1024 * 1024, gt=0)
    lease_minutes: int = Field(default=30, ge=1, le=24 * 60)
    max_live_claims: int = Field(default=1, ge=1, le=20)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    # The public /verify.json: requests per minute from one address.
    verify_per_minute: int = Field(default=60, ge=1)
    db_pool_size: int = Field(default=20, ge=1)
    # The earner's journey (issue 10): the self-check's link check, nudges and their e-mail.
    link_check_seconds: float = Field(default=3.0, gt=0, le=30)
    # Let the link check fetch loopback and private addresses (tests, a closed intranet).
    link_check_private: bool = False
    nudge_idle_days: int = Field(default=7, ge=1, le=365)
    nudge_pilot_spots_left: int = Field(default=3, ge=1, le=1000)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "MCX <no-reply@mcx.example>"
    # Web Push (issue 20): new work in a pool is announced at most once per this many minutes;
    # `push_contact` (a mailto: or https: URL) is the VAPID `sub` push services may write to;
    # private endpoints (http, loopback, private addresses) only for tests and closed networks.
    push_batch_minutes: int = Field(default=10, ge=1, le=24 * 60)
    push_contact: str | None = None
    push_private_endpoints: bool = False
    # Longest a background job may run; arq hands the job of a worker that died to another
    # worker this long (plus 10 s) after it started.
    job_timeout_seconds: int = Field(default=300, ge=1, le=24 * 3600)
    # Preparing one video or audio file (rendition, poster, observations) is a job of its
    # own with this longer bound; each worker runs this many at once (they use every core).
    media_job_timeout_seconds: int = Field(default=1800, ge=10, le=24 * 3600)
    media_transcodes: int = Field(default=1, ge=1, le=16)
    # A request body that stalls this long, or (after it) arrives slower than the rate, is
    # ended with 408: slow-drip uploads cannot hold connections and disk for ever.
    body_idle_seconds: float = Field(default=30.0, gt=0, le=3600)
    body_min_bytes_per_second: int = Field(default=512, ge=0)

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("MCX_BASE_URL must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("push_contact")
    @classmethod
    def _push_contact_is_a_contact(cls, value: str | None) -> str | None:
        # Push services (Apple's in particular) refuse a VAPID `sub` that is neither.
        if value and not re.fullmatch(r"mailto:[^@\s]+@[^@\s]+|https://\S+", value):
            raise ValueError("MCX_PUSH_CONTACT must be mailto:someone@host or an https:// URL")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _database_is_postgres(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split("://", 1)[0]
        if scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
            raise ValueError("DATABASE_URL must be a PostgreSQL URL (postgresql://user@host/db)")
        # One driver everywhere: asyncpg.
        return "postgresql+asyncpg://" + value.split("://", 1)[1]

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("REDIS_URL must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _production_needs_a_real_secret(self) -> Settings:
        if self.env != "production":
            return self
        if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or self.secret_key == DEV_SECRET:
            raise ValueError(
                "MCX_SECRET_KEY is missing or a placeholder; set it to a long random value, "
                'e.g. python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        if len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(f"MCX_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"


def served_base_url(settings: Settings, host: str, port: int) -> str:
    """The public origin: MCX_BASE_URL when it is set, else the address actually served.

    Links in pages and badges and the websocket's Origin check use it, so `mcx serve --port
    8101` must not keep saying port 8000. A wildcard host is reached as 127.0.0.1."""
    if "base_url" in settings.model_fields_set:
        return settings.base_url
    shown = "127.0.0.1" if host in {"", "0.0.0.0", "::"} else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one readable SettingsError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            lines.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsError("MCX cannot start:\n  " + "\n  ".join(lines)) from None
