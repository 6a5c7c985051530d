"""Credential ratings, the read side: who may rate (earners who finished), the summary shown on
the catalogue and the credential page (averages, counts, distribution, only from
MIN_RATINGS on, so one voice is never a verdict), and the ratings' public view.
Writes live in app/actions/ratings.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import (
    Credential,
    CredentialRating,
    Organisation,
    Submission,
    SubmissionState,
    SubmissionVersion,
    User,
)

MIN_RATINGS = 3
DIMENSIONS = {
    "clarity": "Clarity",
    "relevance": "Relevance to practice",
    "workload": "Fair workload",
    "feedback": "Feedback received",
}


@dataclass
class Summary:
    """The ratings of one credential: shown only when `shown` (count >= MIN_RATINGS)."""

    count: int = 0
    averages: dict[str, float] = field(default_factory=dict)
    overall: float | None = None
    # Overall stars rounded to the nearest whole star -> how many ratings (5 first).
    distribution: dict[int, int] = field(default_factory=dict)

    @property
    def shown(self) -> bool:
        return self.count >= MIN_RATINGS

    @property
    def needed(self) -> int:
        return max(0, MIN_RATINGS - self.count)

    def as_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "minimum": MIN_RATINGS,
            "shown": self.shown,
            "overall": round(self.overall, 2) if self.shown and self.overall is not None else None,
            "averages": (
                {k: round(v, 2) for k, v in self.averages.items()} if self.shown else None
            ),
            "distribution": (
                {str(k): v for k, v in self.distribution.items()} if self.shown else None
            ),
        }


def overall_of(rating: CredentialRating) -> float:
    return (rating.clarity + rating.relevance + rating.workload + rating.feedback) / 4


def _summary(rows: list[CredentialRating]) -> Summary:
    if not rows:
        return Summary()
    averages = {k: sum(getattr(r, k) for r in rows) / len(rows) for k in DIMENSIONS}
    distribution = dict.fromkeys(range(5, 0, -1), 0)
    for r in rows:
        # Half a star rounds up (3.5 -> 4): int(x + 0.5), not banker's rounding.
        distribution[int(overall_of(r) + 0.5)] += 1
    return Summary(len(rows), averages, sum(averages.values()) / len(averages), distribution)


async def summaries(
    session: AsyncSession, credential_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Summary]:
    """The summary of each credential (an empty one when it has no ratings)."""
    rows = (
        await session.exec(
            select(CredentialRating).where(col(CredentialRating.credential_id).in_(credential_ids))
        )
    ).all()
    grouped: dict[uuid.UUID, list[CredentialRating]] = {i: [] for i in credential_ids}
    for row in rows:
        grouped[row.credential_id].append(row)
    return {i: _summary(r) for i, r in grouped.items()}


def overall_column() -> Any:
    """SQL: the average overall stars per credential and the count, for sorting."""
    stars = (
        col(CredentialRating.clarity)
        + col(CredentialRating.relevance)
        + col(CredentialRating.workload)
        + col(CredentialRating.feedback)
    ) / 4.0
    return (
        select(
            col(CredentialRating.credential_id).label("credential_id"),
            func.avg(stars).label("stars"),
            func.count().label("n"),
        )
        .group_by(col(CredentialRating.credential_id))
        .subquery()
    )


async def has_finished(session: AsyncSession, user: User, credential: Credential) -> bool:
    """Passed, or used up the attempts (the last "not yet" on the final version)."""
    rows = (
        await session.exec(
            select(Submission.state, func.count(col(SubmissionVersion.id)))
            .join(SubmissionVersion, col(SubmissionVersion.submission_id) == col(Submission.id))
            .where(Submission.earner_id == user.id)
            .where(Submission.credential_id == credential.id)
            .where(col(SubmissionVersion.submitted_at).is_not(None))
            .group_by(col(Submission.id), col(Submission.state))
        )
    ).all()
    return any(
        state == SubmissionState.passed
        or (state == SubmissionState.not_yet and versions >= credential.max_attempts)
        for state, versions in rows
    )


def public_json(rating: CredentialRating, *, moderator: bool = False) -> dict[str, Any]:
    """A rating as others see it: the text only when not hidden (coordinators see it all)."""
    hidden = rating.hidden_at is not None
    return {
        "id": str(rating.id),
        "stars": {k: getattr(rating, k) for k in DIMENSIONS},
        "overall": overall_of(rating),
        "text": rating.text if moderator or not hidden else None,
        "hidden": hidden,
        "flagged": rating.flagged_at is not None,
        "created_at": rating.created_at.isoformat(),
        "answer": rating.answer,
        "answered_at": rating.answered_at.isoformat() if rating.answered_at else None,
    }


async def ratings_of(session: AsyncSession, credential_id: uuid.UUID) -> list[CredentialRating]:
    """Every rating of the credential, newest first."""
    return list(
        (
            await session.exec(
                select(CredentialRating)
                .where(CredentialRating.credential_id == credential_id)
                .order_by(col(CredentialRating.created_at).desc(), col(CredentialRating.id))
                .limit(500)
            )
        ).all()
    )


async def flagged_ratings(
    session: AsyncSession, credential_ids: list[uuid.UUID]
) -> list[tuple[CredentialRating, Credential, str]]:
    """Ratings of these credentials flagged and not yet decided, oldest flag first, with the
    credential and its issuer's slug (for the link to the rating)."""
    rows = await session.exec(
        select(CredentialRating, Credential, Organisation.slug)
        .join(Credential, col(Credential.id) == col(CredentialRating.credential_id))
        .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
        .where(col(CredentialRating.credential_id).in_(credential_ids))
        .where(col(CredentialRating.flagged_at).is_not(None))
        .where(col(CredentialRating.moderated_at).is_(None))
        .order_by(col(CredentialRating.flagged_at))
    )
    return list(rows.all())
