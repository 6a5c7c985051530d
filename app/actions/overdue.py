"""Work that peers cannot finish goes to experts: a low-stakes packet still in review past its
credential's time target (from submission), and a tie-break nobody may take any longer
(app.actions.tiebreak.STRANDED), get an expert task, which decides it (the policy lets an
expert's review decide), and their peer tasks nobody has claimed are withdrawn from the peer
pool (claimed ones may still finish). Once per version, with the reason in the audit log."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app import queue
from app.actions import escalations, tiebreak
from app.models import (
    AuditEntry,
    Credential,
    Pool,
    ReviewTask,
    Submission,
    TaskReason,
    TaskState,
)
from app.queue_health import DEFAULT_TARGET_HOURS
from app.runtime import Runtime

# Latest versions of low-stakes packets in review, past the target, with no expert task yet.
OVERDUE_SQL = text(
    """
    SELECT v.id AS version_id, s.id AS submission_id,
           extract(epoch FROM now() - v.submitted_at) / 3600 AS waited_hours,
           coalesce(c.target_hours, :default_target) AS target_hours
      FROM submission_versions v
      JOIN submissions s ON s.id = v.submission_id
      JOIN credentials c ON c.id = s.credential_id
     WHERE s.state = 'in_review' AND c.stakes = 'low'
       AND v.number = (SELECT max(number) FROM submission_versions w WHERE w.submission_id = s.id)
       AND v.submitted_at + make_interval(hours => coalesce(c.target_hours, :default_target))
           < now()
       AND NOT EXISTS (SELECT 1 FROM review_tasks e WHERE e.version_id = v.id AND e.pool = 'expert')
     ORDER BY v.submitted_at
     LIMIT 500
    """
)
# A version still in review with no expert task, under a lock on its submission: two workers
# running a sweep at once open one expert task, not two.
NO_EXPERT_YET_SQL = text(
    """
    SELECT 1 FROM submissions s
     WHERE s.id = :submission AND s.state = 'in_review'
       AND NOT EXISTS (SELECT 1 FROM review_tasks e
                        WHERE e.version_id = :version AND e.pool = 'expert')
       FOR UPDATE OF s
    """
)


async def offer_overdue_to_experts(runtime: Runtime) -> int:
    """Open one expert task per overdue version; returns how many. Idempotent."""
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(OVERDUE_SQL, {"default_target": DEFAULT_TARGET_HOURS})).all()
    offered = 0
    for row in rows:
        version_id: uuid.UUID = row.version_id
        async with runtime.sessions() as session:
            still = await session.execute(
                NO_EXPERT_YET_SQL, {"submission": row.submission_id, "version": version_id}
            )
            if still.first() is None:
                await session.rollback()
                continue
            task = ReviewTask(
                submission_id=row.submission_id,
                version_id=version_id,
                pool=Pool.expert,
                reason=TaskReason.escalation,
            )
            session.add(task)
            withdrawn = await queue.cancel_open(session, version_id, Pool.peer)
            reason = (
                f"overdue: waiting {int(row.waited_hours)} h against a time target of "
                f"{row.target_hours} h; offered to experts"
            )
            session.add(
                AuditEntry(
                    action="submission.offered_to_experts",
                    subject_type="submission",
                    subject_id=str(row.submission_id),
                    data={
                        "reason": reason,
                        "task_id": str(task.id),
                        "withdrawn_peer_tasks": [str(t.id) for t in withdrawn],
                    },
                )
            )
            await session.commit()
        await _hand_to_experts(runtime, task, withdrawn)
        offered += 1
    return offered


async def offer_stranded_tiebreaks(runtime: Runtime) -> int:
    """Hand each open tie-break nobody may take now (tiebreak.STRANDED_SQL: the trusted
    reviewers since suspended, say) to an expert; returns how many. Idempotent."""
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(tiebreak.STRANDED_SQL)).all()
    offered = 0
    for row in rows:
        async with runtime.sessions() as session:
            still = await session.execute(
                NO_EXPERT_YET_SQL, {"submission": row.submission_id, "version": row.version_id}
            )
            stranded = await session.get(ReviewTask, row.task_id)
            if (
                still.first() is None
                or stranded is None
                or stranded.state != TaskState.open
                or (
                    await session.execute(tiebreak.TASK_TAKEABLE_SQL, {"task": row.task_id})
                ).scalar_one()
            ):
                await session.rollback()
                continue
            withdrawn = await queue.cancel_open(session, row.version_id, Pool.peer)
            task = await escalations.open_expert_task(
                session,
                row.submission_id,
                row.version_id,
                [(tiebreak.STRANDED, tiebreak.STRANDED_WHY)],
            )
            await session.commit()
        await _hand_to_experts(runtime, task, withdrawn)
        offered += 1
    return offered


async def _hand_to_experts(runtime: Runtime, task: ReviewTask, withdrawn: list[ReviewTask]) -> None:
    """After commit: the withdrawn peer tasks leave the live queue and their feeds, and the
    expert task is announced."""
    async with runtime.sessions() as session:
        submission = await session.get(Submission, task.submission_id)
        assert submission is not None
        credential = await session.get(Credential, submission.credential_id)
        assert credential is not None
    await queue.announce_cancelled(runtime, credential.id, withdrawn)
    await queue.announce_open(runtime, task, submission, credential, "task.opened")
