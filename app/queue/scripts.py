"""The Lua scripts in lua/, loaded once per process and run by their SHA (EVALSHA, falling
back to SCRIPT LOAD when Redis restarted and forgot them). Thin: each wrapper only passes ARGV.

Scripts asked for in the same turn of the event loop go to Redis together, in one pipeline
on one connection (ioredis calls this auto-pipelining; BullMQ runs on it): in rush hour a
thousand taps cost a few writes and reads instead of a thousand connection check-outs, and
Redis answers them in a few batches. Each caller still gets its own answer or error, and a
script alone in its turn runs at once, as before.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

LUA_DIR = Path(__file__).parent / "lua"
NAMES = ("claim", "claim_next", "confirm", "drop", "feed", "open", "unreserve")
BATCH_LIMIT = 512  # scripts per pipeline; a longer queue goes in several

Call = tuple[Any, tuple[Any, ...], "asyncio.Future[Any]"]


class Scripts:
    """Every script of the live queue, bound to one Redis client."""

    def __init__(self, redis: Redis, sources: dict[str, str] | None = None) -> None:
        if sources is None:
            sources = {name: (LUA_DIR / f"{name}.lua").read_text() for name in NAMES}
        self._redis = redis
        self._scripts = {name: redis.register_script(source) for name, source in sources.items()}
        self._waiting: list[Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self, name: str, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((self._scripts[name], args, answer))
        if len(self._waiting) == 1:
            # After every task that is ready in this turn has had its go.
            loop.call_soon(self._flush)
        return await answer

    def script(self, name: str) -> Any:
        """The registered script itself (to queue it in a pipeline)."""
        return self._scripts[name]

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
                script, args, answer = calls[0]
                _settle(answer, await script(keys=[], args=args))
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                for script, args, _ in calls:
                    pipe.evalsha(script.sha, 0, *args)
                results = await pipe.execute(raise_on_error=False)
            for (script, args, answer), result in zip(calls, results, strict=True):
                if isinstance(result, NoScriptError):
                    # Redis forgot the scripts (restarted, flushed): this one loads them again.
                    try:
                        result = await script(keys=[], args=args)
                    except ResponseError as error:  # this script's own refusal
                        result = error
                _settle(answer, result)
        except asyncio.CancelledError:  # the process is stopping
            for _, _, answer in calls:
                answer.cancel()
            raise
        except Exception as exc:  # the connection failed: every caller hears why
            for _, _, answer in calls:
                if not answer.done():
                    answer.set_exception(exc)


def _settle(answer: asyncio.Future[Any], result: Any) -> None:
    if answer.done():  # the caller stopped waiting (cancelled)
        return
    if isinstance(result, Exception):
        answer.set_exception(result)
    else:
        answer.set_result(result)


_BY_CLIENT: weakref.WeakKeyDictionary[Redis, Scripts] = weakref.WeakKeyDictionary()


def scripts(redis: Redis) -> Scripts:
    """The scripts for this Redis client (one set per client, made on first use)."""
    found = _BY_CLIENT.get(redis)
    if found is None:
        found = _BY_CLIENT[redis] = Scripts(redis)
    return found
