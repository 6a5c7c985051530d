"""Honest evidence: compare a packet that entered review with other earners' evidence."""

from __future__ import annotations

import uuid
from typing import Any

from app.actions import integrity


async def scan_evidence(ctx: dict[str, Any], version_id: str) -> int:
    """Flag matches for one submitted version; returns how many new flags it raised."""
    return len(await integrity.scan_version(ctx["runtime"], uuid.UUID(version_id)))
