"""Test fixtures: a fresh database per run on real PostgreSQL, real Redis, per-test isolation.

With DATABASE_URL / REDIS_URL set (CI: the machine's services) the suite uses those servers;
without them it starts the embedded ones in `.mcx-test/`, as a laptop would.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel
from starlette.applications import Starlette

import app.models  # noqa: F401  (registers the tables for TRUNCATE)
from app.db import alembic_config
from app.embedded import ensure_postgres, ensure_redis
from app.main import create_app
from app.runtime import Runtime, Urls, open_runtime
from app.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA_DIR = ROOT / ".mcx-test"
TEST_SECRET = "test-secret-key-that-is-long-enough-for-mcx-0123456789"


def _asyncpg_url(url: str) -> str:
    return load_settings(database_url=url).database_url or url


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def services() -> Iterator[Urls]:
    """The servers for this run, and a database of its own on the PostgreSQL one."""
    urls = Urls(
        database=_asyncpg_url(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") else "",
        redis=os.environ.get("REDIS_URL", ""),
    )
    if not urls.database:
        pg = ensure_postgres(TEST_DATA_DIR)
        urls.embedded.append(pg)
        urls.database = pg.url
    if not urls.redis:
        rd = ensure_redis(TEST_DATA_DIR)
        urls.embedded.append(rd)
        urls.redis = rd.url
    server_url = urls.database
    name = f"mcx_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    urls.database = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    command.upgrade(alembic_config(urls.database), "head")
    try:
        yield urls
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        urls.stop_embedded()


@pytest.fixture
def settings(services: Urls, tmp_path: Path) -> Settings:
    return load_settings(
        env="test",
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        database_url=services.database,
        redis_url=services.redis,
        redis_prefix=f"mcx:test:{uuid.uuid4().hex[:8]}:",
    )


async def _reset(runtime: Runtime) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with runtime.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    keys = [key async for key in runtime.redis.scan_iter(match=runtime.settings.redis_prefix + "*")]
    if keys:
        await runtime.redis.delete(*keys)


@pytest.fixture
async def runtime(settings: Settings, services: Urls) -> AsyncIterator[Runtime]:
    """A runtime of the test's own; afterwards every table is emptied and its keys deleted."""
    rt = await open_runtime(settings, Urls(database=services.database, redis=services.redis))
    try:
        yield rt
    finally:
        await _reset(rt)
        await rt.close()


@pytest.fixture
async def app(settings: Settings, services: Urls, runtime: Runtime) -> AsyncIterator[Starlette]:
    application = create_app(settings, Urls(database=services.database, redis=services.redis))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=False
    ) as http:
        yield http
