"""Outcomes that should exist but do not (a process died between a review and its outcome)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from app.actions.outcomes import decide_outcome

# Versions under review with no outcome and no task still open or claimed: every review is in.
STALLED_SQL = text(
    """
    SELECT v.id FROM submission_versions v
      JOIN submissions s ON s.id = v.submission_id
     WHERE s.state = 'in_review'
       AND v.number = (SELECT max(number) FROM submission_versions w WHERE w.submission_id = s.id)
       AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.version_id = v.id)
       AND NOT EXISTS (SELECT 1 FROM review_tasks t
                        WHERE t.version_id = v.id AND t.state IN ('open', 'claimed'))
       AND EXISTS (SELECT 1 FROM review_tasks t WHERE t.version_id = v.id AND t.state = 'completed')
    """
)


async def reconcile_outcomes(ctx: dict[str, Any]) -> int:
    """Apply the policy to every stalled version; idempotent like decide_outcome itself."""
    runtime = ctx["runtime"]
    async with runtime.engine.connect() as conn:
        stalled: list[uuid.UUID] = [row[0] for row in (await conn.execute(STALLED_SQL)).all()]
    for version_id in stalled:
        await decide_outcome(runtime, version_id)
    return len(stalled)
