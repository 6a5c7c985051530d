"""The claimed task as its page shows it (evidence, rubric, the review so far), and the
review form read back into what app.actions.reviews expects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access
from app.actions import reviews
from app.errors import ActionError
from app.models import (
    Artifact,
    Credential,
    Review,
    ReviewScore,
    ReviewTask,
    Rubric,
    SubmissionCriterion,
    User,
)

LEVEL_FIELD = "level-"
COMMENT_FIELD = "comment-"
# lease_version is an integer column; anything outside it cannot name a claim.
MAX_LEASE_VERSION = 2**31 - 1


@dataclass(frozen=True)
class Evidence:
    """One artifact, with what its viewer needs; files come from the access-checked API."""

    artifact_id: uuid.UUID
    criterion: str
    kind: str
    filename: str | None
    media_type: str | None
    url: str | None
    text: str | None
    stored: bool

    @property
    def file_url(self) -> str:
        return f"/api/v1/artifacts/{self.artifact_id}"

    @property
    def is_pdf(self) -> bool:
        return self.media_type == "application/pdf"


@dataclass(frozen=True)
class Level:
    id: uuid.UUID
    position: int
    label: str
    points: int
    descriptor: str


@dataclass(frozen=True)
class Criterion:
    id: uuid.UUID
    title: str
    description: str
    levels: list[Level]


@dataclass
class Values:
    """What the form holds, keyed by criterion id (text): from the saved draft, or exactly
    as the reviewer just posted it, so a refused submit loses nothing they typed."""

    levels: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    feedback: str = ""


@dataclass(frozen=True)
class Sheet:
    task: ReviewTask
    credential: Credential
    evidence: list[Evidence]
    rubric: Rubric
    criteria: list[Criterion]
    values: Values
    saved_at: datetime | None

    @property
    def max_points(self) -> int:
        return sum(max((lv.points for lv in c.levels), default=0) for c in self.criteria)


async def load_sheet(session: AsyncSession, user: User, task_id: uuid.UUID) -> Sheet:
    """Everything the task page shows, in a fixed handful of queries (no per-row lookups)."""
    task, version, credential = await access.access_claim(session, user, task_id)
    assert version.rubric_id is not None
    artifacts = (
        await session.exec(
            select(Artifact, SubmissionCriterion)
            .join(SubmissionCriterion, col(SubmissionCriterion.id) == col(Artifact.criterion_id))
            .where(Artifact.version_id == task.version_id)
            .order_by(col(SubmissionCriterion.position), col(Artifact.created_at))
        )
    ).all()
    rubric, criteria, levels = await reviews.rubric_levels(session, version.rubric_id)
    draft = (await session.exec(select(Review).where(Review.task_id == task.id))).first()
    values = Values(feedback=draft.feedback if draft else "")
    if draft is not None:
        scores = (
            await session.exec(select(ReviewScore).where(ReviewScore.review_id == draft.id))
        ).all()
        for score in scores:
            values.levels[str(score.criterion_id)] = str(score.level_id)
            values.comments[str(score.criterion_id)] = score.comment
    return Sheet(
        task=task,
        credential=credential,
        evidence=[
            Evidence(
                artifact_id=a.id,
                criterion=c.title,
                kind=a.kind,
                filename=a.filename,
                media_type=a.media_type,
                url=a.url,
                text=a.body,
                stored=a.sha256 is not None,
            )
            for a, c in artifacts
        ],
        rubric=rubric,
        criteria=[
            Criterion(
                id=c.id,
                title=c.title,
                description=c.description,
                levels=[
                    Level(lv.id, lv.position, lv.label, lv.points, lv.descriptor)
                    for lv in sorted(
                        (lv for lv in levels.values() if lv.criterion_id == c.id),
                        key=lambda lv: lv.position,
                    )
                ],
            )
            for c in criteria
        ],
        values=values,
        saved_at=draft.updated_at if draft else None,
    )


def lease_version_of(form: dict[str, str]) -> int:
    """The claim the form was written under; anything unreadable names no claim (-1), so the
    action refuses it with its usual "no longer yours"."""
    try:
        version = int(form.get("lease_version", ""))
    except ValueError:
        return -1
    return version if 0 <= version <= MAX_LEASE_VERSION else -1


@dataclass
class Posted:
    """The review form, read: scores for the action, and the values to show again."""

    lease_version: int
    scores: list[reviews.ScoreInput]
    feedback: str
    values: Values
    # A comment is stored with its criterion's level; these had text but no level yet.
    unsaved_comments: int = 0


def _uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ActionError(
            "bad_score", "A score names a criterion or level not in this rubric.", 422
        ) from None


def read_values(form: dict[str, str]) -> Values:
    """The posted values as typed, not yet judged (also for showing a refused form again)."""
    values = Values(feedback=form.get("feedback", ""))
    for key, value in form.items():
        if key.startswith(LEVEL_FIELD) and value:
            values.levels[key.removeprefix(LEVEL_FIELD)] = value
        elif key.startswith(COMMENT_FIELD):
            values.comments[key.removeprefix(COMMENT_FIELD)] = value
    return values


def read_review_form(form: dict[str, str]) -> Posted:
    """`level-<criterion>` radios and `comment-<criterion>` boxes, plus `feedback`.

    Only shape is checked here; app.actions.reviews decides whether the ids belong to the
    rubric, and whether the review is complete enough to submit.
    """
    values = read_values(form)
    scores = [
        reviews.ScoreInput(_uuid(criterion), _uuid(level), values.comments.get(criterion, ""))
        for criterion, level in values.levels.items()
    ]
    unsaved = sum(
        1
        for criterion, text in values.comments.items()
        if text.strip() and criterion not in values.levels
    )
    return Posted(lease_version_of(form), scores, values.feedback, values, unsaved)
