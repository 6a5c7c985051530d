"""Review tasks: open them, claim one (or the next best), extend, release, expire.

A claim is decided by PostgreSQL with a conditional UPDATE that bumps the task's
lease_version (the fencing token); every later write names that version. Redis (app.queue)
answers the losing taps first, and the pool feed and the earner hear about it after commit.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col, func, select

from app import access, events, queue
from app.errors import ActionError, not_found
from app.models import Credential, QualityPolicy, ReviewTask, Submission, TaskState, User
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


# A task's credential and pool never change: remember them, so a losing tap costs one Redis
# call and no PostgreSQL query. Bounded; evicted oldest first.
_POOL_OF: OrderedDict[uuid.UUID, queue.PoolKey] = OrderedDict()
_POOL_CACHE_SIZE = 100_000


async def _pool_key(runtime: Runtime, task_id: uuid.UUID) -> queue.PoolKey | None:
    key = _POOL_OF.get(task_id)
    if key is not None:
        return key
    async with runtime.engine.connect() as conn:
        row = (await conn.execute(POOL_SQL, {"task": task_id})).first()
    if row is None:
        return None
    key = queue.PoolKey(row.credential_id, row.pool)
    _POOL_OF[task_id] = key
    if len(_POOL_OF) > _POOL_CACHE_SIZE:
        _POOL_OF.popitem(last=False)
    return key


POOL_SQL = text(
    "SELECT s.credential_id, t.pool FROM review_tasks t "
    "JOIN submissions s ON s.id = t.submission_id WHERE t.id = :task"
)
TAKEN = "Someone else just took this one."


async def claim_task(runtime: Runtime, reviewer: User, task_id: uuid.UUID) -> Claim:
    """Claim one given task; exactly one of any number of racing reviewers wins.

    Redis answers the losing taps (and recognises the winner's own double tap); whoever gets
    through is checked for eligibility and limits in PostgreSQL, which then decides with the
    fenced conditional UPDATE. Whenever a tap that got through Redis is refused, the task goes
    back into the open set, so Redis keeps matching PostgreSQL.
    """
    key = await _pool_key(runtime, task_id)
    if key is None:
        raise not_found("That task")
    default_seconds = 60 * runtime.settings.lease_minutes
    gate, holder = await queue.try_claim(
        runtime.redis, runtime.settings, key, task_id, default_seconds, reviewer.id
    )
    if gate == queue.TAKEN and holder and holder != str(reviewer.id):
        raise ActionError("already_taken", TAKEN, 409)
    # TAKEN without a holder means Redis and PostgreSQL disagree (a missed update, a rebuild in
    # progress): PostgreSQL decides, as when Redis knows nothing.
    try:
        return await _claim_in_postgres(runtime, reviewer, task_id, key)
    except ActionError:
        if gate != queue.UNKNOWN:
            await _reopen_if_open(runtime, task_id, key)
        raise


async def _claim_in_postgres(
    runtime: Runtime, reviewer: User, task_id: uuid.UUID, key: queue.PoolKey
) -> Claim:
    async with runtime.sessions() as session:
        facts = (
            await session.execute(
                access.eligible_tasks(reviewer, open_only=False)
                .where(col(ReviewTask.id) == task_id)
                .with_only_columns(
                    col(ReviewTask.state),
                    col(ReviewTask.reviewer_id),
                    col(ReviewTask.lease_version),
                    col(ReviewTask.lease_expires_at),
                    col(ReviewTask.extended),
                    col(Submission.id).label("submission_id"),
                    col(Submission.earner_id),
                    col(Credential.title),
                    col(Credential.lease_minutes),
                    _live_claims_of(reviewer).label("live_claims"),
                )
            )
        ).first()
        mine = None
        if facts is None:
            # Not eligible, or it is mine already (the rules exclude reviewers on a submission).
            mine = await session.get(ReviewTask, task_id)
    if mine is not None and mine.state == TaskState.claimed and mine.reviewer_id == reviewer.id:
        assert mine.lease_expires_at is not None
        # A double tap: the first one won; answer with the same claim.
        return Claim(mine.id, mine.lease_version, mine.lease_expires_at, mine.extended)
    if facts is None:
        raise not_found("That task")
    if facts.state != TaskState.open:
        raise ActionError("already_taken", TAKEN, 409)
    if facts.live_claims >= runtime.settings.max_live_claims:
        raise ActionError(
            "too_many_claims", "Finish or release the review you hold before claiming another.", 409
        )
    seconds = 60 * (facts.lease_minutes or runtime.settings.lease_minutes)
    try:
        async with runtime.engine.begin() as conn:
            won = (
                await conn.execute(
                    CLAIM_SQL, {"reviewer": reviewer.id, "seconds": seconds, "task": task_id}
                )
            ).first()
    except IntegrityError:
        # The database's own guard: never the same reviewer twice on one submission.
        won = None
    if won is None:
        raise ActionError("already_taken", TAKEN, 409)
    await events.publish_feed(
        runtime.redis,
        runtime.settings,
        "task.claimed",
        task_id=task_id,
        credential_id=key.credential_id,
        pool=key.pool,
    )
    await events.notify(
        runtime.engine,
        runtime.redis,
        runtime.settings,
        facts.earner_id,
        "submission.claimed",
        {"submission_id": str(facts.submission_id), "credential": facts.title},
    )
    return Claim(task_id, won.lease_version, won.lease_expires_at, won.extended)


def _live_claims_of(reviewer: User) -> Any:
    held = aliased(ReviewTask)
    return (
        select(func.count())
        .select_from(held)
        .where(col(held.reviewer_id) == reviewer.id)
        .where(col(held.state) == TaskState.claimed)
        .scalar_subquery()
    )


async def _reopen_if_open(runtime: Runtime, task_id: uuid.UUID, key: queue.PoolKey) -> None:
    """This tap took the task out of Redis's open set but did not claim it: make Redis match
    PostgreSQL again (back in the open set if still open, otherwise gone from it)."""
    async with runtime.sessions() as session:
        current = await session.get(ReviewTask, task_id)
    if current is None or current.state != TaskState.open:
        await queue.drop(runtime.redis, runtime.settings, key, task_id)
    else:
        await queue.put_open(
            runtime.redis,
            runtime.settings,
            key,
            task_id,
            queue.score(current.created_at, current.reason),
        )


async def claim_next(runtime: Runtime, reviewer: User, *, attempts: int = 5) -> Claim:
    """The best open task for this reviewer: oldest first, escalations ahead, the work of
    credentials where they are most trusted ahead of equally old work (access.by_trust_priority).

    Now and then (the credential's known-answer rate) the answer is instead a known-answer
    check: a calibration example served as a task of the same credential and pool.
    """
    # Imported here: known_answers builds on this module's Claim.
    from app.actions import known_answers

    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                access.by_trust_priority(access.eligible_tasks(reviewer))
                .add_columns(func.coalesce(col(QualityPolicy.known_answer_percent), 0))
                .limit(attempts)
            )
        ).all()
    if rows:
        task, _submission, credential, percent = rows[0]
        if known_answers.should_serve_known_answer(percent):
            check = await known_answers.serve_known_answer(
                runtime,
                reviewer,
                credential.id,
                task.pool,
                lease_seconds(runtime, credential),
                task.created_at,
            )
            if check is not None:
                return check
    for task, _submission, _credential, _percent in rows:
        try:
            return await claim_task(runtime, reviewer, task.id)
        except ActionError as error:
            if error.code != "already_taken":
                raise
    async with runtime.sessions() as session:
        # Only on this empty-handed path: say so when the quality gate is what holds them back.
        held_back = await access.reviewer_pools(
            session, reviewer, gated=False
        ) - await access.reviewer_pools(session, reviewer)
    if held_back:
        raise ActionError(
            "no_work",
            "There is no open work for you right now. Some credentials ask you to calibrate"
            " first: see Calibration.",
            404,
        )
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


# A known-answer task (on a calibration example's hidden submission) never goes back to the
# queue for others: released or expired, it is cancelled and keeps its reviewer, so the same
# example is not served to them again.
RELEASE_SQL = text(
    """
    UPDATE review_tasks
       SET state = CASE WHEN EXISTS (SELECT 1 FROM calibration_examples e
                                     WHERE e.submission_id = review_tasks.submission_id)
                        THEN 'cancelled' ELSE 'open' END,
           reviewer_id = CASE WHEN EXISTS (SELECT 1 FROM calibration_examples e
                                           WHERE e.submission_id = review_tasks.submission_id)
                              THEN reviewer_id END,
           lease_expires_at = NULL, claimed_at = NULL,
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
       SET state = CASE WHEN EXISTS (SELECT 1 FROM calibration_examples e
                                     WHERE e.submission_id = review_tasks.submission_id)
                        THEN 'cancelled' ELSE 'open' END,
           reviewer_id = CASE WHEN EXISTS (SELECT 1 FROM calibration_examples e
                                           WHERE e.submission_id = review_tasks.submission_id)
                              THEN reviewer_id END,
           lease_expires_at = NULL, claimed_at = NULL,
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
