"""Auto-pipelining: the Redis commands of the hot path asked for in the same turn of the event
loop go to Redis together, in one pipeline on one connection (ioredis calls this
auto-pipelining; BullMQ runs on it). In rush hour a thousand taps cost a few writes and reads
instead of a thousand connection check-outs, and Redis answers them in a few batches. Each
caller still gets its own answer or its own error; a command alone in its turn is sent at
once, as before.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

BATCH_LIMIT = 512  # commands per pipeline; a longer queue goes in several

# What to do instead when Redis answers NOSCRIPT (it restarted or was flushed and forgot a
# script): run it the slow way, which loads it again.
Fallback = Callable[[], Awaitable[Any]]
Call = tuple[tuple[Any, ...], Fallback | None, "asyncio.Future[Any]"]


class AutoPipeline:
    """One per Redis client (`autopipeline(redis)`)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiting: list[Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, *command: Any, noscript: Fallback | None = None) -> Any:
        """Run one command (`"GET", key`; `"EVALSHA", sha, 0, *args`) and return its answer."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((command, noscript, answer))
        if len(self._waiting) == 1:
            # After every task that is ready in this turn has had its go.
            loop.call_soon(self._flush)
        return await answer

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), BATCH_LIMIT):
            task = asyncio.get_running_loop().create_task(
                self._send(waiting[start : start + BATCH_LIMIT])
            )
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, calls: list[Call]) -> None:
        try:
            if len(calls) == 1:
                command, noscript, answer = calls[0]
                try:
                    result = await self._redis.execute_command(*command)
                except ResponseError as error:
                    result = error
                await _settle(answer, result, noscript)
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                for command, _, _ in calls:
                    pipe.execute_command(*command)
                results = await pipe.execute(raise_on_error=False)
            for (_, noscript, answer), result in zip(calls, results, strict=True):
                await _settle(answer, result, noscript)
        except asyncio.CancelledError:  # the process is stopping
            for _, _, answer in calls:
                answer.cancel()
            raise
        except Exception as exc:  # the connection failed: every caller hears why
            for _, _, answer in calls:
                if not answer.done():
                    answer.set_exception(exc)


async def _settle(answer: asyncio.Future[Any], result: Any, noscript: Fallback | None) -> None:
    if isinstance(result, NoScriptError) and noscript is not None:
        try:
            result = await noscript()
        except ResponseError as error:  # the script's own refusal
            result = error
    if answer.done():  # the caller stopped waiting (cancelled)
        return
    if isinstance(result, Exception):
        answer.set_exception(result)
    else:
        answer.set_result(result)


_BY_CLIENT: weakref.WeakKeyDictionary[Redis, AutoPipeline] = weakref.WeakKeyDictionary()


def autopipeline(redis: Redis) -> AutoPipeline:
    """The auto-pipeline of this Redis client (made on first use)."""
    found = _BY_CLIENT.get(redis)
    if found is None:
        found = _BY_CLIENT[redis] = AutoPipeline(redis)
    return found
