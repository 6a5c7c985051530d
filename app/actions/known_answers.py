"""Known-answer checks: now and then claim-next serves a calibration example as a normal
task (same credential, pool and look); its review is graded against the expert's reference
for the reviewer's trust, and never reaches an earner or an outcome.

A released or expired check is cancelled, never reopened (app/queue/sql/release.sql), so no other
reviewer is ever offered a sample as work.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.actions import trust
from app.actions.calibration import grade, next_example
from app.actions.policy import policy_for
from app.models import (
    AttemptKind,
    CalibrationAttempt,
    CalibrationExample,
    Review,
    ReviewScore,
    User,
)
from app.queue import Claim
from app.queue.claims import refused_by_cap
from app.runtime import Runtime

KNOWN_ANSWER_SQL = text(
    """
    INSERT INTO review_tasks (id, submission_id, version_id, pool, state, reason, reviewer_id,
                              lease_version, lease_expires_at, extended, claimed_at, created_at)
    VALUES (:id, :submission, :version, :pool, 'claimed', 'initial', :reviewer, 1,
            now() + make_interval(secs => :seconds), false, now(), :created)
    RETURNING lease_version, lease_expires_at
    """
)


LIVE_CLAIMS_SQL = text(
    "SELECT count(*) FROM review_tasks WHERE reviewer_id = :reviewer AND state = 'claimed'"
)


def should_serve_known_answer(percent: int) -> bool:
    """A fair coin weighted by the credential's rate, unpredictable to the reviewer."""
    return percent > 0 and secrets.randbelow(100) < percent


async def serve_known_answer(
    runtime: Runtime,
    reviewer: User,
    credential_id: uuid.UUID,
    pool: str,
    lease_seconds: int,
    waiting_since: datetime,
) -> Claim | None:
    """Claim a known-answer task on an example this reviewer has never seen, or None. It
    carries the waiting time of the real task it stands in for, so it reads like one."""
    async with runtime.sessions() as session:
        held = (await session.execute(LIVE_CLAIMS_SQL, {"reviewer": reviewer.id})).scalar_one()
        if held >= runtime.settings.max_live_claims:
            return None
        example = await next_example(session, reviewer, credential_id)
        seen = (
            example is not None
            and (
                await session.execute(
                    text(
                        "SELECT 1 FROM review_tasks WHERE submission_id = :s AND reviewer_id = :r"
                    ),
                    {"s": example.submission_id, "r": reviewer.id},
                )
            ).first()
        )
    if example is None or seen:
        return None
    task_id = uuid.uuid4()
    try:
        async with runtime.engine.begin() as conn:
            row = (
                await conn.execute(
                    KNOWN_ANSWER_SQL,
                    {
                        "id": task_id,
                        "submission": example.submission_id,
                        "version": example.version_id,
                        "pool": pool,
                        "reviewer": reviewer.id,
                        "seconds": lease_seconds,
                        "created": waiting_since,
                    },
                )
            ).one()
    except IntegrityError:
        return None
    except DBAPIError as exc:
        if refused_by_cap(exc):  # another claim of theirs got in first: serve real work
            return None
        raise
    return Claim(task_id, row.lease_version, row.lease_expires_at, False)


async def waiting_since(runtime: Runtime, task_id: uuid.UUID) -> datetime:
    """When the real task a check stands in for was opened."""
    async with runtime.engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT created_at FROM review_tasks WHERE id = :task"), {"task": task_id}
            )
        ).scalar_one()


async def example_of_submission(
    session: AsyncSession, submission_id: uuid.UUID
) -> CalibrationExample | None:
    return (
        await session.exec(
            select(CalibrationExample).where(CalibrationExample.submission_id == submission_id)
        )
    ).first()


async def record_known_answer(
    runtime: Runtime, example: CalibrationExample, reviewer_id: uuid.UUID, task_id: uuid.UUID
) -> CalibrationAttempt:
    """After a known-answer task's review was submitted: grade it and update trust."""
    async with runtime.sessions() as session:
        policy = await policy_for(session, example.credential_id)
        scores = (
            await session.exec(
                select(ReviewScore.criterion_id, ReviewScore.level_id)
                .join(Review, col(Review.id) == col(ReviewScore.review_id))
                .where(Review.task_id == task_id)
            )
        ).all()
        graded, credit, passed = await grade(session, example, policy, dict(scores))
        attempt = CalibrationAttempt(
            example_id=example.id,
            credential_id=example.credential_id,
            reviewer_id=reviewer_id,
            kind=AttemptKind.known_answer,
            task_id=task_id,
            levels=graded,
            credit=credit,
            passed=passed,
        )
        session.add(attempt)
        await session.flush()
        await trust.recompute(session, reviewer_id, example.credential_id, policy)
        await session.commit()
        await session.refresh(attempt)
    return attempt
