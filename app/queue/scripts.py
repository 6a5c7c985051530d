"""The Lua scripts in lua/, loaded once per process and run by their SHA (EVALSHA, falling
back to SCRIPT LOAD when Redis restarted and forgot them). Thin: each wrapper only passes ARGV.
They go through the client's auto-pipeline (app/autopipe.py): the scripts of one moment of
rush hour reach Redis together."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from app.autopipe import autopipeline

LUA_DIR = Path(__file__).parent / "lua"
NAMES = ("claim", "claim_next", "confirm", "drop", "feed", "open", "unreserve")


class Scripts:
    """Every script of the live queue (or, for a test, the given `sources`), bound to one
    Redis client."""

    def __init__(self, redis: Redis, sources: dict[str, str] | None = None) -> None:
        if sources is None:
            sources = {name: (LUA_DIR / f"{name}.lua").read_text() for name in NAMES}
        self._pipe = autopipeline(redis)
        self._scripts = {name: redis.register_script(source) for name, source in sources.items()}

    async def run(self, name: str, *args: Any) -> Any:
        script = self._scripts[name]
        return await self._pipe.call(
            "EVALSHA", script.sha, 0, *args, noscript=lambda: script(keys=[], args=args)
        )


_BY_CLIENT: weakref.WeakKeyDictionary[Redis, Scripts] = weakref.WeakKeyDictionary()


def scripts(redis: Redis) -> Scripts:
    """The scripts for this Redis client (one set per client, made on first use)."""
    found = _BY_CLIENT.get(redis)
    if found is None:
        found = _BY_CLIENT[redis] = Scripts(redis)
    return found
