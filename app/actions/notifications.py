"""Notifications a person has seen: marking them read (creating them is app.events.notify)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Notification, User


async def mark_read(session: AsyncSession, user: User, up_to: int | None = None) -> int:
    """Mark this person's unread notifications read (only ids <= `up_to` when given) and
    commit; returns how many changed. Other people's notifications are never touched."""
    statement = (
        update(Notification)
        .where(col(Notification.user_id) == user.id)
        .where(col(Notification.read_at).is_(None))
        .values(read_at=datetime.now(UTC))
    )
    if up_to is not None:
        # Only what the page showed: one that arrived after it rendered stays unread.
        statement = statement.where(col(Notification.id) <= up_to)
    result = await session.exec(statement)
    await session.commit()
    return int(result.rowcount)
