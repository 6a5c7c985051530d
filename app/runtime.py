"""Opens and closes what a process shares: the engine, Redis, the arq pool, embedded servers."""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool, Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import Sessions, make_engine, make_sessions
from app.settings import Settings

if TYPE_CHECKING:
    from app.queue.hot import HotPool

log = logging.getLogger(__name__)


class _Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass
class Urls:
    """Where PostgreSQL and Redis are, after starting the embedded ones if none are configured."""

    database: str
    redis: str
    embedded: list[_Stoppable] = field(default_factory=list)

    def stop_embedded(self) -> None:
        for server in reversed(self.embedded):
            server.stop()
        self.embedded.clear()


def resolve_urls(settings: Settings) -> Urls:
    """Configured URLs, or those of the private servers in the data folder (started if needed)."""
    from app import embedded

    urls = Urls(database=settings.database_url or "", redis=settings.redis_url or "")
    if not urls.database:
        pg = embedded.ensure_postgres(settings.data_dir)
        urls.embedded.append(pg)
        urls.database = pg.url
    if not urls.redis:
        rd = embedded.ensure_redis(settings.data_dir)
        urls.embedded.append(rd)
        urls.redis = rd.url
    return urls


@dataclass
class Runtime:
    settings: Settings
    urls: Urls
    engine: AsyncEngine
    sessions: Sessions
    redis: Redis
    arq: ArqRedis

    @functools.cached_property
    def hot(self) -> HotPool:
        """The claim statements' own small asyncpg pool (app.queue.hot)."""
        from app.queue.hot import HotPool  # the queue's modules name Runtime: import late

        return HotPool(
            self.urls.database,
            self.settings.max_live_claims,
            size=max(2, self.settings.db_pool_size // 2),
        )

    @functools.cached_property
    def autocommit(self) -> AsyncEngine:
        """The same pool, each statement its own transaction: no BEGIN/COMMIT round trips
        around the single statements of the claim path."""
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def arq_queue(self) -> str:
        return self.settings.redis_prefix + "arq:queue"

    async def close(self) -> None:
        if "hot" in self.__dict__:
            await self.hot.close()
        await self.arq.aclose()
        await self.redis.aclose()
        await self.engine.dispose()
        await asyncio.to_thread(self.urls.stop_embedded)

    async def readiness(self) -> dict[str, str]:
        """'ok' or the error, per backing service."""
        status: dict[str, str] = {}
        try:
            async with asyncio.timeout(3):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            status["postgres"] = "ok"
        except Exception as exc:  # any failure means "not ready"; the message says which
            status["postgres"] = f"error: {type(exc).__name__}: {exc}"[:300]
        try:
            async with asyncio.timeout(3):
                await self.redis.ping()
            status["redis"] = "ok"
        except Exception as exc:
            status["redis"] = f"error: {type(exc).__name__}: {exc}"[:300]
        return status


def arq_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


async def open_runtime(settings: Settings, urls: Urls | None = None) -> Runtime:
    """Connect everything a process needs; nothing here runs at import time."""
    if urls is None:
        urls = await asyncio.to_thread(resolve_urls, settings)
    engine = make_engine(
        urls.database,
        pool_size=settings.db_pool_size,
        max_live_claims=settings.max_live_claims,
    )
    redis = Redis.from_url(urls.redis, decode_responses=True)
    # Lazy like `redis`: a process starts (and /readyz says why it is not ready) without Redis.
    arq = ArqRedis(
        ConnectionPool.from_url(urls.redis), default_queue_name=settings.redis_prefix + "arq:queue"
    )
    from app.invalidation import HOOK, on_commit

    return Runtime(
        settings=settings,
        urls=urls,
        engine=engine,
        sessions=make_sessions(engine, {HOOK: on_commit(redis, settings)}),
        redis=redis,
        arq=arq,
    )
