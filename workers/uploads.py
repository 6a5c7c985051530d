"""Abandoned resumable uploads: their partial files go after a day untouched."""

from __future__ import annotations

from typing import Any

import anyio

from app import uploads


async def sweep_uploads(ctx: dict[str, Any]) -> int:
    """Delete upload sessions nobody touched for a day (the same rule the app applies)."""
    return await anyio.to_thread.run_sync(
        uploads.sweep_expired, ctx["runtime"].settings.uploads_dir
    )
