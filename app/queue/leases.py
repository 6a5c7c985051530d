"""A claim's life after the grant: extended once, released by its holder, or expired by the
sweeper. Each is one SQL statement (sql/extend.sql, release.sql, expire.sql); afterwards
Redis follows (lua/open.lua, the lease deadline) and the feed hears of reopened work.

A write refused under a claim says why only to the reviewer who held it (409 claim_gone);
to anyone else the task does not exist (404), as for any id that names nothing
(`lost_claim`)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from app import events
from app.errors import ActionError, not_found
from app.models import Credential, ReviewTask, Submission, TaskState, User
from app.queue.board import announce_open
from app.queue.claims import GONE, Claim
from app.queue.keys import PoolKey
from app.runtime import Runtime

log = logging.getLogger(__name__)
SQL_DIR = Path(__file__).parent / "sql"
RELEASE_SQL = text((SQL_DIR / "release.sql").read_text())
EXTEND_SQL = text((SQL_DIR / "extend.sql").read_text())
EXPIRE_SQL = text((SQL_DIR / "expire.sql").read_text())
DELETE_DRAFT_SQL = text("DELETE FROM reviews WHERE task_id = :task AND state = 'draft'")
# Only on a refused write: whether this reviewer holds the task, or held it under a claim
# that ended (past_claims, written by release.sql and expire.sql). No row: no such task.
HELD_SQL = text(
    """
    SELECT coalesce(t.reviewer_id = :reviewer, false)
           OR EXISTS (SELECT 1 FROM past_claims p
                       WHERE p.task_id = t.id AND p.reviewer_id = :reviewer) AS held
      FROM review_tasks t
     WHERE t.id = :task
    """
)


async def lost_claim(
    db: AsyncSession | AsyncConnection, reviewer: User, task_id: uuid.UUID
) -> ActionError:
    """Why a write under a claim was refused: the caller's own claim (live under another
    version, ended, or taken by someone since) is gone (409); anything else, whether held
    by someone else or not there at all, is the same 404 (missing and forbidden look the
    same)."""
    row = (await db.execute(HELD_SQL, {"task": task_id, "reviewer": reviewer.id})).first()
    if row is None or not row.held:
        return not_found("That task")
    return ActionError("claim_gone", GONE, 409)


def lease_seconds(runtime: Runtime, credential: Credential) -> int:
    return 60 * (credential.lease_minutes or runtime.settings.lease_minutes)


async def extend(runtime: Runtime, reviewer: User, task_id: uuid.UUID, lease_version: int) -> Claim:
    """Add one more lease period, once per claim, while the lease is live."""
    async with runtime.sessions() as session:
        task = await session.get(ReviewTask, task_id)
        if task is None or task.reviewer_id != reviewer.id:
            raise await lost_claim(session, reviewer, task_id)
        submission = await session.get(Submission, task.submission_id)
        assert submission is not None
        credential = await session.get(Credential, submission.credential_id)
        assert credential is not None
    if task.extended and task.lease_version == lease_version and task.state == TaskState.claimed:
        raise ActionError("already_extended", "A claim can be extended only once.", 409)
    async with runtime.engine.begin() as conn:
        row = (
            await conn.execute(
                EXTEND_SQL,
                {
                    "seconds": lease_seconds(runtime, credential),
                    "task": task_id,
                    "reviewer": reviewer.id,
                    "version": lease_version,
                },
            )
        ).first()
    if row is None:
        raise ActionError("claim_gone", GONE, 409)
    lease_key = PoolKey(credential.id, task.pool).keys(runtime.settings)[1]
    try:
        await runtime.redis.zadd(
            lease_key, {str(task_id): row.lease_expires_at.timestamp()}, xx=True
        )
    except RedisError as exc:
        log.warning("could not move the lease deadline of %s in Redis: %s", task_id, exc)
    return Claim(task_id, row.lease_version, row.lease_expires_at, row.extended)


async def release(runtime: Runtime, reviewer: User, task_id: uuid.UUID, lease_version: int) -> None:
    """Give the task back to the queue; the draft written under this claim goes with it."""
    async with runtime.engine.begin() as conn:
        released = (
            await conn.execute(
                RELEASE_SQL, {"task": task_id, "reviewer": reviewer.id, "version": lease_version}
            )
        ).first()
        if released is not None:
            await conn.execute(DELETE_DRAFT_SQL, {"task": task_id})
    if released is None:
        async with runtime.engine.connect() as conn:
            raise await lost_claim(conn, reviewer, task_id)
    await reopened(runtime, [task_id], "task.released")


async def expire(runtime: Runtime) -> int:
    """Every claim past its deadline goes back to open; its reviewer is told. Idempotent."""
    async with runtime.engine.begin() as conn:
        rows = (await conn.execute(EXPIRE_SQL)).all()
    for row in rows:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            row.reviewer_id,
            "claim.expired",
            {"task_id": str(row.id)},
        )
    await reopened(runtime, [row.id for row in rows], "task.expired")
    return len(rows)


async def reopened(runtime: Runtime, task_ids: list[uuid.UUID], kind: str) -> None:
    """After commit: tasks that left a reviewer are back in Redis as PostgreSQL has them
    (open and announced again, or out of the queue when cancelled)."""
    from app.queue.board import drop

    for task_id in task_ids:
        async with runtime.sessions() as session:
            task = await session.get(ReviewTask, task_id)
            if task is None:
                continue
            submission = await session.get(Submission, task.submission_id)
            assert submission is not None
            credential = await session.get(Credential, submission.credential_id)
            assert credential is not None
        if task.state != TaskState.open:
            await drop(runtime, PoolKey(credential.id, task.pool), task_id)
            continue
        await announce_open(runtime, task, submission, credential, kind)
