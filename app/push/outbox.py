"""Turning what happened into queued pushes, in the worker, from PostgreSQL alone.

Each source is a scan that may run any number of times (a push is one row per device and
reason, unique, so a rescan never sends twice): here stored notifications (read by id from a
cursor) and claims about to run out; in `app.push.work`, open work that is new in a pool
(announced at most once per pool per `push_batch_minutes`) and overdue work. Each person's
choices and quiet hours decide: off means no push; in quiet hours personal news is held until
they end (if still fresh) and perishable news (new work, an ending claim) is skipped. Queued
pushes go to the worker's `deliver_push`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.actions.nudges import preference_of, quiet
from app.models import (
    Credential,
    Notification,
    PushCursor,
    PushMessage,
    PushState,
    PushSubscription,
    ReviewTask,
    Submission,
    TaskState,
)
from app.push import kinds
from app.push.subscriptions import choices_of
from app.runtime import Runtime

log = logging.getLogger(__name__)

# A notification younger than this may still have a lower id committing behind it, so the
# cursor stops before it; the unique key makes reading it again harmless.
SETTLE = timedelta(seconds=60)
SCAN_LIMIT = 500
# Kinds that are worthless later: skipped, not held, in quiet hours.
PERISHABLE = {"work.new", "claim.expiring"}
# A queued push with no job after this long (Redis was away) is handed to the worker again.
REQUEUE_AFTER = timedelta(minutes=2)


@dataclass
class Made:
    queued: list[uuid.UUID] = field(default_factory=list)
    held: int = 0
    skipped_quiet: int = 0


def topic_for(*parts: object) -> str:
    """An RFC 8030 Topic (at most 32 base64url characters): a newer push with the same topic
    replaces one the phone has not fetched yet."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]


async def address(
    session: AsyncSession,
    user_id: uuid.UUID,
    draft: kinds.Draft,
    key: str,
    now: datetime,
    made: Made,
    *,
    ttl: int | None = None,
    topic: str | None = None,
    since: datetime | None = None,
) -> None:
    """One push per device of this person for `draft`, unless they turned its kind off;
    held or skipped in their quiet hours. `since`: when it happened (default `now`), from
    which its time to live counts. Flushes; the caller commits."""
    spec = kinds.KINDS[draft.kind]
    since = since or now
    if since + timedelta(seconds=ttl if ttl is not None else spec.ttl) <= now:
        return  # stale already (the worker was away): never sent, never recorded
    if not (await choices_of(session, user_id))[spec.category]:
        return
    silent = quiet(await preference_of(session, user_id), now)
    if silent and draft.kind in PERISHABLE:
        made.skipped_quiet += 1
        return
    devices = (
        await session.exec(select(PushSubscription.id).where(PushSubscription.user_id == user_id))
    ).all()
    for subscription_id in devices:
        row = await session.exec(
            insert(PushMessage)  # type: ignore[call-overload]
            .values(
                id=uuid.uuid4(),
                user_id=user_id,
                subscription_id=subscription_id,
                kind=draft.kind,
                key=key,
                title=draft.title,
                body=draft.body,
                data={**draft.data, "target": draft.target},
                ttl=ttl if ttl is not None else spec.ttl,
                urgency=spec.urgency,
                topic=topic,
                state=PushState.held if silent else PushState.queued,
                attempts=0,
                error="",
                created_at=since,
            )
            .on_conflict_do_nothing(constraint="uq_push_message_once")
            .returning(PushMessage.id)
        )
        message_id = row.scalar()
        if message_id is None:
            continue
        if silent:
            made.held += 1
        else:
            made.queued.append(message_id)


# Whoever has at least one device: nobody else is worth a push.
SUBSCRIBED = select(PushSubscription.user_id)


async def from_notifications(runtime: Runtime, now: datetime, made: Made) -> None:
    """Stored notifications of pushable kinds, for people with a device, since the cursor."""
    async with runtime.sessions() as session:
        cursor = await session.get(PushCursor, "notifications")
        if cursor is None:
            # The first scan of a deployment starts now: history is never pushed.
            latest = (await session.exec(select(func.max(Notification.id)))).one()
            session.add(PushCursor(name="notifications", position=latest or 0))
            await session.commit()
            return
        rows = (
            await session.exec(
                select(Notification)
                .where(col(Notification.id) > cursor.position)
                .where(col(Notification.kind).in_(kinds.FROM_NOTIFICATIONS))
                .where(col(Notification.user_id).in_(SUBSCRIBED))
                .order_by(col(Notification.id))
                .limit(SCAN_LIMIT)
            )
        ).all()
        for notification in rows:
            draft = kinds.from_notification(notification.kind, notification.payload)
            if draft is None:
                continue
            assert notification.id is not None
            await address(
                session,
                notification.user_id,
                draft,
                f"n:{notification.id}",
                now,
                made,
                since=notification.created_at,
            )
        settled = (
            await session.exec(
                select(func.max(Notification.id))
                .where(col(Notification.id) > cursor.position)
                .where(col(Notification.created_at) < now - SETTLE)
            )
        ).one()
        if settled is not None:
            if len(rows) == SCAN_LIMIT and rows[-1].id is not None:
                settled = min(settled, rows[-1].id)
            cursor.position = max(cursor.position, settled)
            session.add(cursor)
        await session.commit()


def _warning_window(runtime: Runtime) -> timedelta:
    # Five minutes' warning, or a third of a short lease.
    return min(timedelta(minutes=5), timedelta(minutes=runtime.settings.lease_minutes) / 3)


async def expiring_claims(runtime: Runtime, now: datetime, made: Made) -> None:
    """Reviewers with a device whose claim runs out within the warning window: once per lease."""
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(ReviewTask, Credential.title)
                .join(Submission, col(Submission.id) == col(ReviewTask.submission_id))
                .join(Credential, col(Credential.id) == col(Submission.credential_id))
                .where(ReviewTask.state == TaskState.claimed)
                .where(col(ReviewTask.lease_expires_at) > now)
                .where(col(ReviewTask.lease_expires_at) <= now + _warning_window(runtime))
                .where(col(ReviewTask.reviewer_id).in_(SUBSCRIBED))
            )
        ).all()
        for task, title in rows:
            assert task.reviewer_id is not None and task.lease_expires_at is not None
            left = (task.lease_expires_at - now).total_seconds()
            draft = kinds.claim_expiring(str(task.id), max(1, math.ceil(left / 60)), title)
            key = f"lease:{task.id}:{task.lease_version}"
            await address(session, task.reviewer_id, draft, key, now, made, ttl=int(left))
        await session.commit()


async def release_held(runtime: Runtime, now: datetime, made: Made) -> int:
    """Held pushes whose person's quiet hours are over: queued if still fresh, else expired."""
    expired = 0
    async with runtime.sessions() as session:
        held = (
            await session.exec(select(PushMessage).where(PushMessage.state == PushState.held))
        ).all()
        quiet_now: dict[uuid.UUID, bool] = {}
        for message in held:
            if message.user_id not in quiet_now:
                quiet_now[message.user_id] = quiet(
                    await preference_of(session, message.user_id), now
                )
            if message.created_at + timedelta(seconds=message.ttl) <= now:
                message.state = PushState.expired
                expired += 1
            elif not quiet_now[message.user_id]:
                message.state = PushState.queued
                made.queued.append(message.id)
            session.add(message)
        await session.commit()
    return expired


async def stranded(runtime: Runtime, now: datetime, made: Made) -> None:
    """Queued pushes never handed to the worker (Redis was away): hand them over again."""
    async with runtime.sessions() as session:
        rows = (
            await session.exec(
                select(PushMessage.id)
                .where(PushMessage.state == PushState.queued)
                .where(PushMessage.attempts == 0)
                .where(col(PushMessage.created_at) < now - REQUEUE_AFTER)
                .limit(SCAN_LIMIT)
            )
        ).all()
    already = set(made.queued)
    made.queued.extend(r for r in rows if r not in already)


async def enqueue(runtime: Runtime, message_ids: list[uuid.UUID]) -> int:
    """Hand queued pushes to the worker (one job per push, its id the job id)."""
    handed = 0
    for message_id in message_ids:
        try:
            await runtime.arq.enqueue_job(
                "deliver_push", str(message_id), _job_id=f"push:{message_id}"
            )
            handed += 1
        except (RedisError, OSError) as exc:
            log.warning("could not hand push %s to the worker: %s", message_id, exc)
    return handed


async def scan(runtime: Runtime, now: datetime | None = None) -> Made:
    """The frequent pass: notifications, ending claims, held pushes, stranded pushes."""
    now = now or datetime.now(UTC)
    made = Made()
    await from_notifications(runtime, now, made)
    await expiring_claims(runtime, now, made)
    await release_held(runtime, now, made)
    await stranded(runtime, now, made)
    await enqueue(runtime, made.queued)
    return made
