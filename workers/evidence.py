"""The evidence check a packet passes before it enters the review queue."""

from __future__ import annotations

import uuid
from typing import Any

from app.actions import submissions


async def check_evidence(ctx: dict[str, Any], version_id: str) -> str:
    """Check one submitted version; idempotent (a second run finds it already moved on)."""
    return await submissions.check_evidence(ctx["runtime"], uuid.UUID(version_id))
