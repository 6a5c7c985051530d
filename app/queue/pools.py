"""Which pools a reviewer may review, cached in Redis where the scripts read it.

Worked out from PostgreSQL (app.access.reviewer_pool_rules: role, membership, required
badge, calibration, trust suspension, flagged colluding partners) on first need and kept for
CACHE_SECONDS under two generation numbers: the exchange's and the reviewer's own. A change
of facts that concern many reviewers (a role, a policy, a badge) bumps the exchange's (`changed`),
dropping every cached answer at once; a change of one reviewer's standing (trust after each
review, a suspension) bumps only theirs (`reviewer_changed`), so a busy exchange does not keep
dropping everyone's cache. A stale answer can
only cost a wasted tap: PostgreSQL's claim statement re-checks every rule.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app import access
from app.models import User
from app.queue.hot import Statement
from app.queue.keys import eligibility_gen_key, eligibility_key, reviewer_gen_key
from app.runtime import Runtime
from app.settings import Settings

log = logging.getLogger(__name__)
# Every change of these facts through MCX drops the cache at once (app.invalidation); the
# time limit only bounds a change made behind MCX's back (raw SQL).
CACHE_SECONDS = 300
# A reviewer's generation outlives every entry stored under it, so when it lapses (and counts
# from 0 again) no entry of an earlier count is still there to be read.
REVIEWER_GEN_SECONDS = 4 * CACHE_SECONDS
POOL_RULES = Statement(access.POOL_RULES_SQL.text)


async def cache(runtime: Runtime, reviewer: User) -> dict[str, str]:
    """Work out the reviewer's pools from PostgreSQL and cache them; the cached hash."""
    settings, redis = runtime.settings, runtime.redis
    # The generations are read first: a change committed while PostgreSQL is asked bumps one,
    # and this entry, stored under the old ones, is never read.
    exchange, own = await redis.mget(
        eligibility_gen_key(settings), reviewer_gen_key(settings, reviewer.id)
    )
    gen = f"{exchange or 0}.{own or 0}"
    rows = await runtime.hot.fetch(POOL_RULES, {"reviewer": reviewer.id})
    rules, held_back = access.pool_rules_of(rows)
    default_minutes = runtime.settings.lease_minutes
    entry = {
        f"{credential_id}:{pool}": "|".join(
            (
                f"{rule.trust:g}",
                str(rule.known_answer_percent),
                str(60 * (rule.lease_minutes or default_minutes)),
            )
        )
        for (credential_id, pool), rule in rules.items()
    }
    for (credential_id, pool), rule in rules.items():
        entry[f"~m:{credential_id}:{pool}"] = f"{rule.measured:g}"
    entry["~"] = str(max(held_back, 0))  # present even with no pools: "cached, none"
    if reviewer.school:
        entry["~school"] = reviewer.school.lower().replace("|", " ")
    for partner in access.blocked_partners(rows):
        entry[f"~pair:{partner}"] = "1"  # lua/claim*.lua skip a flagged partner's work
    key = eligibility_key(settings, gen, reviewer.id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.hset(key, mapping=entry)
        pipe.expire(key, CACHE_SECONDS)
        await pipe.execute()
    return entry


async def held_back(runtime: Runtime, reviewer: User) -> bool:
    """Whether the quality gate (calibration, low trust) keeps this reviewer from a pool;
    caches their pools afresh on the way (PostgreSQL alone answers while Redis is down)."""
    try:
        entry = await cache(runtime, reviewer)
    except RedisError:
        async with runtime.autocommit.connect() as conn:
            return (await access.pool_rules(conn, reviewer))[1] > 0
    return entry.get("~", "0") != "0"


async def changed(runtime: Runtime) -> None:
    """Some eligibility fact changed (a role, a badge, calibration, trust, a policy): every
    cached answer is dropped. Call after the commit."""
    await runtime.redis.incr(eligibility_gen_key(runtime.settings))


async def reviewer_changed(runtime: Runtime, reviewer_ids: list[str]) -> None:
    """These reviewers' own eligibility facts changed (their standing): their cached answers
    are dropped, nobody else's. Call after the commit."""
    await bump_reviewers(runtime.redis, runtime.settings, reviewer_ids)


async def bump_reviewers(redis: Redis, settings: Settings, reviewer_ids: list[str]) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for reviewer_id in reviewer_ids:
            key = reviewer_gen_key(settings, reviewer_id)
            pipe.incr(key)
            pipe.expire(key, REVIEWER_GEN_SECONDS)
        await pipe.execute()
