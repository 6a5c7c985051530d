"""The live review queue in Redis: open tasks per (credential, pool), leases, rebuild.

PostgreSQL decides who holds a task; Redis turns away the losing taps before they reach it.
Each pool's keys share one hash tag `{credential:pool}`, so Redis Cluster keeps them on one
slot. A pool's `ready` marker says its keys were built; when Redis lost everything (restart,
FLUSHALL, failover) the marker is gone and claims fall through to PostgreSQL until the
rebuild job has put the queue back.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings

log = logging.getLogger(__name__)

# {1, ''}: this tap removed the task from the open set (go on to PostgreSQL); {0, holder}:
# already gone, and who took it (so the holder's own double tap is recognised); {-1, ''}: the
# pool was never built here (Redis lost it: ask PostgreSQL). Lease deadlines use Redis TIME.
CLAIM_LUA = """
if redis.call('EXISTS', KEYS[3]) == 0 then return {-1, ''} end
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return {0, redis.call('HGET', KEYS[4], ARGV[1]) or ''}
end
local now = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(now[1]) + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
return {1, ''}
"""

# Put a task (back) into the open set and drop its lease and holder.
OPEN_LUA = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('SET', KEYS[3], '1')
return 1
"""

CLAIMED, TAKEN, UNKNOWN = 1, 0, -1


@dataclass(frozen=True)
class PoolKey:
    credential_id: uuid.UUID
    pool: str

    def keys(self, settings: Settings) -> tuple[str, str, str, str]:
        tag = f"{settings.redis_prefix}q:{{{self.credential_id}:{self.pool}}}"
        return f"{tag}:open", f"{tag}:lease", f"{tag}:ready", f"{tag}:holder"


def score(created_at: datetime, reason: str) -> float:
    """Oldest first; escalations and appeals a day ahead (the same order as access.by_priority)."""
    return created_at.timestamp() - (0 if reason == "initial" else 86400)


async def try_claim(
    redis: Redis,
    settings: Settings,
    key: PoolKey,
    task_id: uuid.UUID,
    lease_seconds: int,
    reviewer_id: uuid.UUID,
) -> tuple[int, str]:
    """(CLAIMED, TAKEN or UNKNOWN; the holder when TAKEN). A Redis failure is UNKNOWN."""
    try:
        code, holder = await redis.eval(  # type: ignore[misc]
            CLAIM_LUA, 4, *key.keys(settings), str(task_id), str(lease_seconds), str(reviewer_id)
        )
    except RedisError as exc:
        log.warning("queue unavailable for claim, falling back to PostgreSQL: %s", exc)
        return UNKNOWN, ""
    return int(code), str(holder)


async def put_open(
    redis: Redis, settings: Settings, key: PoolKey, task_id: uuid.UUID, priority: float
) -> None:
    try:
        await redis.eval(OPEN_LUA, 4, *key.keys(settings), str(task_id), str(priority))  # type: ignore[misc]
    except RedisError as exc:
        # PostgreSQL already says it is open; the next rebuild puts it back.
        log.warning("could not add task %s to the live queue: %s", task_id, exc)


async def drop(redis: Redis, settings: Settings, key: PoolKey, task_id: uuid.UUID) -> None:
    """Remove a task from the open set and the leases (completed, cancelled)."""
    open_key, lease_key, _, holder_key = key.keys(settings)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.zrem(open_key, str(task_id))
            pipe.zrem(lease_key, str(task_id))
            pipe.hdel(holder_key, str(task_id))
            await pipe.execute()
    except RedisError as exc:
        log.warning("could not drop task %s from the live queue: %s", task_id, exc)


async def open_count(redis: Redis, settings: Settings, key: PoolKey) -> int:
    return int(await redis.zcard(key.keys(settings)[0]))


REBUILD_SQL = text(
    """
    SELECT t.id, s.credential_id, t.pool, t.state, t.reason, t.created_at,
           extract(epoch FROM t.lease_expires_at) AS deadline, t.reviewer_id
      FROM review_tasks t JOIN submissions s ON s.id = t.submission_id
     WHERE t.state IN ('open', 'claimed')
    """
)
CREDENTIALS_SQL = text("SELECT id FROM credentials")


STILL_OPEN_SQL = text("SELECT id FROM review_tasks WHERE id = ANY(:ids) AND state = 'open'")


async def rebuild(engine: AsyncEngine, redis: Redis, settings: Settings) -> dict[str, int]:
    """Make every pool's open set, leases and ready marker match PostgreSQL again.

    Merges rather than replaces, so it is safe while people claim and packets open: first it
    adds everything PostgreSQL has open (and every live claim's holder), then it removes what
    Redis still lists as open but PostgreSQL, asked afterwards, no longer has open. A task
    opened meanwhile is never dropped. Idempotent.
    """
    async with engine.connect() as conn:
        rows = (await conn.execute(REBUILD_SQL)).all()
        credential_ids = [row[0] for row in (await conn.execute(CREDENTIALS_SQL)).all()]
    opened: dict[PoolKey, dict[str, float]] = defaultdict(dict)
    leased: dict[PoolKey, dict[str, float]] = defaultdict(dict)
    holders: dict[PoolKey, dict[str, str]] = defaultdict(dict)
    for task_id, credential_id, pool, state, reason, created_at, deadline, reviewer in rows:
        key = PoolKey(credential_id, pool)
        if state == "open":
            opened[key][str(task_id)] = score(created_at, reason)
        else:
            leased[key][str(task_id)] = float(deadline)
            holders[key][str(task_id)] = str(reviewer)
    pools = [PoolKey(c, pool) for c in credential_ids for pool in ("peer", "expert")]
    async with redis.pipeline(transaction=False) as pipe:
        for key in pools:
            open_key, lease_key, ready_key, holder_key = key.keys(settings)
            if opened.get(key):
                pipe.zadd(open_key, opened[key])
            if leased.get(key):
                pipe.zadd(lease_key, leased[key])
                pipe.hset(holder_key, mapping=holders[key])
            pipe.set(ready_key, "1")
        await pipe.execute()
    removed = await _drop_stale(engine, redis, settings, pools)
    counts = {
        "open": sum(len(v) for v in opened.values()),
        "claimed": sum(len(v) for v in leased.values()),
        "stale_removed": removed,
    }
    log.info("rebuilt the live queue: %(open)d open, %(claimed)d claimed", counts)
    return counts


async def _drop_stale(
    engine: AsyncEngine, redis: Redis, settings: Settings, pools: list[PoolKey]
) -> int:
    """Remove open-set members that PostgreSQL (asked now) does not have open."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in pools:
            pipe.zrange(key.keys(settings)[0], 0, -1)
        listed = await pipe.execute()
    members = {uuid.UUID(m): key for key, found in zip(pools, listed, strict=True) for m in found}
    if not members:
        return 0
    async with engine.connect() as conn:
        still_open = {
            row[0] for row in (await conn.execute(STILL_OPEN_SQL, {"ids": list(members)})).all()
        }
    stale = [task_id for task_id in members if task_id not in still_open]
    if stale:
        async with redis.pipeline(transaction=False) as pipe:
            for task_id in stale:
                pipe.zrem(members[task_id].keys(settings)[0], str(task_id))
            await pipe.execute()
    return len(stale)
