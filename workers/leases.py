"""Leases that ran out go back to the queue, checked against PostgreSQL's clock."""

from __future__ import annotations

from typing import Any

from app.actions import tasks


async def expire_leases(ctx: dict[str, Any]) -> int:
    """Return every task whose lease ran out to the open queue; the count returned.

    Never relies on Redis key expiry: it re-checks deadlines in PostgreSQL, and its updates are
    conditional, so running twice (arq is at-least-once) is harmless.
    """
    return await tasks.expire_leases(ctx["runtime"])
