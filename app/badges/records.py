"""Everything one award's documents say, read from PostgreSQL in one place."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.actions.catalog import criteria_of, rubric_scale
from app.models import (
    Alignment,
    Award,
    Credential,
    Organisation,
    Outcome,
    Review,
    ReviewScore,
    Rubric,
    RubricCriterion,
    RubricLevel,
    Stack,
    StackItem,
    Submission,
    User,
)


@dataclass
class RubricRow:
    criterion: RubricCriterion
    levels: list[RubricLevel]


@dataclass
class StackPart:
    credential: Credential
    award: Award | None = None


@dataclass
class Achievement:
    """A credential or a stack, as its badge documents describe it."""

    organisation: Organisation
    credential: Credential | None
    stack: Stack | None
    alignments: list[Alignment] = field(default_factory=list)
    criteria_titles: list[str] = field(default_factory=list)
    rubric: list[RubricRow] = field(default_factory=list)
    # For a stack: its credentials in order (with the earner's award, in a BadgeRecord).
    parts: list[StackPart] = field(default_factory=list)
    # For a credential: the stacks it belongs to (CLR isPartOf).
    stacks: list[Stack] = field(default_factory=list)

    @property
    def id(self) -> uuid.UUID:
        return self.credential.id if self.credential else self.stack.id  # type: ignore[union-attr]

    @property
    def title(self) -> str:
        return self.credential.title if self.credential else self.stack.title  # type: ignore[union-attr]

    @property
    def description(self) -> str:
        if self.credential is not None:
            return self.credential.summary or self.credential.competency or self.credential.title
        assert self.stack is not None
        return self.stack.description or self.stack.title

    @property
    def badge_image(self) -> str | None:
        thing = self.credential or self.stack
        assert thing is not None
        return thing.badge_image

    @property
    def criteria_narrative(self) -> str:
        if self.stack is not None:
            names = ", ".join(part.credential.title for part in self.parts)
            return f"Earn every credential of the stack: {names}."
        assert self.credential is not None
        lines = []
        if self.credential.competency:
            lines.append(f"Competency: {self.credential.competency}")
        if self.criteria_titles:
            lines.append("Evidence submitted: " + "; ".join(self.criteria_titles) + ".")
        lines.append(
            "The evidence is scored against the published rubric by trained reviewers; "
            "every criterion must reach the passing level."
        )
        return "\n".join(lines)


@dataclass
class BadgeRecord:
    award: Award
    earner: User
    achievement: Achievement
    submission: Submission | None = None
    # The level the earner reached per rubric criterion (awards that came from a review).
    achieved: dict[uuid.UUID, RubricLevel] = field(default_factory=dict)

    @property
    def organisation(self) -> Organisation:
        return self.achievement.organisation

    @property
    def public_evidence(self) -> bool:
        return self.submission is not None and self.submission.privacy == "public"

    @property
    def shows_name(self) -> bool:
        """Blind-by-default evidence keeps the earner's name off public pages."""
        return self.submission is None or self.submission.privacy != "reviewers"


def recipient_hash(email: str, salt: str) -> str:
    """The Open Badges salted identity hash of a normalised email address."""
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()


async def load_achievement(
    session: AsyncSession, achievement_id: uuid.UUID, earner_id: uuid.UUID | None = None
) -> Achievement | None:
    """A credential or stack by id; with `earner_id`, a stack's parts carry their awards."""
    credential = await session.get(Credential, achievement_id)
    stack = None if credential is not None else await session.get(Stack, achievement_id)
    thing = credential or stack
    if thing is None:
        return None
    organisation = await session.get(Organisation, thing.organisation_id)
    assert organisation is not None
    result = Achievement(organisation, credential, stack)
    if credential is not None:
        result.alignments = list(
            (
                await session.exec(
                    select(Alignment)
                    .where(Alignment.credential_id == credential.id)
                    .order_by(col(Alignment.framework), col(Alignment.code))
                )
            ).all()
        )
        result.criteria_titles = [c.title for c in await criteria_of(session, credential.id)]
        result.stacks = list(
            (
                await session.exec(
                    select(Stack)
                    .join(StackItem, col(StackItem.stack_id) == col(Stack.id))
                    .where(StackItem.credential_id == credential.id)
                    .order_by(col(Stack.title))
                )
            ).all()
        )
        latest = (
            await session.exec(
                select(Rubric)
                .where(Rubric.credential_id == credential.id)
                .order_by(col(Rubric.version).desc())
            )
        ).first()
        if latest is not None:
            result.rubric = await _rubric_rows(session, latest.id)
        return result
    assert stack is not None
    rows = (
        await session.exec(
            select(Credential)
            .join(StackItem, col(StackItem.credential_id) == col(Credential.id))
            .where(StackItem.stack_id == stack.id)
            .order_by(col(StackItem.position))
        )
    ).all()
    held: dict[uuid.UUID, Award] = {}
    if earner_id is not None and rows:
        for award in (
            await session.exec(
                select(Award)
                .where(Award.user_id == earner_id)
                .where(col(Award.credential_id).in_([part.id for part in rows]))
                .where(col(Award.revoked_at).is_(None))
            )
        ).all():
            assert award.credential_id is not None
            held.setdefault(award.credential_id, award)
    result.parts = [StackPart(part, held.get(part.id)) for part in rows]
    return result


async def _rubric_rows(session: AsyncSession, rubric_id: uuid.UUID) -> list[RubricRow]:
    return [RubricRow(c, levels) for c, levels in await rubric_scale(session, rubric_id)]


async def load_record(session: AsyncSession, award_id: uuid.UUID) -> BadgeRecord | None:
    award = await session.get(Award, award_id)
    if award is None:
        return None
    earner = await session.get(User, award.user_id)
    assert earner is not None
    achievement_id = award.credential_id or award.stack_id
    assert achievement_id is not None
    achievement = await load_achievement(session, achievement_id, earner.id)
    assert achievement is not None
    record = BadgeRecord(award, earner, achievement)
    outcome = await session.get(Outcome, award.outcome_id) if award.outcome_id else None
    if outcome is None:
        return record
    record.submission = await session.get(Submission, outcome.submission_id)
    reviews = (
        await session.exec(
            select(Review)
            .where(Review.version_id == outcome.version_id)
            .where(Review.state == "submitted")
        )
    ).all()
    given: dict[uuid.UUID, list[RubricLevel]] = {}
    for review in reviews:
        if achievement.rubric and review.rubric_id != achievement.rubric[0].criterion.rubric_id:
            # The review used an older rubric version: describe that one.
            achievement.rubric = await _rubric_rows(session, review.rubric_id)
    scored = (
        await session.exec(
            select(ReviewScore, RubricLevel)
            .join(RubricLevel, col(RubricLevel.id) == col(ReviewScore.level_id))
            .where(col(ReviewScore.review_id).in_([review.id for review in reviews]))
        )
    ).all()
    for score, level in scored:
        given.setdefault(score.criterion_id, []).append(level)
    # Reviewers may differ; the badge claims only the level every reviewer granted.
    record.achieved = {
        criterion_id: min(levels, key=lambda level: level.position)
        for criterion_id, levels in given.items()
    }
    return record
