"""Outcomes by policy, escalation to experts, and badges for passes (and completed stacks)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import events, queue
from app.actions import collusion, escalations, tiebreak, trust
from app.actions.policy import policy_for
from app.badges import validity
from app.models import (
    Award,
    Credential,
    Decision,
    Escalation,
    Outcome,
    Pool,
    QualityPolicy,
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
    credential: Credential,
    policy: QualityPolicy,
    shape: escalations.RubricShape,
    peers: list[escalations.Scored],
    experts: list[escalations.Scored],
    open_experts: int,
    escalated_for: list[str],
    tiebreaks: int = 0,
) -> tuple[str | None, str, list[tuple[str, str]], bool]:
    """(decision or None, the rule, the escalation triggers to open an expert task for,
    whether to open a tie-break task for a third peer). `tiebreaks`: tie-break tasks the
    version has had, in any state."""
    if credential.stakes == Stakes.high:
        if len(experts) < credential.expert_reviews:
            return None, "waiting for expert reviews", [], False
        decisions = {r.recommendation for r in experts}
        if len(decisions) == 1:
            return (
                experts[0].recommendation,
                (f"high stakes: {len(experts)} expert review(s) agreed"),
                [],
                False,
            )
        if open_experts:
            return None, "experts disagreed; waiting for another expert", [], False
        return (
            None,
            "experts disagreed; escalated to another expert",
            [(escalations.DISAGREEMENT, "experts disagreed on the decision")],
            False,
        )
    if experts:
        # The expert overrides the peers (the latest expert, should there be several).
        why = (
            "peers disagreed"
            if escalated_for == [escalations.DISAGREEMENT]
            else "escalated (" + ", ".join(escalated_for or ["by policy"]) + ")"
        )
        return experts[-1].recommendation, f"{why}; the expert decided", [], False
    firsts = [r for r in peers if not r.tiebreak]
    thirds = [r for r in peers if r.tiebreak]
    if len(firsts) < credential.peer_reviews:
        return None, "waiting for peer reviews", [], False
    weighted = policy.trust_weighted
    found = escalations.triggers(policy, shape, firsts)
    if found and tiebreak.applies(policy, found):
        why = (
            {
                escalations.UNPROVEN: "two peers of low known-answer accuracy agreed",
                escalations.UNSHARED: "peers said not yet, each for a different criterion",
            }.get(found[0][0], "peers disagreed")
            if len(found) == 1
            else "peers disagreed"
        )
        if not thirds:
            if tiebreaks:
                return None, f"{why}; waiting for the third peer", [], False
            return None, f"{why}; a trusted third peer is asked", [], True
        settled = tiebreak.settle(
            shape, [*firsts, thirds[0]], thirds[0], weighted=weighted, found=found
        )
        if settled is not None:
            how = "trust-weighted levels" if weighted else "each criterion at the median level"
            return settled, f"{why}; a trusted third peer settled it ({how})", [], False
        found = [*found, (tiebreak.UNSETTLED, "a trusted third peer did not settle it")]
    if found:
        if open_experts:
            return None, "escalated; waiting for the expert", [], False
        return None, "escalated to an expert: " + escalations.describe(found), found, False
    decision = shape.verdict(escalations.consensus(shape, firsts, weighted=weighted))
    if len({r.recommendation for r in firsts}) == 1:
        return decision, f"low stakes: {len(firsts)} peer reviews agreed", [], False
    how = "trust-weighted levels" if weighted else "each criterion at the median level"
    return decision, f"low stakes: {len(firsts)} peer reviews, {how}", [], False


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
        scored = [
            escalations.Scored(
                r.id,
                r.reviewer_id,
                t.pool,
                r.recommendation or "",
                tiebreak=t.reason == TaskReason.tiebreak,
            )
            for r, t in rows
        ]
        await escalations.load_levels(session, scored)
        assert version.rubric_id is not None
        shape = await escalations.rubric_shape(session, version.rubric_id)
        policy = await policy_for(session, credential.id)
        peers = [r for r in scored if r.pool == Pool.peer]
        experts = [r for r in scored if r.pool == Pool.expert]
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
        escalated_for = [
            code
            for row in (
                await session.exec(
                    select(Escalation.triggers).where(Escalation.version_id == version_id)
                )
            ).all()
            for code in row
        ]
        tiebreaks = len(
            (
                await session.exec(
                    select(ReviewTask.id)
                    .where(ReviewTask.version_id == version_id)
                    .where(ReviewTask.reason == TaskReason.tiebreak)
                )
            ).all()
        )
        if policy.trust_weighted:
            await trust.load_weights(session, credential.id, peers)
        if policy.tiebreak_peer:
            await trust.mark_set_aside(session, credential.id, peers)
        decision, rule, found, third = _policy(
            credential, policy, shape, peers, experts, open_experts, escalated_for, tiebreaks
        )
        if found:
            escalated = await escalations.open_expert_task(
                session, submission.id, version_id, found
            )
            await session.commit()
        elif third:
            escalated = await tiebreak.open_tiebreak_task(
                session,
                credential,
                policy,
                submission.id,
                version_id,
                [r.reviewer_id for r in peers],
            )
            await session.commit()
        if decision is None:
            if escalated is not None:
                await queue.announce_open(runtime, escalated, submission, credential, "task.opened")
            if policy.collusion_guard and len(peers) > 1:
                # A grab-and-pass shows once a second review gives a reference: weigh the
                # earner's pairs now, not only after the tie-break and the expert (a day on).
                await collusion.check_earner(runtime, credential, submission, version_id)
            elif policy.collusion_guard and len(peers) == 1:
                # Until then a fast pass of a fellow reviewer's packet holds the pair.
                await collusion.hold_grab(runtime, credential, submission, version_id)
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
    # Agreement is measured on decided work: every reviewer's trust sees the new outcome.
    await trust.refresh_many(runtime, {(r.reviewer_id, credential.id) for r in scored})
    if policy.collusion_guard:
        await collusion.check_decided(runtime, credential, submission, version_id)
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
        expires_at=validity.expires_at(credential.validity_months, now),
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
