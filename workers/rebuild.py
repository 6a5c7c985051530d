"""Rebuild the live queue in Redis from PostgreSQL: at start, every minute, on demand."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app import queue

# Packets handed in whose check has not run: their job may have been lost with Redis.
CHECKING_SQL = text(
    """
    SELECT v.id FROM submission_versions v JOIN submissions s ON s.id = v.submission_id
     WHERE s.state = 'checking'
       AND v.number = (SELECT max(number) FROM submission_versions w WHERE w.submission_id = s.id)
    """
)


async def rebuild_queue(ctx: dict[str, Any]) -> dict[str, int]:
    """The live queue, and a check job for every packet waiting for one. Idempotent: arq
    refuses a second job with the same id while the first is queued, running or recorded."""
    runtime = ctx["runtime"]
    counts = await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)
    async with runtime.engine.connect() as conn:
        waiting = [row[0] for row in (await conn.execute(CHECKING_SQL)).all()]
    requeued = 0
    for version_id in waiting:
        job = await runtime.arq.enqueue_job(
            "check_evidence", str(version_id), _job_id=f"check:{version_id}"
        )
        requeued += job is not None
    counts["checks_requeued"] = requeued
    return counts
