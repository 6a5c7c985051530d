"""Classroom video and audio: the rendition, poster, thumbnails and observations of one file."""

from __future__ import annotations

import asyncio
from typing import Any

from app.actions import media


async def prepare_media(ctx: dict[str, Any], sha256: str) -> str:
    """Prepare one stored file; one at a time per worker by default (MCX_MEDIA_TRANSCODES)."""
    slots = ctx.get("media_slots")
    if slots is None:  # a worker built without startup (tests calling the job directly)
        slots = ctx["media_slots"] = asyncio.Semaphore(ctx["runtime"].settings.media_transcodes)
    return await media.prepare_media(ctx["runtime"], sha256, slots)
