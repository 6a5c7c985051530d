"""Timestamped review comments: a reviewer marks a moment of a video or audio artifact, links
it to a rubric criterion and writes a comment.

Moments belong to the review (its draft is created if need be) and are written under the
claim exactly as scores are: the task row is locked, and the holder, the lease_version and
the deadline (by PostgreSQL's clock) are checked in the same transaction. Once the review is
submitted the task is completed and moments can no longer change; the earner sees them with
the submitted review's feedback, on the timeline of their own recording.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.actions.media import MEDIA_KINDS
from app.actions.reviews import rubric_levels
from app.actions.tasks import GONE
from app.errors import ActionError, not_found
from app.models import (
    Artifact,
    MediaFile,
    Review,
    ReviewMoment,
    ReviewState,
    ReviewTask,
    RubricCriterion,
    SubmissionVersion,
    TaskState,
    User,
)
from app.queue import lost_claim
from app.runtime import Runtime

MAX_COMMENT = 2000
MAX_MOMENTS = 200  # per review
MAX_AT_MS = 6 * 3600 * 1000  # app.media.probe.MAX_SECONDS


@dataclass(frozen=True)
class MomentView:
    id: uuid.UUID
    artifact_id: uuid.UUID
    at_ms: int
    criterion_id: uuid.UUID | None
    criterion: str | None
    comment: str
    review_number: int | None = None  # "Review 1" for the earner; None for the reviewer

    @property
    def at_seconds(self) -> float:
        return self.at_ms / 1000

    @property
    def at_text(self) -> str:
        whole = self.at_ms // 1000
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

    def json(self) -> dict[str, object]:
        return {
            "moment_id": str(self.id),
            "artifact_id": str(self.artifact_id),
            "at_seconds": self.at_seconds,
            "criterion_id": str(self.criterion_id) if self.criterion_id else None,
            "criterion": self.criterion,
            "comment": self.comment,
            "review": self.review_number,
        }


async def _live_claim(
    session: AsyncSession, reviewer: User, task_id: uuid.UUID, lease_version: int
) -> ReviewTask:
    """The task row, locked, while this reviewer's claim under `lease_version` is live."""
    task = await session.get(ReviewTask, task_id, with_for_update=True)
    now = (await session.exec(select(func.now()))).one()
    if task is None or task.reviewer_id != reviewer.id:
        raise await lost_claim(session, reviewer, task_id)
    if task.lease_version != lease_version:
        raise ActionError("claim_gone", GONE, 409)
    if task.state != TaskState.claimed or (task.lease_expires_at or now) <= now:
        raise ActionError("claim_gone", GONE, 409)
    return task


async def add_moment(
    runtime: Runtime,
    reviewer: User,
    task_id: uuid.UUID,
    lease_version: int,
    *,
    artifact_id: uuid.UUID,
    at_seconds: float,
    criterion_id: uuid.UUID | None,
    comment: str,
) -> MomentView:
    """Pin a comment to a moment of one of the claimed packet's recordings."""
    text = comment.replace("\r\n", "\n").strip()
    if not text:
        raise ActionError("bad_moment", "Write a comment for this moment.", 422)
    if len(text) > MAX_COMMENT or "\x00" in text:
        raise ActionError("bad_moment", f"A comment has at most {MAX_COMMENT} characters.", 422)
    if not 0 <= at_seconds <= MAX_AT_MS / 1000:
        raise ActionError("bad_moment", "That moment is not in the recording.", 422)
    at_ms = round(at_seconds * 1000)
    async with runtime.sessions() as session:
        task = await _live_claim(session, reviewer, task_id, lease_version)
        artifact = await session.get(Artifact, artifact_id)
        if artifact is None or artifact.version_id != task.version_id:
            raise ActionError("bad_moment", "That recording is not part of this packet.", 422)
        if artifact.kind not in MEDIA_KINDS:
            raise ActionError("bad_moment", "Moments are for video and audio evidence.", 422)
        media = await session.get(MediaFile, artifact.sha256) if artifact.sha256 else None
        duration = (media.probe or {}).get("duration") if media is not None else None
        if isinstance(duration, int | float) and at_ms > round(duration * 1000) + 500:
            raise ActionError("bad_moment", "That moment is after the recording ends.", 422)
        version = await session.get(SubmissionVersion, task.version_id)
        assert version is not None and version.rubric_id is not None
        title = None
        if criterion_id is not None:
            _, criteria, _ = await rubric_levels(session, version.rubric_id)
            chosen = next((c for c in criteria if c.id == criterion_id), None)
            if chosen is None:
                raise ActionError("bad_moment", "That criterion is not in this rubric.", 422)
            title = chosen.title
        review = (await session.exec(select(Review).where(Review.task_id == task.id))).first()
        if review is None:
            review = Review(
                task_id=task.id,
                submission_id=task.submission_id,
                version_id=task.version_id,
                reviewer_id=reviewer.id,
                rubric_id=version.rubric_id,
                lease_version=lease_version,
            )
            session.add(review)
            await session.flush()
        count = (
            await session.exec(
                select(func.count())
                .select_from(ReviewMoment)
                .where(ReviewMoment.review_id == review.id)
            )
        ).one()
        if count >= MAX_MOMENTS:
            raise ActionError("too_many", f"A review holds at most {MAX_MOMENTS} moments.", 422)
        moment = ReviewMoment(
            review_id=review.id,
            artifact_id=artifact.id,
            at_ms=at_ms,
            criterion_id=criterion_id,
            comment=text,
        )
        session.add(moment)
        await session.commit()
    return MomentView(moment.id, artifact.id, at_ms, criterion_id, title, text)


async def delete_moment(
    runtime: Runtime, reviewer: User, task_id: uuid.UUID, lease_version: int, moment_id: uuid.UUID
) -> None:
    """Take a moment out of the draft; 404 unless it is in this claim's review."""
    async with runtime.sessions() as session:
        task = await _live_claim(session, reviewer, task_id, lease_version)
        row = (
            await session.exec(
                select(ReviewMoment)
                .join(Review, col(Review.id) == col(ReviewMoment.review_id))
                .where(col(ReviewMoment.id) == moment_id)
                .where(col(Review.task_id) == task.id)
            )
        ).first()
        if row is None:
            raise not_found("That moment")
        await session.delete(row)
        await session.commit()


async def moments_of_task(session: AsyncSession, task_id: uuid.UUID) -> list[MomentView]:
    """The moments of the review written under this task, in time order (the caller has
    checked that the task is the reviewer's own claim)."""
    return await _views(session, select(Review).where(Review.task_id == task_id), numbered=False)


async def moments_for_earner(session: AsyncSession, version_id: uuid.UUID) -> list[MomentView]:
    """The moments of the submitted reviews of one version, numbered as the feedback is
    ("Review 1", ...), never naming the reviewer (the caller has checked the earner)."""
    query = (
        select(Review)
        .where(Review.version_id == version_id)
        .where(Review.state == ReviewState.submitted)
        .order_by(col(Review.submitted_at), col(Review.id))
    )
    return await _views(session, query, numbered=True)


async def _views(
    session: AsyncSession, reviews_query: object, *, numbered: bool
) -> list[MomentView]:
    reviews = (await session.exec(reviews_query)).all()  # type: ignore[call-overload]
    if not reviews:
        return []
    number = {review.id: n for n, review in enumerate(reviews, start=1)}
    rows = (
        await session.exec(
            select(ReviewMoment, RubricCriterion.title)
            .outerjoin(RubricCriterion, col(RubricCriterion.id) == col(ReviewMoment.criterion_id))
            .where(col(ReviewMoment.review_id).in_(list(number)))
            .order_by(col(ReviewMoment.at_ms), col(ReviewMoment.created_at))
        )
    ).all()
    return [
        MomentView(
            m.id,
            m.artifact_id,
            m.at_ms,
            m.criterion_id,
            title,
            m.comment,
            number[m.review_id] if numbered else None,
        )
        for m, title in rows
    ]
