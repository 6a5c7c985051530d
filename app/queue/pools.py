"""Which pools a reviewer may review, cached in Redis where the scripts read it.

Worked out from PostgreSQL (app.access.reviewer_pool_rules: role, membership, required
badge, calibration, trust suspension) on first need and kept for CACHE_SECONDS under a
generation number. Anything that changes those facts calls `changed`, which bumps the
generation, so every cached answer is dropped at once. A stale answer can only cost a wasted
tap: PostgreSQL's claim statement re-checks every rule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, inspect
from sqlmodel import Session

from app import access
from app.models import User
from app.queue.keys import eligibility_gen_key, eligibility_key
from app.runtime import Runtime
from app.settings import Settings

log = logging.getLogger(__name__)
CACHE_SECONDS = 60


async def cache(runtime: Runtime, reviewer: User) -> dict[str, str]:
    """Work out the reviewer's pools from PostgreSQL and cache them; the cached hash."""
    settings, redis = runtime.settings, runtime.redis
    # The generation is read first: a change committed while PostgreSQL is asked bumps it,
    # and this entry, stored under the old one, is never read.
    gen = await redis.get(eligibility_gen_key(settings)) or "0"
    async with runtime.sessions() as session:
        rules = await access.reviewer_pool_rules(session, reviewer)
        held_back = len(await access.reviewer_pool_rules(session, reviewer, gated=False)) - len(
            rules
        )
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
    entry["~"] = str(max(held_back, 0))  # present even with no pools: "cached, none"
    if reviewer.school:
        entry["~school"] = reviewer.school.lower().replace("|", " ")
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
        async with runtime.sessions() as session:
            gated = await access.reviewer_pool_rules(session, reviewer)
            ungated = await access.reviewer_pool_rules(session, reviewer, gated=False)
        return len(ungated) > len(gated)
    return entry.get("~", "0") != "0"


async def changed(runtime: Runtime) -> None:
    """Some eligibility fact changed (a role, a badge, calibration, trust, a policy): every
    cached answer is dropped. Call after the commit."""
    await runtime.redis.incr(eligibility_gen_key(runtime.settings))


# The facts eligibility is made of: a committed change to any of these rows drops every
# cached answer (watch). Writes through the ORM are seen; raw SQL writes call `changed`.
_ELIGIBILITY_TABLES = frozenset(
    {"memberships", "awards", "reviewer_standings", "quality_policies", "credentials"}
)
# Of a person, only these matter (a new person is in no pool yet).
_PERSON_FACTS = ("school", "is_active")
_FLAG = "mcx_eligibility_changed"


def _noticed(session: Session, _context: Any, _instances: Any) -> None:
    touched = (*session.new, *session.deleted)
    if any(getattr(obj, "__tablename__", "") in _ELIGIBILITY_TABLES for obj in touched) or any(
        _matters(obj) for obj in session.dirty
    ):
        session.info[_FLAG] = True


def _matters(obj: object) -> bool:
    """Whether a changed row changes someone's eligibility."""
    table = getattr(obj, "__tablename__", "")
    if table in _ELIGIBILITY_TABLES:
        return True
    if table != "users":
        return False
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in _PERSON_FACTS)


def _committed(session: Session) -> None:
    if not session.info.pop(_FLAG, False):
        return
    bump = session.info.get("mcx_on_eligibility")
    if bump is not None:
        bump()


def _rolled_back(session: Session) -> None:
    session.info.pop(_FLAG, None)


event.listen(Session, "before_flush", _noticed)
event.listen(Session, "after_commit", _committed)
event.listen(Session, "after_soft_rollback", lambda session, _previous: _rolled_back(session))


def on_commit(redis: Redis, settings: Settings) -> Callable[[], None]:
    """The hook a runtime's sessions call after committing an eligibility fact: bump the
    generation (in the background: a commit hook cannot wait; the claim statement re-checks
    every rule meanwhile)."""
    key = eligibility_gen_key(settings)
    pending: set[asyncio.Task[Any]] = set()

    def bump() -> None:
        task = asyncio.get_running_loop().create_task(_incr(redis, key))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return bump


async def _incr(redis: Redis, key: str) -> None:
    try:
        await redis.incr(key)
    except RedisError as exc:  # cached answers then last their CACHE_SECONDS at most
        log.warning("could not drop cached eligibility: %s", exc)
