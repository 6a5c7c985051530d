"""Reviews as the earner reads them: per criterion, the rubric level's label and the comment,
never the reviewer (review is blind both ways); and each version's outcome, appeal and badge."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import (
    Appeal,
    Award,
    Decision,
    Outcome,
    Review,
    ReviewMoment,
    ReviewScore,
    ReviewState,
    RubricCriterion,
    RubricLevel,
)

DECISION_LABEL = {Decision.passed: "Passed", Decision.not_yet: "Not yet"}
RECOMMENDATION_LABEL = {"pass": "Pass", "not_yet": "Not yet"}


@dataclass(frozen=True)
class Score:
    criterion: str
    level: str
    points: int
    comment: str


@dataclass(frozen=True)
class Moment:
    at_text: str
    criterion: str | None
    comment: str
    url: str  # the recording's page, opening at the moment


@dataclass(frozen=True)
class Feedback:
    """One completed review, anonymous: "Review 1", its recommendation, scores, comments."""

    number: int
    recommendation: str
    overall: str
    scores: list[Score]
    # For the "rate this feedback" link (app/views/ratings.py).
    review_id: uuid.UUID | None = None
    # Timestamped comments on the earner's recordings (issue 19), in time order.
    moments: list[Moment] = field(default_factory=list)


@dataclass(frozen=True)
class OutcomeView:
    decision: str
    label: str
    rule: str
    award_id: uuid.UUID | None
    award_revoked: bool
    appeal: Appeal | None


async def feedback_by_version(
    session: AsyncSession, version_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Feedback]]:
    """Submitted reviews per version, with criterion titles and level labels resolved."""
    reviews = (
        await session.exec(
            select(Review)
            .where(col(Review.version_id).in_(version_ids))
            .where(Review.state == ReviewState.submitted)
            .order_by(col(Review.submitted_at), col(Review.id))
        )
    ).all()
    scores = (
        await session.exec(
            select(ReviewScore).where(col(ReviewScore.review_id).in_([r.id for r in reviews]))
        )
    ).all()
    criteria = {
        c.id: c
        for c in (
            await session.exec(
                select(RubricCriterion).where(
                    col(RubricCriterion.id).in_({s.criterion_id for s in scores})
                )
            )
        ).all()
    }
    levels = {
        level.id: level
        for level in (
            await session.exec(
                select(RubricLevel).where(col(RubricLevel.id).in_({s.level_id for s in scores}))
            )
        ).all()
    }
    marked = (
        await session.exec(
            select(ReviewMoment, RubricCriterion.title)
            .outerjoin(RubricCriterion, col(RubricCriterion.id) == col(ReviewMoment.criterion_id))
            .where(col(ReviewMoment.review_id).in_([r.id for r in reviews]))
            .order_by(col(ReviewMoment.at_ms))
        )
    ).all()
    out: dict[uuid.UUID, list[Feedback]] = {}
    for review in reviews:
        mine = sorted(
            (s for s in scores if s.review_id == review.id),
            key=lambda s: criteria[s.criterion_id].position,
        )
        listed = out.setdefault(review.version_id, [])
        listed.append(
            Feedback(
                number=len(listed) + 1,
                recommendation=RECOMMENDATION_LABEL.get(
                    review.recommendation or "", review.recommendation or ""
                ),
                overall=review.feedback,
                scores=[
                    Score(
                        criteria[s.criterion_id].title,
                        levels[s.level_id].label,
                        levels[s.level_id].points,
                        s.comment,
                    )
                    for s in mine
                ],
                review_id=review.id,
                moments=[
                    Moment(
                        at_text=_clock(moment.at_ms // 1000),
                        criterion=title,
                        comment=moment.comment,
                        url=f"/submissions/{review.submission_id}/recordings/"
                        f"{moment.artifact_id}?t={moment.at_ms / 1000:g}",
                    )
                    for moment, title in marked
                    if moment.review_id == review.id
                ],
            )
        )
    return out


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


async def outcomes_by_version(
    session: AsyncSession, version_ids: list[uuid.UUID]
) -> dict[uuid.UUID, OutcomeView]:
    """Each version's outcome, with its appeal and the badge it awarded."""
    outcomes = (
        await session.exec(select(Outcome).where(col(Outcome.version_id).in_(version_ids)))
    ).all()
    outcome_ids = [o.id for o in outcomes]
    appeals = {
        a.outcome_id: a
        for a in (
            await session.exec(select(Appeal).where(col(Appeal.outcome_id).in_(outcome_ids)))
        ).all()
    }
    awards = {
        a.outcome_id: a
        for a in (
            await session.exec(
                select(Award)
                .where(col(Award.outcome_id).in_(outcome_ids))
                .where(col(Award.credential_id).is_not(None))
            )
        ).all()
    }
    return {
        o.version_id: OutcomeView(
            decision=o.decision,
            label=DECISION_LABEL.get(Decision(o.decision), o.decision),
            rule=o.rule,
            award_id=awards[o.id].id if o.id in awards else None,
            award_revoked=o.id in awards and awards[o.id].revoked_at is not None,
            appeal=appeals.get(o.id),
        )
        for o in outcomes
    }
