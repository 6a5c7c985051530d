"""Leases that ran out go back to the queue, checked against PostgreSQL's clock."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import text

log = logging.getLogger(__name__)

# Conditional on state and deadline, so running it twice (arq is at-least-once) is harmless.
EXPIRE_SQL = text(
    """
    UPDATE review_tasks
       SET state = 'open', reviewer_id = NULL, lease_expires_at = NULL, claimed_at = NULL,
           extended = false, lease_version = lease_version + 1
     WHERE state = 'claimed' AND lease_expires_at < now()
 RETURNING id
    """
)


async def expire_leases(ctx: dict[str, Any]) -> int:
    """Return every task whose lease ran out to the open queue; the count returned."""
    runtime = ctx["runtime"]
    async with runtime.engine.begin() as conn:
        expired = (await conn.execute(EXPIRE_SQL)).all()
    if expired:
        log.info("returned %d expired claims to the queue", len(expired))
    return len(expired)
