"""Badge jobs: tell earners 30 days ahead that a badge expires (once per badge)."""

from __future__ import annotations

from typing import Any

from app.actions.awards import send_expiry_notices


async def notify_expiring_badges(ctx: dict[str, Any]) -> int:
    """Idempotent: each badge's notice is sent once (awards.expiry_notified_at)."""
    return await send_expiry_notices(ctx["runtime"])
