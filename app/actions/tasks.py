"""Review tasks: open them, claim one (or the next best), extend, release, expire.

A claim is decided by PostgreSQL with a conditional UPDATE that bumps the task's
lease_version (the fencing token); every later write names that version. Redis (app.queue)
answers the losing taps first, and the pool feed and the earner hear about it after commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from app import access, events, queue
from app.errors import ActionError, not_found
from app.models import Credential, ReviewTask, Submission, TaskState, User
from app.runtime import Runtime

GONE = "This review is no longer yours: the claim was released or its time ran out."


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


def lease_seconds(runtime: Runtime, credential: Credential) -> int:
    return 60 * (credential.lease_minutes or runtime.settings.lease_minutes)


async def feed_audience(
    runtime: Runtime, submission: Submission, credential: Credential
) -> dict[str, Any]:
    """Who must not see this submission's tasks in their feed (for the fan-out only)."""
    async with runtime.sessions() as session:
        earner = await session.get(User, submission.earner_id)
        reviewers = (
            await session.exec(
                select(ReviewTask.reviewer_id)
                .where(ReviewTask.submission_id == submission.id)
                .where(col(ReviewTask.reviewer_id).is_not(None))
            )
        ).all()
    return {
        "earner_id": str(submission.earner_id),
        "excluded_reviewer_ids": [str(r) for r in reviewers],
        "exclude_same_school": credential.exclude_same_school,
        "earner_school": (earner.school or "").lower() or None if earner else None,
    }


async def announce_open(
    runtime: Runtime, task: ReviewTask, submission: Submission, credential: Credential, kind: str
) -> None:
    """After commit: the task is in the open set and every eligible feed hears `kind`."""
    key = queue.PoolKey(credential.id, task.pool)
    await queue.put_open(
        runtime.redis, runtime.settings, key, task.id, queue.score(task.created_at, task.reason)
    )
    await events.publish_feed(
        runtime.redis,
        runtime.settings,
        kind,
        task_id=task.id,
        credential_id=credential.id,
        pool=task.pool,
        audience=await feed_audience(runtime, submission, credential),
        data=task_card(task, credential),
    )


def task_card(task: ReviewTask, credential: Credential) -> dict[str, Any]:
    """What a reviewer's feed shows of open work: never the earner."""
    return {
        "task_id": str(task.id),
        "credential_id": str(credential.id),
        "credential": credential.title,
        "pool": task.pool,
        "reason": task.reason,
        "waiting_since": task.created_at.isoformat(),
    }


CLAIM_SQL = text(
    """
    UPDATE review_tasks
       SET state = 'claimed', reviewer_id = :reviewer, lease_version = lease_version + 1,
           claimed_at = now(), lease_expires_at = now() + make_interval(secs => :seconds),
           extended = false
     WHERE id = :task AND state = 'open'
 RETURNING lease_version, lease_expires_at, extended
    """
)


async def _live_claims(runtime: Runtime, reviewer: User) -> int:
    async with runtime.sessions() as session:
        return (
            await session.exec(
                select(func.count())
                .select_from(ReviewTask)
                .where(ReviewTask.reviewer_id == reviewer.id)
                .where(ReviewTask.state == TaskState.claimed)
            )
        ).one()


async def claim_task(runtime: Runtime, reviewer: User, task_id: uuid.UUID) -> Claim:
    """Claim one given task; exactly one of any number of racing reviewers wins."""
    async with runtime.sessions() as session:
        mine = await session.get(ReviewTask, task_id)
        if (
            mine is not None
            and mine.state == TaskState.claimed
            and mine.reviewer_id == reviewer.id
            and mine.lease_expires_at is not None
        ):
            # A double tap: the first one won; answer with the same claim.
            return Claim(mine.id, mine.lease_version, mine.lease_expires_at, mine.extended)
        row = (
            await session.execute(
                access.eligible_tasks(reviewer, open_only=False).where(
                    col(ReviewTask.id) == task_id
                )
            )
        ).first()
        if row is None:
            raise not_found("That task")
        if row[0].state != TaskState.open:
            raise ActionError("already_taken", "Someone else just took this one.", 409)
        task, submission, credential = row
    if await _live_claims(runtime, reviewer) >= runtime.settings.max_live_claims:
        raise ActionError(
            "too_many_claims",
            "Finish or release the review you hold before claiming another.",
            409,
        )
    seconds = lease_seconds(runtime, credential)
    key = queue.PoolKey(credential.id, task.pool)
    gate = await queue.try_claim(runtime.redis, runtime.settings, key, task.id, seconds)
    if gate == queue.TAKEN:
        raise ActionError("already_taken", "Someone else just took this one.", 409)
    try:
        async with runtime.engine.begin() as conn:
            won = (
                await conn.execute(
                    CLAIM_SQL, {"reviewer": reviewer.id, "seconds": seconds, "task": task.id}
                )
            ).first()
    except IntegrityError:
        # The database's own guard: never the same reviewer twice on one submission.
        won = None
    if won is None:
        if gate == queue.CLAIMED:
            # Redis let us through but PostgreSQL says no: make Redis match again.
            async with runtime.sessions() as session:
                current = await session.get(ReviewTask, task.id)
            if current is not None and current.state == TaskState.open:
                await queue.put_open(
                    runtime.redis,
                    runtime.settings,
                    key,
                    task.id,
                    queue.score(task.created_at, task.reason),
                )
        raise ActionError("already_taken", "Someone else just took this one.", 409)
    claim = Claim(task.id, won.lease_version, won.lease_expires_at, won.extended)
    await events.publish_feed(
        runtime.redis,
        runtime.settings,
        "task.claimed",
        task_id=task.id,
        credential_id=credential.id,
        pool=task.pool,
    )
    await events.notify(
        runtime.engine,
        runtime.redis,
        runtime.settings,
        submission.earner_id,
        "submission.claimed",
        {"submission_id": str(submission.id), "credential": credential.title},
    )
    return claim


async def claim_next(runtime: Runtime, reviewer: User, *, attempts: int = 5) -> Claim:
    """The best open task for this reviewer: oldest first, escalations ahead."""
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                access.by_priority(access.eligible_tasks(reviewer)).limit(attempts)
            )
        ).all()
    for task, _submission, _credential in rows:
        try:
            return await claim_task(runtime, reviewer, task.id)
        except ActionError as error:
            if error.code != "already_taken":
                raise
    raise ActionError("no_work", "There is no open work for you right now.", 404)


EXTEND_SQL = text(
    """
    UPDATE review_tasks
       SET lease_expires_at = lease_expires_at + make_interval(secs => :seconds), extended = true
     WHERE id = :task AND reviewer_id = :reviewer AND lease_version = :version
       AND state = 'claimed' AND lease_expires_at > now() AND NOT extended
 RETURNING lease_version, lease_expires_at, extended
    """
)


async def extend_claim(
    runtime: Runtime, reviewer: User, task_id: uuid.UUID, lease_version: int
) -> Claim:
    """Add one more lease period, once per claim, while the lease is live."""
    async with runtime.sessions() as session:
        task = await session.get(ReviewTask, task_id)
        if task is None or task.reviewer_id != reviewer.id:
            raise not_found("That task")
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
    return Claim(task_id, row.lease_version, row.lease_expires_at, row.extended)


RELEASE_SQL = text(
    """
    UPDATE review_tasks
       SET state = 'open', reviewer_id = NULL, lease_expires_at = NULL, claimed_at = NULL,
           extended = false, lease_version = lease_version + 1
     WHERE id = :task AND reviewer_id = :reviewer AND lease_version = :version
       AND state = 'claimed'
 RETURNING id
    """
)
DELETE_DRAFT_SQL = text("DELETE FROM reviews WHERE task_id = :task AND state = 'draft'")


async def release_claim(
    runtime: Runtime, reviewer: User, task_id: uuid.UUID, lease_version: int
) -> None:
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
        raise ActionError("claim_gone", GONE, 409)
    await reopened(runtime, [task_id], "task.released")


async def reopened(runtime: Runtime, task_ids: list[uuid.UUID], kind: str) -> None:
    """After commit: tasks that went back to open are queued and announced again."""
    for task_id in task_ids:
        async with runtime.sessions() as session:
            task = await session.get(ReviewTask, task_id)
            if task is None or task.state != TaskState.open:
                continue
            submission = await session.get(Submission, task.submission_id)
            assert submission is not None
            credential = await session.get(Credential, submission.credential_id)
            assert credential is not None
        await announce_open(runtime, task, submission, credential, kind)


LOCK_EXPIRED_SQL = text(
    """
    SELECT id, reviewer_id FROM review_tasks
     WHERE state = 'claimed' AND lease_expires_at < now()
     FOR UPDATE SKIP LOCKED
    """
)
REOPEN_SQL = text(
    """
    UPDATE review_tasks
       SET state = 'open', reviewer_id = NULL, lease_expires_at = NULL, claimed_at = NULL,
           extended = false, lease_version = lease_version + 1
     WHERE id = ANY(:ids)
    """
)


async def expire_leases(runtime: Runtime) -> int:
    """Every claim past its deadline goes back to open; its reviewer is told. Idempotent."""
    async with runtime.engine.begin() as conn:
        rows = (await conn.execute(LOCK_EXPIRED_SQL)).all()
        ids = [row.id for row in rows]
        if ids:
            await conn.execute(
                text("DELETE FROM reviews WHERE task_id = ANY(:ids) AND state = 'draft'"),
                {"ids": ids},
            )
            await conn.execute(REOPEN_SQL, {"ids": ids})
    for row in rows:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            row.reviewer_id,
            "claim.expired",
            {"task_id": str(row.id)},
        )
    await reopened(runtime, ids, "task.expired")
    return len(ids)
