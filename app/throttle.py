"""Fixed-window request counters in Redis, for public endpoints anyone may call.

One atomic step (the Lua below): count the request and, on the window's first request, set
the window's expiry, so a counter can never outlive its window (INCR then EXPIRE from Python
could leave a counter without one if the process died in between).
"""

from __future__ import annotations

from redis.asyncio import Redis

# KEYS[1]: the counter of one address and window. ARGV[1]: the window in seconds.
# Returns the number of requests counted in this window, this one included.
COUNT_IN_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
end
return count
"""


async def allow(redis: Redis, key: str, limit: int, window_seconds: int) -> bool:
    """Count one request under `key`; False once more than `limit` came in this window."""
    count = await redis.eval(COUNT_IN_WINDOW, 1, key, str(window_seconds))  # type: ignore[misc]
    return int(count) <= limit
