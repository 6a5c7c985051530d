"""The Lua scripts in lua/, loaded once per process and run by their SHA (EVALSHA, falling
back to EVAL when Redis restarted and forgot them). Thin: each wrapper only passes ARGV."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

LUA_DIR = Path(__file__).parent / "lua"
NAMES = ("claim", "claim_next", "confirm", "drop", "feed", "open", "unreserve")


class Scripts:
    """Every script of the live queue, bound to one Redis client."""

    def __init__(self, redis: Redis) -> None:
        self._scripts = {
            name: redis.register_script((LUA_DIR / f"{name}.lua").read_text()) for name in NAMES
        }

    async def run(self, name: str, *args: Any) -> Any:
        return await self._scripts[name](keys=[], args=args)

    def script(self, name: str) -> Any:
        """The registered script itself (to queue it in a pipeline)."""
        return self._scripts[name]


_BY_CLIENT: weakref.WeakKeyDictionary[Redis, Scripts] = weakref.WeakKeyDictionary()


def scripts(redis: Redis) -> Scripts:
    """The scripts for this Redis client (one set per client, made on first use)."""
    found = _BY_CLIENT.get(redis)
    if found is None:
        found = _BY_CLIENT[redis] = Scripts(redis)
    return found
