"""The async engine, sessions, and the check that the schema is migrated."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

Sessions = async_sessionmaker[AsyncSession]


class SchemaNotCurrent(RuntimeError):
    """The database is not at the newest migration; `mcx migrate` fixes it."""


def make_engine(
    url: str, *, pool_size: int = 10, max_live_claims: int | None = None
) -> AsyncEngine:
    """The pool. `max_live_claims` goes to every connection as `mcx.max_live_claims`, which
    the live-claim trigger on review_tasks enforces (see migration 0006)."""
    # No pre-ping: it would add a round trip to every checkout; asyncpg reports a dead
    # connection as a disconnect error, which invalidates it and the pool moves on.
    settings = {} if max_live_claims is None else {"mcx.max_live_claims": str(max_live_claims)}
    # No overflow: connections opened and closed under a burst cost more than a short wait
    # for one of the pool's (and each opening tries TLS first).
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"server_settings": settings},
    )


def make_sessions(engine: AsyncEngine, info: dict[str, object] | None = None) -> Sessions:
    """Sessions on the engine; `info` is every session's (e.g. the live queue's commit hook)."""
    # expire_on_commit=False: objects stay readable after commit (no lazy loads in async code).
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, info=info)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        try:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        except ProgrammingError:
            return None
    return row[0] if row else None


async def require_current_schema(engine: AsyncEngine) -> None:
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise SchemaNotCurrent(
            f"the database schema is at {current or 'nothing'}, MCX needs {head}: "
            "run `mcx migrate` (or `make run`, which migrates) first"
        )
