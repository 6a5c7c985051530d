"""Claim, reserve-next, grant, release, extend and expire: the claim engine's steps.

Redis (lua/claim.lua, lua/claim_next.lua) answers every tap first: a loser costs that one
round trip. A reservation is granted by one PostgreSQL statement (sql/claim.sql), and
lua/confirm.lua records it and tells the feed and the earner in one more Redis round trip.
When Redis does not know a task (lost, rebuilding) PostgreSQL decides alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import access, events
from app.errors import ActionError, not_found
from app.models import User
from app.queue import pools
from app.queue.hot import Statement
from app.queue.keys import TRUST_LEAD_SECONDS, PoolKey, held_key
from app.queue.scripts import scripts
from app.runtime import Runtime

log = logging.getLogger(__name__)
SQL_DIR = Path(__file__).parent / "sql"


# The grant both claim statements end with (sql/grant.sql), its comment lines left out.
_GRANT = "".join(
    line
    for line in (SQL_DIR / "grant.sql").read_text().splitlines(keepends=True)
    if not line.startswith("--")
)


def _statement(name: str) -> Statement:
    """A statement from sql/, with the grant and app.access's eligibility rules spliced in."""
    sql = (SQL_DIR / f"{name}.sql").read_text().replace("{grant}", _GRANT)
    return Statement(sql.replace("{eligible}", access.ELIGIBLE_SQL))


CLAIM_SQL = _statement("claim")
CLAIM_NEXT_SQL = _statement("claim_next")
# Only on the refused path: why PostgreSQL said no (missing, someone else's, mine, or not
# for this reviewer), and what Redis needs to put the task back.
FACTS_SQL = text(
    """
    SELECT review_tasks.state, review_tasks.reviewer_id, review_tasks.lease_version,
           review_tasks.lease_expires_at, review_tasks.extended, review_tasks.priority,
           ({eligible}) AS eligible
      FROM review_tasks
      JOIN submissions ON submissions.id = review_tasks.submission_id
      JOIN credentials ON credentials.id = submissions.credential_id
      JOIN users AS earner ON earner.id = submissions.earner_id
     WHERE review_tasks.id = :task
    """.replace("{eligible}", access.ELIGIBLE_SQL)
)
LIVE_CLAIMS_SQL = text("SELECT live_claims FROM users WHERE id = :reviewer")
HELD_SQL = text("SELECT id FROM review_tasks WHERE reviewer_id = :reviewer AND state = 'claimed'")

GONE = "This review is no longer yours: the claim was released or its time ran out."
TAKEN = "Someone else just took this one."
TOO_MANY = "Finish or release the review you hold before claiming another."
CAP_SQLSTATE = "MX001"  # the live-claim trigger's refusal (migration 0006)

RESERVED, MINE, TAKEN_CODE, UNKNOWN, INELIGIBLE, AT_CAP, UNCACHED = 1, 2, 0, -1, -2, -3, -9
CACHE_TRIES = 3


@dataclass
class Claim:
    task_id: uuid.UUID
    lease_version: int
    lease_expires_at: datetime
    extended: bool

    def json(self) -> dict[str, Any]:
        return {
            "task_id": str(self.task_id),
            "lease_version": self.lease_version,
            "lease_expires_at": self.lease_expires_at.isoformat(),
            "extended": self.extended,
        }


@dataclass(frozen=True)
class Reservation:
    """A task claim_next took out of the open set for a reviewer, not yet granted."""

    task_id: uuid.UUID
    pool: PoolKey
    known_answer_percent: int
    lease_seconds: int


def too_many() -> ActionError:
    return ActionError("too_many_claims", TOO_MANY, 409)


def _school(reviewer: User) -> str | None:
    return reviewer.school.lower() if reviewer.school else None


async def _script(runtime: Runtime, reviewer: User, name: str, *args: Any) -> list[Any]:
    """Run a reviewer's script, caching their eligibility first when the script asks."""
    found = await scripts(runtime.redis).run(name, runtime.settings.redis_prefix, *args)
    # A busy exchange may change eligibility (and drop every cached answer) between caching
    # and the script: a few tries, then the caller lets PostgreSQL decide.
    for _ in range(CACHE_TRIES):
        if int(found[0]) != UNCACHED:
            break
        await pools.cache(runtime, reviewer)
        found = await scripts(runtime.redis).run(name, runtime.settings.redis_prefix, *args)
    return list(found)


async def claim(
    runtime: Runtime, reviewer: User, task_id: uuid.UUID, *, recheck_cap: bool = True
) -> Claim:
    """Claim one given task; exactly one of any number of racing reviewers wins."""
    try:
        code, detail = await _script(
            runtime, reviewer, "claim", str(task_id), str(reviewer.id), _cap(runtime)
        )
    except RedisError as exc:
        log.warning("queue unavailable for claim, PostgreSQL decides: %s", exc)
        return await grant(runtime, reviewer, task_id, None)
    code = int(code)
    if code == TAKEN_CODE and detail:
        raise ActionError("already_taken", TAKEN, 409)
    if code == AT_CAP:
        if not recheck_cap:
            raise too_many()
        await check_cap(runtime, reviewer)
        return await claim(runtime, reviewer, task_id, recheck_cap=False)
    if code == RESERVED:
        return await grant(runtime, reviewer, task_id, PoolKey.parse(detail.split("|")[0]))
    # MINE (a double tap), UNKNOWN, INELIGIBLE by the cache, or taken with no holder known
    # (Redis and PostgreSQL disagree): PostgreSQL decides, and Redis follows it.
    return await grant(runtime, reviewer, task_id, None)


async def reserve_next(
    runtime: Runtime, reviewer: User, skip: list[uuid.UUID]
) -> Reservation | int:
    """Take the best open task for this reviewer out of the open set (claim_next.lua); or
    UNKNOWN (PostgreSQL must choose), TAKEN_CODE (no open work for them) or AT_CAP."""
    try:
        found = await _script(
            runtime,
            reviewer,
            "claim_next",
            str(reviewer.id),
            _cap(runtime),
            32,
            TRUST_LEAD_SECONDS,
            *(str(task) for task in skip),
        )
    except RedisError as exc:
        log.warning("queue unavailable for claim-next, PostgreSQL decides: %s", exc)
        return UNKNOWN
    if int(found[0]) == UNCACHED:
        # Cached and dropped again at once (another eligibility change bumped the generation
        # between the two scripts): PostgreSQL decides, rather than a wrong "no work".
        return UNKNOWN
    if int(found[0]) != RESERVED:
        return int(found[0])
    pool_name, _trust, percent, seconds = str(found[2]).split("|")
    return Reservation(uuid.UUID(found[1]), PoolKey.parse(pool_name), int(percent), int(seconds))


async def grant(
    runtime: Runtime, reviewer: User, task_id: uuid.UUID, reserved: PoolKey | None
) -> Claim:
    """PostgreSQL's word on a claim (sql/claim.sql, one round trip): granted, then recorded in
    Redis with the feed and the earner told; or refused with the reason, and a reservation
    this reviewer made in Redis undone."""
    params = {
        "task": task_id,
        "reviewer": reviewer.id,
        "school": _school(reviewer),
        "seconds": 60 * runtime.settings.lease_minutes,
    }
    try:
        row = await runtime.hot.fetchrow(CLAIM_SQL, params)
    except asyncpg.UniqueViolationError:
        row = None  # never the same reviewer twice on one submission (a unique index)
    except asyncpg.PostgresError as exc:
        if exc.sqlstate != CAP_SQLSTATE:
            raise
        await _refused(runtime, reviewer, task_id, reserved)
        raise too_many() from None
    if row is None:
        return await _refused(runtime, reviewer, task_id, reserved)
    await _confirm(runtime, reviewer, row)
    return Claim(row.id, row.lease_version, row.lease_expires_at, row.extended)


async def claim_next_in_postgres(runtime: Runtime, reviewer: User) -> Claim | None:
    """claim-next while Redis does not know a pool: PostgreSQL picks (SKIP LOCKED) and
    grants in one statement; None when nothing is open for this reviewer."""
    params = {
        "reviewer": reviewer.id,
        "school": _school(reviewer),
        "seconds": 60 * runtime.settings.lease_minutes,
        "lead": float(TRUST_LEAD_SECONDS),
    }
    try:
        row = await runtime.hot.fetchrow(CLAIM_NEXT_SQL, params)
    except asyncpg.UniqueViolationError:
        return None
    except asyncpg.PostgresError as exc:
        if exc.sqlstate != CAP_SQLSTATE:
            raise
        raise too_many() from None
    if row is None:
        return None
    await _confirm(runtime, reviewer, row)
    return Claim(row.id, row.lease_version, row.lease_expires_at, row.extended)


async def unreserve(runtime: Runtime, reviewer: User, reservation: Reservation) -> None:
    """Hand a reservation back untouched (claim-next served a known-answer check instead)."""
    async with _autocommit(runtime) as conn:
        facts = (
            await conn.execute(FACTS_SQL, _facts_params(reviewer, reservation.task_id))
        ).first()
    await _undo(runtime, reviewer, reservation.task_id, reservation.pool, facts)


async def _refused(
    runtime: Runtime, reviewer: User, task_id: uuid.UUID, reserved: PoolKey | None
) -> Claim:
    """The claim statement granted nothing: say why (and answer a double tap with the claim
    it already won), and put Redis back as PostgreSQL has it."""
    async with _autocommit(runtime) as conn:
        facts = (await conn.execute(FACTS_SQL, _facts_params(reviewer, task_id))).first()
    if reserved is not None:
        await _undo(runtime, reviewer, task_id, reserved, facts)
    if facts is None:
        raise not_found("That task")
    if facts.state == "claimed" and facts.reviewer_id == reviewer.id:
        return Claim(task_id, facts.lease_version, facts.lease_expires_at, facts.extended)
    if not facts.eligible:
        raise not_found("That task")
    raise ActionError("already_taken", TAKEN, 409)


def _facts_params(reviewer: User, task_id: uuid.UUID) -> dict[str, Any]:
    return {"task": task_id, "reviewer": reviewer.id, "school": _school(reviewer)}


async def _undo(
    runtime: Runtime, reviewer: User, task_id: uuid.UUID, pool: PoolKey, facts: Any
) -> None:
    """This reviewer's reservation was not granted: free it, and back into the open set if
    PostgreSQL still has the task open."""
    run = scripts(runtime.redis).run
    prefix = runtime.settings.redis_prefix
    try:
        await run("unreserve", prefix, str(task_id), pool.name, str(reviewer.id))
        if facts is not None and facts.state == "open":
            await run("open", prefix, str(task_id), pool.name, facts.priority, "", "", "")
    except RedisError as exc:
        log.warning("could not undo a reservation of %s (the rebuild will): %s", task_id, exc)


async def _confirm(runtime: Runtime, reviewer: User, row: Any) -> None:
    """After the grant committed: Redis records it; the feed and the earner hear of it."""
    settings = runtime.settings
    pool = PoolKey(row.credential_id, row.pool)
    feed = {
        "type": "task.claimed",
        "task_id": str(row.id),
        "credential_id": str(row.credential_id),
        "pool": row.pool,
        "data": {},
        "audience": {},
    }
    told = {
        "type": "notification",
        "user_id": str(row.earner_id),
        "notification": {
            "id": row.notification_id,
            "kind": "submission.claimed",
            "payload": row.payload,
            "created_at": row.notified_at.isoformat(),
            "read": False,
        },
    }
    events.feed_changed()
    _announcer(runtime).add(
        (
            settings.redis_prefix,
            str(row.id),
            pool.name,
            str(reviewer.id),
            row.lease_expires_at.timestamp(),
            str(row.submission_id),
            settings.redis_prefix + "ev:feed",
            json.dumps(feed),
            settings.redis_prefix + "ev:user",
            json.dumps(told),
        )
    )


class _Announcer:
    """lua/confirm.lua for every grant of this moment, after their commits:
    the winner's answer does not wait for it, and a burst of winners costs one round trip
    rather than one each. A process that dies before the flush leaves PostgreSQL right (the
    earner's notification is a row they catch up on; the rebuild mends Redis)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.pending: list[tuple[Any, ...]] = []
        self.flushing: asyncio.Task[None] | None = None

    def add(self, args: tuple[Any, ...]) -> None:
        self.pending.append(args)
        if self.flushing is None:
            self.flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self.pending:
                await asyncio.sleep(0)  # the grants of this moment join the batch
                batch, self.pending = self.pending, []
                run = scripts(self.runtime.redis).run
                try:
                    # One pipeline (app/autopipe.py).
                    await asyncio.gather(*(run("confirm", *args) for args in batch))
                except RedisError as exc:
                    # PostgreSQL holds the claims; the rebuild brings Redis back in line.
                    log.warning("could not record %d claims in the live queue: %s", len(batch), exc)
        finally:
            self.flushing = None


_ANNOUNCERS: weakref.WeakKeyDictionary[Redis, _Announcer] = weakref.WeakKeyDictionary()


def _announcer(runtime: Runtime) -> _Announcer:
    found = _ANNOUNCERS.get(runtime.redis)
    if found is None:
        found = _ANNOUNCERS[runtime.redis] = _Announcer(runtime)
    return found


async def check_cap(runtime: Runtime, reviewer: User) -> None:
    """Redis says the reviewer is at the cap. PostgreSQL has the last word: if it counts
    fewer live claims (Redis missed a release), Redis is corrected and the caller tries again."""
    async with _autocommit(runtime) as conn:
        held = {row.id for row in (await conn.execute(HELD_SQL, {"reviewer": reviewer.id}))}
    if len(held) >= runtime.settings.max_live_claims:
        raise too_many()
    key = held_key(runtime.settings, reviewer.id)
    async with runtime.redis.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        if held:
            pipe.sadd(key, *(str(task) for task in held))
        await pipe.execute()


def _cap(runtime: Runtime) -> int:
    return runtime.settings.max_live_claims


def refused_by_cap(exc: DBAPIError) -> bool:
    """Whether a statement run through SQLAlchemy was refused by the live-claim trigger."""
    return _sqlstate(exc) == CAP_SQLSTATE


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None)
        if state:
            return str(state)
    return None


def _autocommit(runtime: Runtime) -> Any:
    """A connection that runs each statement as its own transaction: no BEGIN/COMMIT round
    trips around the single statements of the hot path."""
    return runtime.autocommit.connect()
