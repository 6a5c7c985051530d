"""Reminders: idle drafts and work waiting past the reviewers' time target."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.actions import nudges


async def send_nudges(ctx: dict[str, Any]) -> int:
    """One pass; returns how many people were reminded (each nudge fires once)."""
    sent = await nudges.run_nudges(ctx["runtime"], datetime.now(UTC))
    return sent.idle_drafts + sent.waiting_work
