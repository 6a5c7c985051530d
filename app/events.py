"""Live events: persisted per-user notifications and the reviewers' pool feed, over Redis pub/sub.

Only actions call these, and only after their transaction committed, so no event ever points
at a rolled-back row. Two channels per MCX (under the Redis prefix): `feed` for the open-work
feed of the pools, `user` for one person's events (each also a Notification row, whose id the
client uses to catch up after being offline).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Notification
from app.settings import Settings

log = logging.getLogger(__name__)


_feed_version = 0


def feed_changed() -> None:
    """The open work changed (published here, or heard from another process)."""
    global _feed_version  # noqa: PLW0603 - one counter per process, by design
    _feed_version += 1


def feed_version() -> int:
    """Bumped by every change of the open work this process made or heard of: what was drawn
    from the feed at an older version is stale."""
    return _feed_version


def feed_channel(settings: Settings) -> str:
    return settings.redis_prefix + "ev:feed"


def user_channel(settings: Settings) -> str:
    return settings.redis_prefix + "ev:user"


async def _publish(redis: Redis, channel: str, message: dict[str, Any]) -> None:
    # PostgreSQL already holds the truth; a lost live event is caught up from there.
    try:
        await redis.publish(channel, json.dumps(message, default=str))
    except RedisError as exc:
        log.warning("could not publish %s on %s: %s", message.get("type"), channel, exc)


async def publish_feed(
    redis: Redis,
    settings: Settings,
    kind: str,
    *,
    task_id: uuid.UUID,
    credential_id: uuid.UUID,
    pool: str,
    audience: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """A change in the open-work feed of (credential, pool).

    `audience` is for the fan-out only (never sent to phones): the earner and reviewers who
    must not see the task, and the earner's school when the credential excludes it.
    """
    feed_changed()
    message = {
        "type": kind,
        "task_id": str(task_id),
        "credential_id": str(credential_id),
        "pool": pool,
        "data": data or {},
        "audience": audience or {},
    }
    await _publish(redis, feed_channel(settings), message)


async def notify(
    engine: AsyncEngine,
    redis: Redis,
    settings: Settings,
    user_id: uuid.UUID,
    kind: str,
    payload: dict[str, Any],
) -> Notification:
    """Persist a notification for one person, then push it to their open sockets."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        notification = Notification(user_id=user_id, kind=kind, payload=payload)
        session.add(notification)
        await session.commit()
    await _publish(
        redis,
        user_channel(settings),
        {
            "type": "notification",
            "user_id": str(user_id),
            "notification": notification_json(notification),
        },
    )
    return notification


def notification_json(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "payload": notification.payload,
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }
