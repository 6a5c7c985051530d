"""Outcomes by policy, escalation to experts, and badges for passes (and completed stacks)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import events
from app.actions import tasks
from app.models import (
    AuditEntry,
    Award,
    Credential,
    Decision,
    Outcome,
    Pool,
    Review,
    ReviewState,
    ReviewTask,
    Stack,
    StackItem,
    Stakes,
    Submission,
    SubmissionState,
    SubmissionVersion,
    TaskReason,
    TaskState,
)
from app.runtime import Runtime


def _policy(
    credential: Credential, peers: list[str], experts: list[str], open_experts: int
) -> tuple[str | None, str, bool]:
    """(decision or None, the rule, whether to open an expert task)."""
    if credential.stakes == Stakes.high:
        if len(experts) < credential.expert_reviews:
            return None, "waiting for expert reviews", False
        if len(set(experts)) == 1:
            return experts[0], f"high stakes: {len(experts)} expert review(s) agreed", False
        if open_experts:
            return None, "experts disagreed; waiting for another expert", False
        return None, "experts disagreed; escalated to another expert", True
    if experts:
        return experts[-1], "peers disagreed; the expert decided", False
    if len(peers) < credential.peer_reviews:
        return None, "waiting for peer reviews", False
    if len(set(peers)) == 1:
        return peers[0], f"low stakes: {len(peers)} peer reviews agreed", False
    if open_experts:
        return None, "peers disagreed; waiting for the expert", False
    return None, "peers disagreed; escalated to an expert", True


async def decide_outcome(runtime: Runtime, version_id: uuid.UUID) -> Outcome | None:
    """Apply the review policy to a version's completed reviews. Idempotent."""
    escalated: ReviewTask | None = None
    async with runtime.sessions() as session:
        version = await session.get(SubmissionVersion, version_id)
        assert version is not None
        submission = await session.get(Submission, version.submission_id, with_for_update=True)
        assert submission is not None
        existing = (
            await session.exec(select(Outcome).where(Outcome.version_id == version_id))
        ).first()
        if existing is not None or submission.state != SubmissionState.in_review:
            return existing
        credential = await session.get(Credential, submission.credential_id)
        assert credential is not None
        rows = (
            await session.exec(
                select(Review, ReviewTask)
                .join(ReviewTask, col(ReviewTask.id) == col(Review.task_id))
                .where(Review.version_id == version_id)
                .where(Review.state == ReviewState.submitted)
                .order_by(col(Review.submitted_at))
            )
        ).all()
        peers = [r.recommendation or "" for r, t in rows if t.pool == Pool.peer]
        experts = [r.recommendation or "" for r, t in rows if t.pool == Pool.expert]
        open_experts = len(
            (
                await session.exec(
                    select(ReviewTask.id)
                    .where(ReviewTask.version_id == version_id)
                    .where(ReviewTask.pool == Pool.expert)
                    .where(col(ReviewTask.state).in_([TaskState.open, TaskState.claimed]))
                )
            ).all()
        )
        decision, rule, escalate = _policy(credential, peers, experts, open_experts)
        if escalate:
            escalated = ReviewTask(
                submission_id=submission.id,
                version_id=version_id,
                pool=Pool.expert,
                reason=TaskReason.escalation,
            )
            session.add(escalated)
            session.add(
                AuditEntry(
                    action="submission.escalated",
                    subject_type="submission",
                    subject_id=str(submission.id),
                    data={"rule": rule},
                )
            )
            await session.commit()
        if decision is None:
            if escalated is not None:
                await tasks.announce_open(runtime, escalated, submission, credential, "task.opened")
            return None
        outcome = Outcome(
            submission_id=submission.id, version_id=version_id, decision=decision, rule=rule
        )
        session.add(outcome)
        submission.state = (
            SubmissionState.passed if decision == Decision.passed else SubmissionState.not_yet
        )
        session.add(submission)
        await session.flush()
        awards = (
            await award_for_pass(session, submission, credential, outcome)
            if decision == Decision.passed
            else []
        )
        await session.commit()
    await events.notify(
        runtime.engine,
        runtime.redis,
        runtime.settings,
        submission.earner_id,
        "submission.decided",
        {
            "submission_id": str(submission.id),
            "credential": credential.title,
            "decision": decision,
            "rule": rule,
        },
    )
    await announce_awards(runtime, submission, awards)
    return outcome


async def announce_awards(
    runtime: Runtime, submission: Submission, awards: list[tuple[Award, str]]
) -> None:
    """After commit: tell the earner about each badge just awarded."""
    for award, title in awards:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            submission.earner_id,
            "badge.awarded",
            {
                "award_id": str(award.id),
                "submission_id": str(submission.id),
                "title": title,
                "url": f"{runtime.settings.base_url}/badges/{award.id}",
            },
        )


async def award_for_pass(
    session: AsyncSession, submission: Submission, credential: Credential, outcome: Outcome
) -> list[tuple[Award, str]]:
    """The credential's badge, and each stack's badge the pass completes."""
    now = datetime.now(UTC)
    award = Award(
        user_id=submission.earner_id,
        credential_id=credential.id,
        outcome_id=outcome.id,
        recipient_salt=secrets.token_hex(16),
        issued_at=now,
    )
    session.add(award)
    await session.flush()
    made = [(award, credential.title)]
    made += await complete_stacks(session, submission.earner_id, credential.id, now)
    return made


async def complete_stacks(
    session: AsyncSession, earner_id: uuid.UUID, credential_id: uuid.UUID, now: datetime
) -> list[tuple[Award, str]]:
    """Add the badge of every stack that `credential_id` completes for the earner."""
    made = []
    stacks = (
        await session.exec(
            select(Stack)
            .join(StackItem, col(StackItem.stack_id) == col(Stack.id))
            .where(StackItem.credential_id == credential_id)
        )
    ).all()
    for stack in stacks:
        needed = set(
            (
                await session.exec(
                    select(StackItem.credential_id).where(StackItem.stack_id == stack.id)
                )
            ).all()
        )
        held = set(
            (
                await session.exec(
                    select(Award.credential_id)
                    .where(Award.user_id == earner_id)
                    .where(col(Award.revoked_at).is_(None))
                    .where(col(Award.credential_id).in_(needed))
                )
            ).all()
        )
        already = (
            await session.exec(
                select(Award.id)
                .where(Award.user_id == earner_id)
                .where(Award.stack_id == stack.id)
                .where(col(Award.revoked_at).is_(None))
            )
        ).first()
        if needed <= held and already is None:
            stack_award = Award(
                user_id=earner_id,
                stack_id=stack.id,
                recipient_salt=secrets.token_hex(16),
                issued_at=now,
            )
            session.add(stack_award)
            made.append((stack_award, stack.title))
    return made
