"""Rebuild the live queue from PostgreSQL (worker start, every minute, `mcx queue rebuild`):
every pool's open set, leases and holders, each task's facts and card, who is on each
packet, and every reviewer's live claims, as PostgreSQL has them now."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import events
from app.queue.board import card
from app.queue.keys import (
    PoolKey,
    cards_key,
    held_key,
    holders_key,
    meta,
    on_key,
    tasks_key,
)
from app.settings import Settings

log = logging.getLogger(__name__)

REBUILD_SQL = text(
    """
    SELECT t.id, s.credential_id, t.pool, t.state, t.reason, t.created_at, t.priority,
           extract(epoch FROM t.lease_expires_at) AS deadline, t.reviewer_id, t.version_id,
           s.id AS submission_id, s.earner_id,
           CASE WHEN c.exclude_same_school THEN lower(e.school) END AS school, c.title,
           t.min_trust
      FROM review_tasks t
      JOIN submissions s ON s.id = t.submission_id
      JOIN credentials c ON c.id = s.credential_id
      JOIN users e ON e.id = s.earner_id
     WHERE t.state IN ('open', 'claimed')
    """
)
KINDS_SQL = text(
    """
    SELECT a.version_id, array_agg(DISTINCT a.kind) FROM artifacts a
     WHERE a.version_id IN (SELECT version_id FROM review_tasks WHERE state IN ('open', 'claimed'))
     GROUP BY a.version_id
    """
)
ON_SQL = text(
    """
    WITH live AS (SELECT DISTINCT submission_id FROM review_tasks WHERE state = 'open')
    SELECT t.submission_id, t.reviewer_id::text FROM review_tasks t JOIN live USING (submission_id)
     WHERE t.reviewer_id IS NOT NULL
    UNION
    SELECT r.submission_id, r.reviewer_id::text FROM reviews r JOIN live USING (submission_id)
    UNION
    SELECT x.submission_id, x.reviewer_id::text FROM submission_exclusions x
      JOIN live USING (submission_id)
    """
)
CREDENTIALS_SQL = text("SELECT id FROM credentials")
STILL_OPEN_SQL = text("SELECT id FROM review_tasks WHERE id = ANY(:ids) AND state = 'open'")
BATCH = 5000


async def rebuild(engine: AsyncEngine, redis: Redis, settings: Settings) -> dict[str, int]:
    """Make Redis match PostgreSQL again. Merges rather than replaces, so it is safe while
    people claim and packets open: first it adds everything PostgreSQL has open or claimed,
    then removes what Redis still lists as open but PostgreSQL, asked afterwards, no longer
    has open. A task opened meanwhile is never dropped. Idempotent."""
    async with engine.connect() as conn:
        rows = (await conn.execute(REBUILD_SQL)).all()
        kinds = {row[0]: list(row[1]) for row in (await conn.execute(KINDS_SQL)).all()}
        on_it = (await conn.execute(ON_SQL)).all()
        credential_ids = [row[0] for row in (await conn.execute(CREDENTIALS_SQL)).all()]
    opened: dict[PoolKey, dict[str, float]] = defaultdict(dict)
    leased: dict[PoolKey, dict[str, float]] = defaultdict(dict)
    holders: dict[PoolKey, dict[str, str]] = defaultdict(dict)
    held: dict[str, set[str]] = defaultdict(set)
    facts: dict[str, str] = {}
    cards: dict[str, str] = {}
    for row in rows:
        key, task = PoolKey(row.credential_id, row.pool), str(row.id)
        facts[task] = meta(key, row.submission_id, row.earner_id, row.school or "", row.min_trust)
        cards[task] = card(
            row.id,
            row.credential_id,
            row.title,
            row.pool,
            row.reason,
            row.created_at.isoformat(),
            row.submission_id,
            kinds.get(row.version_id, []),
        )
        if row.state == "open":
            opened[key][task] = row.priority
        else:
            leased[key][task] = float(row.deadline)
            holders[key][task] = str(row.reviewer_id)
            held[str(row.reviewer_id)].add(task)
    pools = [PoolKey(c, pool) for c in credential_ids for pool in ("peer", "expert")]
    known_holders = set(await redis.smembers(holders_key(settings))) | set(held)  # type: ignore[misc]
    async with redis.pipeline(transaction=False) as pipe:
        items = list(facts)
        for start in range(0, len(items), BATCH):
            chunk = items[start : start + BATCH]
            pipe.hset(tasks_key(settings), mapping={t: facts[t] for t in chunk})
            pipe.hset(cards_key(settings), mapping={t: cards[t] for t in chunk})
        for submission_id, reviewer_id in on_it:
            pipe.sadd(on_key(settings, submission_id), reviewer_id)
        for reviewer in known_holders:
            pipe.delete(held_key(settings, reviewer))
            if held.get(reviewer):
                pipe.sadd(held_key(settings, reviewer), *held[reviewer])
        if held:
            pipe.sadd(holders_key(settings), *held)
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
    events.feed_changed()
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
