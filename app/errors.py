"""The one error type actions raise: a code for machines, a sentence for people, an HTTP status."""

from __future__ import annotations

import asyncpg
import redis.exceptions
from sqlalchemy import exc as sa_exc


class ActionError(Exception):
    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


def not_found(what: str = "That") -> ActionError:
    # Missing and forbidden look the same from outside.
    return ActionError("not_found", f"{what} was not found.", 404)


# What PostgreSQL or Redis being unreachable surfaces as in a request (is_unavailable decides).
UNAVAILABLE_TYPES: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
    redis.exceptions.RedisError,
    OSError,
)

# How long a client should wait before trying again when PostgreSQL or Redis is unreachable.
RETRY_AFTER_SECONDS = 2


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means PostgreSQL or Redis could not be reached (restarting, failing over,
    out of connections), rather than a bug: a 503 with a retry hint, never a 500.

    Looks through SQLAlchemy's wrapper (`.orig`) and the chain of causes, because asyncpg and
    redis-py report a lost connection as OSError, their own connection errors, or timeouts.
    """
    unavailable: tuple[type[BaseException], ...] = (
        ConnectionError,  # refused, reset, aborted, broken pipe
        TimeoutError,
        sa_exc.TimeoutError,  # no pooled connection free in time
        asyncpg.exceptions.PostgresConnectionError,
        asyncpg.exceptions.CannotConnectNowError,  # starting up or recovering
        asyncpg.exceptions.TooManyConnectionsError,  # no connection slot free (53300)
        asyncpg.exceptions.AdminShutdownError,
        asyncpg.exceptions.CrashShutdownError,
        asyncpg.exceptions.ConnectionDoesNotExistError,
        asyncpg.exceptions.InterfaceError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        redis.exceptions.BusyLoadingError,
    )
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, sa_exc.DBAPIError) and item.connection_invalidated:
            return True
        if isinstance(item, unavailable):
            return True
        # A socket that cannot connect (a unix socket gone while PostgreSQL restarts, or
        # asyncpg's "Multiple exceptions" over several addresses) names no file; a file that
        # is missing or unreadable names itself and stays a 500 or a 404.
        if isinstance(item, OSError) and item.filename is None:
            return True
        pending += [getattr(item, "orig", None), item.__cause__, item.__context__]
    return False
