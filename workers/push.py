"""Web Push: the scans that queue pushes, and the job that delivers one (with retries)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from arq import Retry

from app.push import delivery, outbox, work


async def scan_push(ctx: dict[str, Any]) -> int:
    """Notifications, ending claims and held pushes → queued pushes; returns how many."""
    made = await outbox.scan(ctx["runtime"])
    return len(made.queued)


async def announce_new_work(ctx: dict[str, Any]) -> int:
    """New open work per pool (batched); returns how many pools were announced."""
    runtime = ctx["runtime"]
    made = outbox.Made()
    pools = await work.new_work(runtime, datetime.now(UTC), made)
    await outbox.enqueue(runtime, made.queued)
    return pools


async def push_overdue(ctx: dict[str, Any]) -> int:
    """Coordinators hear of work past its time target, once a day."""
    runtime = ctx["runtime"]
    made = outbox.Made()
    await work.overdue_work(runtime, datetime.now(UTC), made)
    await outbox.enqueue(runtime, made.queued)
    return len(made.queued)


async def deliver_push(ctx: dict[str, Any], message_id: str) -> None:
    """Send one push; a 429/5xx answer comes back after Retry-After or the back-off."""
    delay = await delivery.deliver(ctx["runtime"], uuid.UUID(message_id))
    if delay is not None:
        raise Retry(defer=delay)
