"""Announcements about review work as a whole, each its own worker cron: open work that is
new in a pool (at most once per pool per `push_batch_minutes`, counted per reviewer in the
packets they may take, never naming an earner) and, for coordinators, work past its time
target (once a day per organisation)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, literal_column
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from app import access
from app.models import (
    Credential,
    Membership,
    Organisation,
    PushPoolBatch,
    ReviewTask,
    Role,
    Submission,
    TaskState,
    User,
)
from app.push import kinds
from app.push.outbox import SUBSCRIBED, Made, address, topic_for
from app.queue_health import DEFAULT_TARGET_HOURS
from app.runtime import Runtime


async def new_work(runtime: Runtime, now: datetime, made: Made) -> int:
    """Announce open work that is new in each pool whose last announcement is at least
    `push_batch_minutes` old, to each subscribed reviewer who may claim it, counted per
    reviewer. Returns how many pools were announced."""
    every = timedelta(minutes=runtime.settings.push_batch_minutes)
    async with runtime.sessions() as session:
        batch = PushPoolBatch
        pool_key = (col(batch.credential_id) == col(Submission.credential_id)) & (
            col(batch.pool) == col(ReviewTask.pool)
        )
        fresh = (
            await session.execute(
                select(
                    ReviewTask.id, ReviewTask.created_at, Submission.credential_id, ReviewTask.pool
                )
                .join(Submission, col(Submission.id) == col(ReviewTask.submission_id))
                .outerjoin(batch, pool_key)
                .where(ReviewTask.state == TaskState.open)
                .where(
                    col(ReviewTask.created_at) > func.coalesce(col(batch.seen_until), now - every)
                )
                .where(col(batch.pushed_at).is_(None) | (col(batch.pushed_at) <= now - every))
            )
        ).all()
        if not fresh:
            return 0
        pools: dict[tuple[uuid.UUID, str], datetime] = {}
        for _, created_at, credential_id, pool in fresh:
            pools[(credential_id, pool)] = max(
                created_at, pools.get((credential_id, pool), created_at)
            )
        ids = [task_id for task_id, _, _, _ in fresh]
        reviewers = (
            await session.exec(
                select(User)
                .where(col(User.id).in_(SUBSCRIBED))
                .where(
                    col(User.id).in_(
                        select(Membership.user_id)
                        .where(col(Membership.role).in_([Role.reviewer, Role.expert]))
                        .where(col(Membership.suspended_at).is_(None))
                    )
                )
            )
        ).all()
        stamp = now.strftime("%Y%m%dT%H%M%S")
        for reviewer in reviewers:
            eligible = (
                await session.execute(
                    access.eligible_tasks(reviewer).where(col(ReviewTask.id).in_(ids))
                )
            ).all()
            # Counted in packets: a reviewer takes at most one task of each.
            grouped: dict[tuple[uuid.UUID, str], tuple[str, list[str], set[uuid.UUID]]] = {}
            for task, submission, credential in eligible:
                title, listed, packets = grouped.setdefault(
                    (credential.id, task.pool), (credential.title, [], set())
                )
                listed.append(str(task.id))
                packets.add(submission.id)
            for (credential_id, pool), (title, listed, packets) in sorted(grouped.items()):
                draft = kinds.new_work(len(packets), pool, title, listed)
                await address(
                    session,
                    reviewer.id,
                    draft,
                    f"work:{credential_id}:{pool}:{stamp}",
                    now,
                    made,
                    topic=topic_for(credential_id, pool),
                )
        for (credential_id, pool), seen_until in pools.items():
            await session.exec(
                insert(PushPoolBatch)
                .values(
                    credential_id=credential_id, pool=pool, pushed_at=now, seen_until=seen_until
                )
                .on_conflict_do_update(
                    index_elements=["credential_id", "pool"],
                    set_={"pushed_at": now, "seen_until": seen_until},
                )
            )
        await session.commit()
    return len(pools)


async def overdue_work(runtime: Runtime, now: datetime, made: Made) -> None:
    """Coordinators of organisations with open work past its time target: once a day."""
    late = (
        col(ReviewTask.created_at)
        + func.coalesce(col(Credential.target_hours), DEFAULT_TARGET_HOURS)
        * literal_column("interval '1 hour'")
        < now
    )
    async with runtime.sessions() as session:
        counts = (
            await session.execute(
                select(Organisation.id, Organisation.name, func.count(distinct(col(Submission.id))))
                .join(Credential, col(Credential.organisation_id) == col(Organisation.id))
                .join(Submission, col(Submission.credential_id) == col(Credential.id))
                .join(ReviewTask, col(ReviewTask.submission_id) == col(Submission.id))
                .where(ReviewTask.state == TaskState.open)
                .where(late)
                .group_by(col(Organisation.id), col(Organisation.name))
            )
        ).all()
        day = now.date().isoformat()
        for organisation_id, name, count in counts:
            coordinators = (
                await session.exec(
                    select(Membership.user_id)
                    .where(Membership.organisation_id == organisation_id)
                    .where(Membership.role == Role.coordinator)
                    .where(col(Membership.suspended_at).is_(None))
                    .where(col(Membership.user_id).in_(SUBSCRIBED))
                )
            ).all()
            for user_id in coordinators:
                draft = kinds.overdue(int(count), name)
                await address(
                    session, user_id, draft, f"overdue:{organisation_id}:{day}", now, made
                )
        await session.commit()
