"""The only home of permission checks. Missing and forbidden look the same (404)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import ActionError, not_found
from app.models import (
    Artifact,
    Award,
    Credential,
    Membership,
    Pool,
    Privacy,
    QualityPolicy,
    Review,
    ReviewerStanding,
    ReviewTask,
    Role,
    Submission,
    SubmissionVersion,
    TaskReason,
    TaskState,
    User,
)


async def roles_of(session: AsyncSession, user: User) -> set[tuple[uuid.UUID, str]]:
    """Every (organisation, role) the user holds and is not suspended from."""
    rows = await session.exec(
        select(Membership.organisation_id, Membership.role)
        .where(Membership.user_id == user.id)
        .where(col(Membership.suspended_at).is_(None))
    )
    return {(org, role) for org, role in rows.all()}


async def has_role(
    session: AsyncSession, user: User, role: Role, organisation_id: uuid.UUID | None = None
) -> bool:
    """Whether the user holds `role` (in `organisation_id`, or in any organisation)."""
    query = (
        select(Membership.id)
        .where(Membership.user_id == user.id)
        .where(Membership.role == role)
        .where(col(Membership.suspended_at).is_(None))
    )
    if organisation_id is not None:
        query = query.where(Membership.organisation_id == organisation_id)
    return (await session.exec(query.limit(1))).first() is not None


def require_user(user: User | None) -> User:
    if user is None:
        raise ActionError("unauthenticated", "Log in to continue.", 401)
    return user


POOL_ROLE = {Pool.peer: Role.reviewer, Pool.expert: Role.expert}


def _pool_role_matches() -> ColumnElement[bool]:
    return or_(
        and_(col(ReviewTask.pool) == Pool.peer, col(Membership.role) == Role.reviewer),
        and_(col(ReviewTask.pool) == Pool.expert, col(Membership.role) == Role.expert),
    )


def eligible_tasks(user: User, *, open_only: bool = True) -> Any:
    """Open tasks this reviewer may see and claim: (task, submission, credential) rows.

    Every rule of eligibility lives here, one condition per line, so listing, claiming and
    claim-next cannot disagree: the role for the pool in the issuing organisation (not
    suspended); the required badge ("earn it to assess it"); the quality gate (calibrated
    when the credential asks for it, not suspended for low trust); not the earner; not
    already on this submission; not from the earner's school when the credential says so.
    """
    earner = aliased(User)
    earlier_task = aliased(ReviewTask)
    return (
        _quality_gated(
            select(ReviewTask, Submission, Credential)
            .join(Submission, col(Submission.id) == col(ReviewTask.submission_id))
            .join(Credential, col(Credential.id) == col(Submission.credential_id)),
            user,
        )
        .join(earner, col(earner.id) == col(Submission.earner_id))
        .where(
            col(ReviewTask.state).in_(
                [TaskState.open] if open_only else [TaskState.open, TaskState.claimed]
            )
        )
        .where(
            exists()
            .where(col(Membership.user_id) == user.id)
            .where(col(Membership.organisation_id) == col(Credential.organisation_id))
            .where(col(Membership.suspended_at).is_(None))
            .where(_pool_role_matches())
        )
        .where(
            or_(
                col(Credential.required_badge_credential_id).is_(None),
                exists()
                .where(col(Award.user_id) == user.id)
                .where(col(Award.credential_id) == col(Credential.required_badge_credential_id))
                .where(col(Award.revoked_at).is_(None)),
            )
        )
        .where(col(Submission.earner_id) != user.id)
        .where(
            ~exists()
            .where(col(earlier_task.submission_id) == col(Submission.id))
            .where(col(earlier_task.reviewer_id) == user.id)
        )
        .where(
            ~exists()
            .where(col(Review.submission_id) == col(Submission.id))
            .where(col(Review.reviewer_id) == user.id)
        )
        .where(
            or_(
                ~col(Credential.exclude_same_school),
                col(earner.school).is_(None),
                literal(user.school is None),
                func.lower(col(earner.school)) != (user.school or "").lower(),
            )
        )
    )


def _quality_gated(query: Any, user: User) -> Any:
    """Join the credential's quality policy and this reviewer's standing (one row each at
    most, by primary key and unique index) and keep credentials the reviewer may claim for:
    calibrated when calibration is required, and not suspended for low trust."""
    return (
        query.outerjoin(QualityPolicy, col(QualityPolicy.credential_id) == col(Credential.id))
        .outerjoin(
            ReviewerStanding,
            and_(
                col(ReviewerStanding.credential_id) == col(Credential.id),
                col(ReviewerStanding.reviewer_id) == user.id,
            ),
        )
        .where(col(ReviewerStanding.suspended_at).is_(None))
        .where(
            or_(
                func.coalesce(col(QualityPolicy.calibration_required), 0) == 0,
                col(ReviewerStanding.calibrated_at).is_not(None),
            )
        )
    )


# How far ahead of equally old work a reviewer's most trusted credentials come in claim-next:
# trust 100 is 12 hours ahead, trust 50 six; escalations and appeals still lead by a day.
TRUST_LEAD_SECONDS = 12 * 3600


def by_trust_priority(query: Any) -> Any:
    """claim-next's order: by_priority, with the work of credentials where this reviewer is
    most trusted first (a newcomer counts as the prior, 75)."""
    boost = case((col(ReviewTask.reason) == TaskReason.initial, 0), else_=86400)
    trust = func.coalesce(col(ReviewerStanding.trust), 75.0) / 100.0 * TRUST_LEAD_SECONDS
    return query.order_by(
        func.extract("epoch", col(ReviewTask.created_at)) - boost - trust, col(ReviewTask.id)
    )


def by_priority(query: Any) -> Any:
    """Oldest first; escalations and appeals jump a day ahead, so nothing waits forever."""
    boost = case((col(ReviewTask.reason) == TaskReason.initial, 0), else_=86400)
    return query.order_by(
        func.extract("epoch", col(ReviewTask.created_at)) - boost, col(ReviewTask.id)
    )


async def can_claim(session: AsyncSession, user: User, task_id: uuid.UUID) -> bool:
    row = (await session.execute(eligible_tasks(user).where(col(ReviewTask.id) == task_id))).first()
    return row is not None


async def is_coordinator_of(session: AsyncSession, user: User, organisation_id: uuid.UUID) -> bool:
    return await has_role(session, user, Role.coordinator, organisation_id)


async def access_submission(
    session: AsyncSession, user: User, submission_id: uuid.UUID
) -> tuple[Submission, Credential]:
    """The earner's own submission, or one a coordinator of its issuer oversees; else 404."""
    submission = await session.get(Submission, submission_id)
    if submission is None:
        raise not_found("That submission")
    credential = await session.get(Credential, submission.credential_id)
    assert credential is not None
    if submission.earner_id == user.id:
        return submission, credential
    if await is_coordinator_of(session, user, credential.organisation_id):
        return submission, credential
    raise not_found("That submission")


async def live_claim_on(
    session: AsyncSession, user: User, version_id: uuid.UUID
) -> ReviewTask | None:
    """The reviewer's claim on this version, while its lease is live."""
    return (
        await session.exec(
            select(ReviewTask)
            .where(ReviewTask.version_id == version_id)
            .where(ReviewTask.reviewer_id == user.id)
            .where(ReviewTask.state == TaskState.claimed)
            .where(col(ReviewTask.lease_expires_at) > func.now())
        )
    ).first()


async def access_artifact(
    session: AsyncSession, user: User | None, artifact_id: uuid.UUID
) -> Artifact:
    """An artifact for the earner, the reviewer holding a live claim on its version, the
    issuer's coordinators, the issuer's members when the earner chose "organisation", and
    anyone when "public". Everyone else: 404, exactly like a missing one."""
    artifact = await session.get(Artifact, artifact_id)
    if artifact is None:
        raise not_found("That file")
    version = await session.get(SubmissionVersion, artifact.version_id)
    assert version is not None
    submission = await session.get(Submission, version.submission_id)
    assert submission is not None
    if submission.privacy == Privacy.public:
        return artifact
    if user is None:
        raise not_found("That file")
    if submission.earner_id == user.id:
        return artifact
    if await live_claim_on(session, user, version.id) is not None:
        return artifact
    credential = await session.get(Credential, submission.credential_id)
    assert credential is not None
    if await is_coordinator_of(session, user, credential.organisation_id):
        return artifact
    if submission.privacy == Privacy.organisation and await has_role(
        session, user, Role.reviewer, credential.organisation_id
    ):
        return artifact
    raise not_found("That file")


async def reviewer_pools(
    session: AsyncSession, user: User, *, gated: bool = True
) -> set[tuple[uuid.UUID, str]]:
    """The (credential, pool) feeds this person may watch: the per-credential half of
    eligibility (role, suspension, required badge, and unless `gated` is False the quality
    gate); per-submission rules apply per task."""
    query = select(Credential.id, Membership.role)
    if gated:
        query = _quality_gated(query.select_from(Credential), user)
    rows = await session.execute(
        query.join(Membership, col(Membership.organisation_id) == col(Credential.organisation_id))
        .where(col(Membership.user_id) == user.id)
        .where(col(Membership.suspended_at).is_(None))
        .where(col(Membership.role).in_([Role.reviewer, Role.expert]))
        .where(
            or_(
                col(Credential.required_badge_credential_id).is_(None),
                exists()
                .where(col(Award.user_id) == user.id)
                .where(col(Award.credential_id) == col(Credential.required_badge_credential_id))
                .where(col(Award.revoked_at).is_(None)),
            )
        )
    )
    pool_of = {Role.reviewer: Pool.peer, Role.expert: Pool.expert}
    return {(credential_id, pool_of[Role(role)].value) for credential_id, role in rows.all()}


async def access_claim(
    session: AsyncSession, user: User, task_id: uuid.UUID
) -> tuple[ReviewTask, SubmissionVersion, Credential]:
    """The task while this reviewer holds its claim (its lease may have just run out: the
    caller decides); anything else is 404, exactly like a task that does not exist."""
    row = (
        await session.exec(
            select(ReviewTask, SubmissionVersion, Credential)
            .join(SubmissionVersion, col(SubmissionVersion.id) == col(ReviewTask.version_id))
            .join(Submission, col(Submission.id) == col(ReviewTask.submission_id))
            .join(Credential, col(Credential.id) == col(Submission.credential_id))
            .where(col(ReviewTask.id) == task_id)
        )
    ).first()
    if row is None:
        raise not_found("That task")
    task, version, credential = row
    if task.reviewer_id != user.id:
        raise not_found("That task")
    if task.state != TaskState.claimed:
        raise not_found("That task")
    return task, version, credential


async def managed_credential(
    session: AsyncSession, user: User, credential_id: uuid.UUID
) -> Credential:
    """A credential this person coordinates (its issuer's coordinator); else 404."""
    credential = await session.get(Credential, credential_id)
    if credential is None:
        raise not_found("That credential")
    if not await is_coordinator_of(session, user, credential.organisation_id):
        raise not_found("That credential")
    return credential


async def access_own_review(session: AsyncSession, user: User, review_id: uuid.UUID) -> Review:
    """A review this reviewer submitted; else 404."""
    review = await session.get(Review, review_id)
    if review is None:
        raise not_found("That review")
    if review.reviewer_id != user.id:
        raise not_found("That review")
    if review.state != "submitted":
        raise not_found("That review")
    return review


async def access_review_of_mine(
    session: AsyncSession, user: User, review_id: uuid.UUID
) -> tuple[Review, Submission]:
    """A submitted review of the earner's own submission (to rate its feedback); else 404."""
    review = await session.get(Review, review_id)
    if review is None or review.state != "submitted":
        raise not_found("That review")
    submission = await session.get(Submission, review.submission_id)
    if submission is None:
        raise not_found("That review")
    if submission.earner_id != user.id:
        raise not_found("That review")
    return review, submission
