"""Work appearing on and leaving the live queue: a task opens (or opens again), a task is
done. Each is one script (lua/open.lua, lua/drop.lua) and, for opening, one feed event."""

from __future__ import annotations

import json
import logging
import uuid

from redis.exceptions import RedisError
from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import events
from app.models import Credential, Pool, ReviewTask, Submission, TaskState
from app.queue.keys import PoolKey, meta, on_key, score
from app.queue.scripts import scripts
from app.runtime import Runtime

log = logging.getLogger(__name__)

# The kinds of evidence, in the order a card lists them.
EVIDENCE_ORDER = ("video", "audio", "image", "document", "link", "reflection")

FACTS_SQL = text(
    """
    SELECT lower(earner.school) AS earner_school,
           (SELECT coalesce(array_agg(DISTINCT a.kind), '{}') FROM artifacts a
             WHERE a.version_id = :version) AS kinds,
           (SELECT coalesce(array_agg(DISTINCT who), '{}') FROM (
                SELECT o.reviewer_id::text AS who FROM review_tasks o
                 WHERE o.submission_id = :submission AND o.reviewer_id IS NOT NULL
                UNION ALL
                SELECT x.reviewer_id::text FROM submission_exclusions x
                 WHERE x.submission_id = :submission) kept) AS on_it
      FROM users earner WHERE earner.id = :earner
    """
)


def card(
    task_id: uuid.UUID,
    credential_id: uuid.UUID,
    title: str,
    pool: str,
    reason: str,
    waiting_since: str,
    submission_id: uuid.UUID,
    kinds: list[str],
) -> str:
    """What a reviewer's feed shows of open work, as stored JSON: never the earner."""
    return json.dumps(
        {
            "task_id": str(task_id),
            "credential_id": str(credential_id),
            "credential": title,
            "pool": pool,
            "reason": reason,
            "waiting_since": waiting_since,
            "packet": str(submission_id),
            "evidence": [kind for kind in EVIDENCE_ORDER if kind in kinds],
        },
        separators=(",", ":"),
    )


async def announce_open(
    runtime: Runtime, task: ReviewTask, submission: Submission, credential: Credential, kind: str
) -> None:
    """After commit: the task is in its pool's open set and every eligible feed hears `kind`."""
    async with runtime.engine.connect() as conn:
        facts = (
            await conn.execute(
                FACTS_SQL,
                {
                    "version": task.version_id,
                    "submission": submission.id,
                    "earner": submission.earner_id,
                },
            )
        ).one()
    pool = PoolKey(credential.id, task.pool)
    school = facts.earner_school or ""
    stored = card(
        task.id,
        credential.id,
        credential.title,
        task.pool,
        task.reason,
        task.created_at.isoformat(),
        submission.id,
        list(facts.kinds),
    )
    await put_open(
        runtime,
        task.id,
        pool,
        score(task.created_at, task.reason),
        meta(
            pool,
            submission.id,
            submission.earner_id,
            school if credential.exclude_same_school else "",
            task.min_trust,
        ),
        stored,
    )
    if facts.on_it:
        # Who is on the packet, or kept off it, may not take it (lua/claim*.lua read this).
        await _keep_off(runtime, submission.id, list(facts.on_it))
    await events.publish_feed(
        runtime.redis,
        runtime.settings,
        kind,
        task_id=task.id,
        credential_id=credential.id,
        pool=task.pool,
        audience={
            "earner_id": str(submission.earner_id),
            "excluded_reviewer_ids": list(facts.on_it),
            "exclude_same_school": credential.exclude_same_school,
            "earner_school": school or None,
        },
        data=json.loads(stored),
    )


async def _keep_off(runtime: Runtime, submission_id: uuid.UUID, reviewers: list[str]) -> None:
    try:
        await runtime.redis.sadd(on_key(runtime.settings, submission_id), *reviewers)  # type: ignore[misc]
    except RedisError as exc:  # the next rebuild adds them; PostgreSQL refuses them meanwhile
        log.warning("could not keep reviewers off %s: %s", submission_id, exc)


async def put_open(
    runtime: Runtime,
    task_id: uuid.UUID,
    pool: PoolKey,
    priority: float,
    task_meta: str = "",
    stored_card: str = "",
) -> None:
    """lua/open.lua: the task is open in Redis (PostgreSQL already says so)."""
    events.feed_changed()
    try:
        await scripts(runtime.redis).run(
            "open",
            runtime.settings.redis_prefix,
            str(task_id),
            pool.name,
            priority,
            task_meta,
            stored_card,
            "",
        )
    except RedisError as exc:
        # PostgreSQL already says it is open; the next rebuild puts it back.
        log.warning("could not add task %s to the live queue: %s", task_id, exc)


async def drop(runtime: Runtime, pool: PoolKey, task_id: uuid.UUID) -> None:
    """lua/drop.lua: the task leaves the live queue (completed, cancelled, handed on)."""
    events.feed_changed()
    try:
        await scripts(runtime.redis).run(
            "drop", runtime.settings.redis_prefix, str(task_id), pool.name
        )
    except RedisError as exc:
        log.warning("could not drop task %s from the live queue: %s", task_id, exc)


async def cancel_open(
    session: AsyncSession, version_id: uuid.UUID, pool: Pool | None = None
) -> list[ReviewTask]:
    """Cancel the version's open tasks (of `pool` only, when given); claimed ones may still
    finish. The caller commits, then calls announce_cancelled with what this returns."""
    query = (
        select(ReviewTask)
        .where(ReviewTask.version_id == version_id)
        .where(ReviewTask.state == TaskState.open)
    )
    if pool is not None:
        query = query.where(ReviewTask.pool == pool)
    cancelled = list((await session.exec(query)).all())
    for task in cancelled:
        task.state = TaskState.cancelled
        session.add(task)
    return cancelled


async def announce_cancelled(
    runtime: Runtime, credential_id: uuid.UUID, cancelled: list[ReviewTask]
) -> None:
    """After commit: each cancelled task leaves the live queue and its feeds hear of it."""
    for task in cancelled:
        await drop(runtime, PoolKey(credential_id, task.pool), task.id)
        await events.publish_feed(
            runtime.redis,
            runtime.settings,
            "task.cancelled",
            task_id=task.id,
            credential_id=credential_id,
            pool=task.pool,
        )
