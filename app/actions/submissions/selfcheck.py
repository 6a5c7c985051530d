"""The self-check before submit: the submission criteria as a checklist, with what MCX can
see wrong before a reviewer does (a required artifact missing, a reflection under its word
minimum, media that will not open, a link that does not answer), and the earner's own rating
of the packet against the rubric (shown to reviewers only if the earner opts in)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import evidence
from app.actions.catalog import criteria_of
from app.actions.submissions.drafts import word_count
from app.actions.submissions.packet import editable_packet
from app.errors import ActionError
from app.links import link_problem
from app.models import (
    Artifact,
    ArtifactKind,
    RubricCriterion,
    RubricLevel,
    SelfAssessment,
    Submission,
    SubmissionCriterion,
    User,
)
from app.runtime import Runtime


@dataclass
class Item:
    """One criterion on the checklist; `blocking` problems stop the submit."""

    criterion_id: uuid.UUID
    title: str
    kind: str
    required: bool
    present: bool
    blocking: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.present and not self.blocking and not self.warnings


@dataclass
class Checklist:
    items: list[Item]

    @property
    def blocking(self) -> list[str]:
        return [f"'{i.title}': {p}" for i in self.items for p in i.blocking]

    @property
    def ready(self) -> bool:
        return not self.blocking


def _range(criterion: SubmissionCriterion) -> str:
    """The word range as the earner is asked for it."""
    low, high = criterion.min_words, criterion.max_words
    if low and high:
        return f"write {low}–{high} words"
    return f"write at least {low} words" if low else f"write at most {high} words"


def _packet_problems(
    criteria: list[SubmissionCriterion], artifacts: dict[uuid.UUID, Artifact]
) -> list[Item]:
    """What can be told from the database alone (the submit action enforces these too)."""
    items = []
    for criterion in criteria:
        artifact = artifacts.get(criterion.id)
        item = Item(
            criterion.id, criterion.title, criterion.kind, criterion.required, artifact is not None
        )
        if artifact is None:
            if criterion.required:
                item.blocking.append("required, and not added yet")
        elif criterion.kind == ArtifactKind.reflection:
            words = word_count(artifact.body or "")
            if criterion.min_words and words < criterion.min_words:
                item.blocking.append(f"{words} words; {_range(criterion)}")
            elif criterion.max_words and words > criterion.max_words:
                item.blocking.append(f"{words} words; {_range(criterion)}")
        items.append(item)
    return items


async def packet_problems(
    session: AsyncSession, submission: Submission, version_id: uuid.UUID
) -> Checklist:
    criteria = await criteria_of(session, submission.credential_id)
    artifacts = {
        a.criterion_id: a
        for a in (await session.exec(select(Artifact).where(Artifact.version_id == version_id)))
    }
    return Checklist(_packet_problems(list(criteria), artifacts))


async def self_check(runtime: Runtime, earner: User, submission_id: uuid.UUID) -> Checklist:
    """The whole checklist, files and links included (those take a moment)."""
    async with runtime.sessions() as session:
        submission, version = await editable_packet(session, earner, submission_id)
        criteria = list(await criteria_of(session, submission.credential_id))
        artifacts = {
            a.criterion_id: a
            for a in (await session.exec(select(Artifact).where(Artifact.version_id == version.id)))
        }
        await session.commit()  # editable_packet locked the row; nothing is written
    items = _packet_problems(criteria, artifacts)

    async def deeper(item: Item) -> None:
        artifact = artifacts.get(item.criterion_id)
        if artifact is None:
            return
        if artifact.sha256:
            problem = await evidence.check_stored_async(
                evidence.path_for(runtime.settings.uploads_dir, artifact.sha256),
                sha256=artifact.sha256,
                size=artifact.size_bytes or 0,
                media_type=artifact.media_type,
            )
            if problem:
                item.blocking.append(f"{artifact.filename or 'the file'} will not open: {problem}")
        elif artifact.url:
            problem = await link_problem(artifact.url, runtime.settings)
            if problem:
                # A warning, not a refusal: a link may open for reviewers (a school's own
                # network, say) where MCX cannot check it.
                item.warnings.append(problem)

    await asyncio.gather(*(deeper(item) for item in items))
    return Checklist(items)


async def save_self_assessment(
    session: AsyncSession,
    earner: User,
    submission_id: uuid.UUID,
    levels: dict[uuid.UUID, uuid.UUID],
    *,
    shared: bool,
) -> int:
    """The earner's level per rubric criterion of the packet's rubric; replaces earlier
    ratings of this version. Returns how many criteria were rated."""
    submission, version = await editable_packet(session, earner, submission_id)
    allowed = {
        (c, lv)
        for c, lv in (
            await session.exec(
                select(RubricCriterion.id, RubricLevel.id)
                .join(RubricLevel, col(RubricLevel.criterion_id) == col(RubricCriterion.id))
                .where(RubricCriterion.rubric_id == version.rubric_id)
            )
        ).all()
    }
    for pair in levels.items():
        if pair not in allowed:
            raise ActionError(
                "bad_level", "Pick one of the rubric's levels for each criterion.", 422
            )
    for old in (
        await session.exec(select(SelfAssessment).where(SelfAssessment.version_id == version.id))
    ).all():
        await session.delete(old)
    await session.flush()
    now = datetime.now(UTC)
    for criterion_id, level_id in levels.items():
        session.add(
            SelfAssessment(
                version_id=version.id,
                criterion_id=criterion_id,
                level_id=level_id,
                shared=shared,
                updated_at=now,
            )
        )
    submission.updated_at = now
    session.add(submission)
    await session.commit()
    return len(levels)


async def self_assessment_of(
    session: AsyncSession, version_id: uuid.UUID, *, shared_only: bool
) -> list[tuple[str, str]]:
    """(rubric criterion, level label) of a version's self-assessment, in rubric order; with
    `shared_only`, nothing unless the earner opted in (what reviewers see)."""
    rows = (
        await session.exec(
            select(RubricCriterion.title, RubricLevel.label, SelfAssessment.shared)
            .join(RubricCriterion, col(RubricCriterion.id) == col(SelfAssessment.criterion_id))
            .join(RubricLevel, col(RubricLevel.id) == col(SelfAssessment.level_id))
            .where(SelfAssessment.version_id == version_id)
            .order_by(col(RubricCriterion.position))
        )
    ).all()
    if shared_only and not all(shared for _, _, shared in rows):
        return []
    return [(title, label) for title, label, _ in rows]
