"""Earners rate how helpful a review's feedback was (1-5), optionally flagging it as
inappropriate, which goes to the issuer's coordinators; coordinators resolve flags.

Earners who finished a credential also rate the credential itself (four 1-5 stars and a
short text); its coordinators answer each rating publicly once, and hide abusive text that
anyone flagged, every decision in the audit log (read side: app/ratings.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app import access, events
from app.actions import trust
from app.errors import ActionError, not_found
from app.models import (
    AuditEntry,
    Credential,
    CredentialRating,
    FeedbackRating,
    Membership,
    Organisation,
    Role,
    User,
)
from app.ratings import DIMENSIONS, has_finished
from app.runtime import Runtime

MAX_COMMENT = 2000
MAX_TEXT = 1000
MAX_REASON = 300


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


async def _coordinators_of(session: Any, organisation_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        (
            await session.exec(
                select(Membership.user_id)
                .where(Membership.organisation_id == organisation_id)
                .where(Membership.role == Role.coordinator)
                .where(col(Membership.suspended_at).is_(None))
            )
        ).all()
    )


def _clean(text: str, limit: int, what: str) -> str:
    text = text.replace("\x00", " ").strip()
    if len(text) > limit:
        raise ActionError("too_long", f"Keep {what} under {limit} characters.", 422)
    return text


async def rate_credential(
    runtime: Runtime, earner: User, credential_id: uuid.UUID, stars: dict[str, int], text: str
) -> CredentialRating:
    """Once per earner and credential, and only after finishing it (passed, or every attempt
    used); `stars` holds 1-5 for each of DIMENSIONS."""
    text = _clean(text, MAX_TEXT, "the review")
    for key, label in DIMENSIONS.items():
        value = stars.get(key)
        if not isinstance(value, int) or not 1 <= value <= 5:
            raise ActionError("bad_rating", f"{label}: give 1 to 5 stars.", 422)
    async with runtime.sessions() as session:
        credential = await session.get(Credential, credential_id)
        if credential is None:
            raise not_found("That credential")
        if not await has_finished(session, earner, credential):
            raise ActionError(
                "not_finished",
                "You can rate a credential once you have earned it or used every attempt.",
                403,
            )
        rating = CredentialRating(
            credential_id=credential.id,
            earner_id=earner.id,
            text=text,
            clarity=stars["clarity"],
            relevance=stars["relevance"],
            workload=stars["workload"],
            feedback=stars["feedback"],
        )
        session.add(rating)
        try:
            await session.commit()
        except IntegrityError:
            raise ActionError(
                "already_rated", "You have already rated this credential.", 409
            ) from None
        await session.refresh(rating)
    return rating


async def _managed_rating(
    session: Any, coordinator: User, rating_id: uuid.UUID
) -> tuple[CredentialRating, Credential]:
    rating = await session.get(CredentialRating, rating_id, with_for_update=True)
    if rating is None:
        raise not_found("That rating")
    credential = await access.managed_credential(session, coordinator, rating.credential_id)
    return rating, credential


async def answer_rating(
    runtime: Runtime, coordinator: User, rating_id: uuid.UUID, answer: str
) -> CredentialRating:
    """The issuer's one public answer to a rating (a second answer is refused)."""
    answer = _clean(answer, MAX_TEXT, "the answer")
    if not answer:
        raise ActionError("empty_answer", "Write the answer the earner will read.", 422)
    async with runtime.sessions() as session:
        rating, _ = await _managed_rating(session, coordinator, rating_id)
        if rating.answered_at is not None:
            raise ActionError("already_answered", "This rating already has its answer.", 409)
        rating.answer = answer
        rating.answered_at = datetime.now(UTC)
        rating.answered_by_id = coordinator.id
        session.add(rating)
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="rating.answered",
                subject_type="credential_rating",
                subject_id=str(rating.id),
            )
        )
        await session.commit()
        await session.refresh(rating)
    return rating


async def flag_rating(
    runtime: Runtime, user: User, rating_id: uuid.UUID, reason: str
) -> CredentialRating:
    """Anyone signed in may flag a rating's text as abusive, with a reason, for the issuer's
    coordinators to decide; a rating already flagged or decided stays as it is."""
    reason = _clean(reason, MAX_REASON, "the reason")
    if not reason:
        raise ActionError("empty_reason", "Say what is wrong with this text.", 422)
    async with runtime.sessions() as session:
        rating = await session.get(CredentialRating, rating_id, with_for_update=True)
        if rating is None:
            raise not_found("That rating")
        credential = await session.get(Credential, rating.credential_id)
        assert credential is not None
        issuer = await session.get(Organisation, credential.organisation_id)
        assert issuer is not None
        if rating.flagged_at is not None or rating.moderated_at is not None:
            raise ActionError("already_flagged", "This rating was already flagged.", 409)
        rating.flagged_at = datetime.now(UTC)
        rating.flagged_by_id = user.id
        rating.flag_reason = reason
        session.add(rating)
        session.add(
            AuditEntry(
                actor_id=user.id,
                action="rating.flagged",
                subject_type="credential_rating",
                subject_id=str(rating.id),
                data={"reason": reason},
            )
        )
        await session.commit()
        await session.refresh(rating)
        coordinators = await _coordinators_of(session, credential.organisation_id)
    for coordinator_id in coordinators:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            coordinator_id,
            "rating.flagged",
            {
                "rating_id": str(rating.id),
                "credential": credential.title,
                "credential_id": str(credential.id),
                "path": f"/credentials/{issuer.slug}/{credential.slug}",
            },
        )
    return rating


async def moderate_rating(
    runtime: Runtime, coordinator: User, rating_id: uuid.UUID, *, hide: bool, note: str = ""
) -> CredentialRating:
    """A coordinator of the issuer hides a rating's text (its stars still count) or keeps
    it visible (clearing a flag); either way the decision is audited."""
    note = _clean(note, MAX_REASON, "the note")
    async with runtime.sessions() as session:
        rating, _ = await _managed_rating(session, coordinator, rating_id)
        now = datetime.now(UTC)
        rating.hidden_at = now if hide else None
        rating.moderated_at = now
        rating.moderated_by_id = coordinator.id
        session.add(rating)
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="rating.hidden" if hide else "rating.kept",
                subject_type="credential_rating",
                subject_id=str(rating.id),
                data={"note": note, "flag_reason": rating.flag_reason},
            )
        )
        await session.commit()
        await session.refresh(rating)
    return rating
