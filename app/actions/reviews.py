"""Writing a review under a claim: drafts, and the final submit that completes the task.

Every write names the claim's lease_version; PostgreSQL locks the task row and checks the
holder, the version and the deadline in the same transaction, so a write after the lease
ended (or on a claim that moved on) is refused and never lands on someone else's claim.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import events, queue
from app.actions import catalog, known_answers
from app.actions.outcomes import decide_outcome
from app.errors import ActionError
from app.models import (
    Credential,
    Decision,
    Review,
    ReviewScore,
    ReviewState,
    ReviewTask,
    Rubric,
    RubricCriterion,
    RubricLevel,
    Submission,
    SubmissionVersion,
    TaskState,
    User,
)
from app.queue import GONE
from app.runtime import Runtime

MAX_COMMENT = 5000
MAX_FEEDBACK = 20000


@dataclass
class ScoreInput:
    criterion_id: uuid.UUID
    level_id: uuid.UUID
    comment: str = ""


async def rubric_levels(
    session: AsyncSession, rubric_id: uuid.UUID
) -> tuple[Rubric, list[RubricCriterion], dict[uuid.UUID, RubricLevel]]:
    rubric = await session.get(Rubric, rubric_id)
    assert rubric is not None
    scale = await catalog.rubric_scale(session, rubric_id)
    levels = {level.id: level for _, row in scale for level in row}
    return rubric, [criterion for criterion, _ in scale], levels


def verdict(rubric: Rubric, chosen: list[RubricLevel]) -> Decision:
    """The rubric's passing rule: every criterion at or above min_level, and the point total."""
    if any(level.position < rubric.min_level for level in chosen):
        return Decision.not_yet
    if rubric.min_points is not None and sum(level.points for level in chosen) < rubric.min_points:
        return Decision.not_yet
    return Decision.passed


async def write_review(
    runtime: Runtime,
    reviewer: User,
    task_id: uuid.UUID,
    lease_version: int,
    scores: list[ScoreInput],
    feedback: str,
    *,
    final: bool,
) -> Review:
    """Save a draft, or submit (final) the review of a claimed task."""
    if len(feedback) > MAX_FEEDBACK or any(len(s.comment) > MAX_COMMENT for s in scores):
        raise ActionError("too_long", "Feedback or a comment is too long.", 422)
    async with runtime.sessions() as session:
        task = await session.get(ReviewTask, task_id, with_for_update=True)
        # PostgreSQL's clock set the deadline, so PostgreSQL's clock judges it: a web process
        # whose clock is off would cut leases short or stretch them.
        now = (await session.exec(select(func.now()))).one()
        if task is None or task.reviewer_id != reviewer.id:
            raise await queue.lost_claim(session, reviewer, task_id)
        if task.lease_version != lease_version:
            raise ActionError("claim_gone", GONE, 409)
        existing = (await session.exec(select(Review).where(Review.task_id == task.id))).first()
        if task.state == TaskState.completed and existing is not None and final:
            # A double tap on submit: the first one landed; answer with it.
            return existing
        if task.state != TaskState.claimed or (task.lease_expires_at or now) <= now:
            raise ActionError("claim_gone", GONE, 409)
        version = await session.get(SubmissionVersion, task.version_id)
        assert version is not None and version.rubric_id is not None
        rubric, criteria, levels = await rubric_levels(session, version.rubric_id)
        criterion_ids = {c.id for c in criteria}
        by_criterion: dict[uuid.UUID, ScoreInput] = {}
        for score in scores:
            level = levels.get(score.level_id)
            if score.criterion_id not in criterion_ids or level is None:
                raise ActionError(
                    "bad_score", "A score names a criterion or level not in this rubric.", 422
                )
            if level.criterion_id != score.criterion_id:
                raise ActionError("bad_score", "A level was given for the wrong criterion.", 422)
            by_criterion[score.criterion_id] = score
        if final:
            unscored = [c.title for c in criteria if c.id not in by_criterion]
            if unscored:
                raise ActionError(
                    "incomplete", "Score every criterion first: " + "; ".join(unscored) + ".", 422
                )
            if not feedback.strip():
                raise ActionError("incomplete", "Write overall feedback for the earner.", 422)
        review = existing or Review(
            task_id=task.id,
            submission_id=task.submission_id,
            version_id=task.version_id,
            reviewer_id=reviewer.id,
            rubric_id=rubric.id,
            lease_version=lease_version,
        )
        review.feedback = feedback.strip()
        review.updated_at = now
        session.add(review)
        await session.flush()
        old_scores = (
            await session.exec(select(ReviewScore).where(ReviewScore.review_id == review.id))
        ).all()
        for old in old_scores:
            await session.delete(old)
        await session.flush()
        for score in by_criterion.values():
            session.add(
                ReviewScore(
                    review_id=review.id,
                    criterion_id=score.criterion_id,
                    level_id=score.level_id,
                    comment=score.comment.strip(),
                )
            )
        if final:
            review.state = ReviewState.submitted
            review.recommendation = verdict(
                rubric, [levels[s.level_id] for s in by_criterion.values()]
            )
            review.submitted_at = now
            task.state = TaskState.completed
            task.completed_at = now
            session.add_all([review, task])
        await session.commit()
        submission = await session.get(Submission, task.submission_id)
        assert submission is not None
    if final:
        async with runtime.sessions() as session:
            example = await known_answers.example_of_submission(session, task.submission_id)
        if example is not None:
            # A known-answer check: graded for the reviewer's trust; no earner, no outcome.
            await known_answers.record_known_answer(runtime, example, reviewer.id, task.id)
            return review
        await queue.drop(runtime, queue.PoolKey(submission.credential_id, task.pool), task.id)
        async with runtime.sessions() as session:
            credential = await session.get(Credential, submission.credential_id)
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            submission.earner_id,
            "review.received",
            {
                "submission_id": str(submission.id),
                "credential": credential.title if credential else "",
            },
        )
        await decide_outcome(runtime, task.version_id)
    return review
