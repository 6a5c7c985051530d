"""The claim statements' own connections: a small asyncpg pool beside the engine, so a
winning claim costs its one round trip and little Python around it (through SQLAlchemy the
same statement cost three times the CPU here). Opened on first use, closed with the runtime.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

# Called with each statement's text before it runs (tests count statements with it).
OBSERVERS: list[Callable[[str], None]] = []
ACQUIRE_SECONDS = 30.0


async def _keep(conn: asyncpg.Connection) -> None:
    """A connection goes back to the pool as it is: each statement here is its own
    transaction and sets nothing, so asyncpg's reset query (a fourfold RESET ALL, UNLISTEN,
    CLOSE ALL and unlock, one more round trip per claim) would find nothing to undo. asyncpg
    still rolls back an open transaction first."""


class Row:
    """A record whose columns read as attributes, like SQLAlchemy's rows."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None


class Statement:
    """A SQL text with `:name` parameters, turned once into asyncpg's `$n` form."""

    def __init__(self, sql: str) -> None:
        self.names: list[str] = []

        def number(found: re.Match[str]) -> str:
            name = found.group(1)
            if name not in self.names:
                self.names.append(name)
            return f"${self.names.index(name) + 1}"

        self.sql = re.sub(r"(?<![:\w]):([a-z_]+)", number, sql)

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]


class HotPool:
    def __init__(self, database_url: str, max_live_claims: int, size: int) -> None:
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
        self._settings = {"mcx.max_live_claims": str(max_live_claims)}
        self._size = size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _ready(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=self._size,  # a burst finds them open
                        max_size=self._size,
                        server_settings=self._settings,
                        reset=_keep,
                    )
        return self._pool

    async def fetchrow(self, statement: Statement, params: dict[str, Any]) -> Row | None:
        """Run one statement as its own transaction; its first row."""
        for observe in OBSERVERS:
            observe(statement.sql)
        pool = await self._ready()
        async with pool.acquire(timeout=ACQUIRE_SECONDS) as conn:
            record = await conn.fetchrow(statement.sql, *statement.args(params))
        return Row(record) if record is not None else None

    async def fetch(self, statement: Statement, params: dict[str, Any]) -> list[Row]:
        """Run one read-only statement; all its rows."""
        for observe in OBSERVERS:
            observe(statement.sql)
        pool = await self._ready()
        async with pool.acquire(timeout=ACQUIRE_SECONDS) as conn:
            return [
                Row(record) for record in await conn.fetch(statement.sql, *statement.args(params))
            ]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
