"""Earners rate how helpful a review's feedback was (1-5), optionally flagging it as
inappropriate, which goes to the issuer's coordinators; coordinators resolve flags."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app import access, events
from app.actions import trust
from app.errors import ActionError, not_found
from app.models import AuditEntry, Credential, FeedbackRating, Membership, Role, User
from app.runtime import Runtime

MAX_COMMENT = 2000


async def rate_feedback(
    runtime: Runtime,
    earner: User,
    review_id: uuid.UUID,
    helpfulness: int,
    *,
    inappropriate: bool = False,
    comment: str = "",
) -> FeedbackRating:
    """Once per review; it feeds the reviewer's trust for the credential."""
    comment = comment.strip()
    if not 1 <= helpfulness <= 5:
        raise ActionError("bad_rating", "Rate the feedback from 1 (not helpful) to 5.", 422)
    if len(comment) > MAX_COMMENT:
        raise ActionError("too_long", f"Keep the note under {MAX_COMMENT} characters.", 422)
    if inappropriate and not comment:
        raise ActionError("bad_rating", "Say what was inappropriate, for the coordinator.", 422)
    async with runtime.sessions() as session:
        review, submission = await access.access_review_of_mine(session, earner, review_id)
        credential = await session.get(Credential, submission.credential_id)
        assert credential is not None
        rating = FeedbackRating(
            review_id=review.id,
            earner_id=earner.id,
            reviewer_id=review.reviewer_id,
            credential_id=credential.id,
            helpfulness=helpfulness,
            inappropriate=inappropriate,
            comment=comment,
        )
        session.add(rating)
        try:
            await session.flush()
        except IntegrityError:
            raise ActionError(
                "already_rated", "You have already rated this feedback.", 409
            ) from None
        await trust.recompute(session, review.reviewer_id, credential.id)
        await session.commit()
        await session.refresh(rating)
        coordinators = (
            (
                await session.exec(
                    select(Membership.user_id)
                    .where(Membership.organisation_id == credential.organisation_id)
                    .where(Membership.role == Role.coordinator)
                    .where(col(Membership.suspended_at).is_(None))
                )
            ).all()
            if inappropriate
            else []
        )
    for coordinator_id in coordinators:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            coordinator_id,
            "feedback.flagged",
            {
                "rating_id": str(rating.id),
                "credential": credential.title,
                "credential_id": str(credential.id),
            },
        )
    return rating


async def resolve_flag(runtime: Runtime, coordinator: User, rating_id: uuid.UUID) -> FeedbackRating:
    """A coordinator has dealt with a flagged piece of feedback."""
    async with runtime.sessions() as session:
        rating = await session.get(FeedbackRating, rating_id, with_for_update=True)
        if rating is None or not rating.inappropriate:
            raise not_found("That flag")
        await access.managed_credential(session, coordinator, rating.credential_id)
        if rating.resolved_at is not None:
            raise ActionError("already_resolved", "This flag is already resolved.", 409)
        rating.resolved_at = datetime.now(UTC)
        rating.resolved_by_id = coordinator.id
        session.add(rating)
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="quality.flag_resolved",
                subject_type="review",
                subject_id=str(rating.review_id),
            )
        )
        await session.commit()
        await session.refresh(rating)
    return rating
