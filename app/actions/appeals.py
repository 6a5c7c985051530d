"""Appeals: an earner contests a "not yet"; a coordinator of the issuer rules on it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import col, select

from app import access, events, queue
from app.actions import escalations
from app.actions.outcomes import announce_awards, award_for_pass
from app.actions.policy import policy_for
from app.actions.submissions import latest_version
from app.errors import ActionError, not_found
from app.models import (
    Appeal,
    AppealState,
    AuditEntry,
    Credential,
    Decision,
    Membership,
    Outcome,
    Role,
    Submission,
    SubmissionState,
    TaskReason,
    User,
)
from app.runtime import Runtime

MAX_REASON = 5000


async def appeal_outcome(
    runtime: Runtime, earner: User, submission_id: uuid.UUID, reason: str
) -> Appeal:
    reason = reason.strip()
    if not 10 <= len(reason) <= MAX_REASON:
        raise ActionError("bad_reason", "Explain the appeal in 10 to 5000 characters.", 422)
    async with runtime.sessions() as session:
        submission = await session.get(Submission, submission_id, with_for_update=True)
        if submission is None or submission.earner_id != earner.id:
            raise not_found("That submission")
        version = await latest_version(session, submission.id)
        outcome = (
            await session.exec(select(Outcome).where(Outcome.version_id == version.id))
        ).first()
        if outcome is None or outcome.decision != Decision.not_yet:
            raise ActionError("not_appealable", "Only a 'not yet' decision can be appealed.", 409)
        if (await session.exec(select(Appeal).where(Appeal.outcome_id == outcome.id))).first():
            raise ActionError("already_appealed", "This decision has already been appealed.", 409)
        appeal = Appeal(outcome_id=outcome.id, earner_id=earner.id, reason=reason)
        session.add(appeal)
        credential = await session.get(Credential, submission.credential_id)
        assert credential is not None
        expert_task = None
        if (await policy_for(session, credential.id)).escalate_on_appeal:
            # The coordinator still rules; an expert's fresh review is there to rule on.
            expert_task = await escalations.open_expert_task(
                session,
                submission.id,
                version.id,
                [(escalations.APPEAL, "the earner appealed the decision")],
                reason=TaskReason.appeal,
            )
        session.add(
            AuditEntry(
                actor_id=earner.id,
                action="appeal.opened",
                subject_type="submission",
                subject_id=str(submission.id),
            )
        )
        await session.commit()
        coordinators = (
            await session.exec(
                select(Membership.user_id)
                .where(Membership.organisation_id == credential.organisation_id)
                .where(Membership.role == Role.coordinator)
                .where(col(Membership.suspended_at).is_(None))
            )
        ).all()
    for coordinator_id in coordinators:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            coordinator_id,
            "appeal.opened",
            {"appeal_id": str(appeal.id), "credential": credential.title},
        )
    if expert_task is not None:
        await queue.announce_open(runtime, expert_task, submission, credential, "task.opened")
    return appeal


async def rule_on_appeal(
    runtime: Runtime, coordinator: User, appeal_id: uuid.UUID, *, overturn: bool, ruling: str
) -> Appeal:
    """Uphold the "not yet", or overturn it to a pass (which awards the badge)."""
    ruling = ruling.strip()
    if not 1 <= len(ruling) <= MAX_REASON:
        raise ActionError("bad_ruling", "Write the ruling (up to 5000 characters).", 422)
    awards = []
    async with runtime.sessions() as session:
        appeal = await session.get(Appeal, appeal_id, with_for_update=True)
        if appeal is None:
            raise not_found("That appeal")
        outcome = await session.get(Outcome, appeal.outcome_id, with_for_update=True)
        assert outcome is not None
        submission = await session.get(Submission, outcome.submission_id, with_for_update=True)
        assert submission is not None
        credential = await session.get(Credential, submission.credential_id)
        assert credential is not None
        if not await access.is_coordinator_of(session, coordinator, credential.organisation_id):
            raise not_found("That appeal")
        if appeal.state != AppealState.open:
            raise ActionError("already_ruled", "This appeal has already been ruled on.", 409)
        appeal.state = AppealState.overturned if overturn else AppealState.upheld
        appeal.ruling = ruling
        appeal.ruled_by_id = coordinator.id
        appeal.ruled_at = datetime.now(UTC)
        session.add(appeal)
        if overturn:
            outcome.decision = Decision.passed
            outcome.rule = f"appeal overturned by a coordinator: {ruling}"[:2000]
            outcome.decided_by_id = coordinator.id
            submission.state = SubmissionState.passed
            session.add_all([outcome, submission])
            awards = await award_for_pass(session, submission, credential, outcome)
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action=f"appeal.{appeal.state}",
                subject_type="submission",
                subject_id=str(submission.id),
                data={"ruling": ruling},
            )
        )
        await session.commit()
    await events.notify(
        runtime.engine,
        runtime.redis,
        runtime.settings,
        submission.earner_id,
        "appeal.ruled",
        {"submission_id": str(submission.id), "state": appeal.state, "ruling": ruling},
    )
    await announce_awards(runtime, submission, awards)
    return appeal
