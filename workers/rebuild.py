"""Rebuild the live queue in Redis from PostgreSQL: at start, every minute, on demand."""

from __future__ import annotations

from typing import Any

from app import queue


async def rebuild_queue(ctx: dict[str, Any]) -> dict[str, int]:
    runtime = ctx["runtime"]
    return await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)
