"""Calibration examples and reviewers' attempts at them, on the calibration page (the gate
before a credential's tasks become claimable) and as known-answer checks in the live queue.

An example's evidence is stored as a hidden submission held by an inactive per-organisation
"calibration samples" account, in the `withdrawn` state: a withdrawn submission takes no
pilot spot, is nobody's live pursuit and never gets an outcome, which is exactly what a
sample must be; and a known-answer task on it renders exactly like real work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access
from app.actions import trust
from app.actions.policy import policy_for
from app.actions.submissions import latest_rubric
from app.errors import ActionError, not_found
from app.models import (
    Artifact,
    ArtifactKind,
    AttemptKind,
    AuditEntry,
    CalibrationAttempt,
    CalibrationExample,
    CalibrationReference,
    Organisation,
    QualityPolicy,
    ReviewerStanding,
    RubricCriterion,
    RubricLevel,
    Submission,
    SubmissionCriterion,
    SubmissionState,
    SubmissionVersion,
    User,
)
from app.runtime import Runtime

MAX_EVIDENCE = 20000
MAX_EXPLANATION = 5000


@dataclass
class Reference:
    criterion_id: uuid.UUID
    level_id: uuid.UUID
    explanation: str


async def _sample_holder(session: AsyncSession, organisation_id: uuid.UUID) -> User:
    """The organisation's inactive account that holds calibration samples (never logs in)."""
    organisation = await session.get(Organisation, organisation_id)
    assert organisation is not None
    email = f"calibration-samples@{organisation.slug}.mcx.invalid"
    holder = (await session.exec(select(User).where(User.email == email))).first()
    if holder is None:
        # "!" is no hash any password matches, and an inactive account cannot log in anyway.
        holder = User(
            email=email,
            name=f"{organisation.name} samples",
            password_hash="!",  # noqa: S106
            is_active=False,
        )
        session.add(holder)
        await session.flush()
    return holder


async def add_example(
    runtime: Runtime,
    coordinator: User,
    credential_id: uuid.UUID,
    title: str,
    evidence: str,
    references: list[Reference],
) -> CalibrationExample:
    """Sample evidence with the expert's level and explanation for every criterion of the
    credential's current rubric. Anything missing or foreign is refused, naming it."""
    title, evidence = title.strip(), evidence.strip()
    async with runtime.sessions() as session:
        credential = await access.managed_credential(session, coordinator, credential_id)
        if not 1 <= len(title) <= 200:
            raise ActionError(
                "bad_example", "Give the example a title (up to 200 characters).", 422
            )
        if not 1 <= len(evidence) <= MAX_EVIDENCE:
            raise ActionError(
                "bad_example", f"Write the sample evidence (up to {MAX_EVIDENCE} characters).", 422
            )
        rubric = await latest_rubric(session, credential.id)
        if rubric is None:
            raise ActionError("no_rubric", "This credential has no rubric yet.", 409)
        criteria = (
            await session.exec(
                select(RubricCriterion)
                .where(RubricCriterion.rubric_id == rubric.id)
                .order_by(col(RubricCriterion.position))
            )
        ).all()
        levels = {
            lv.id: lv
            for lv in (
                await session.exec(
                    select(RubricLevel).where(
                        col(RubricLevel.criterion_id).in_([c.id for c in criteria])
                    )
                )
            ).all()
        }
        given = {ref.criterion_id: ref for ref in references}
        for criterion in criteria:
            ref = given.get(criterion.id)
            if ref is None or ref.level_id not in levels:
                raise ActionError(
                    "bad_example", f"Choose the reference level for “{criterion.title}”.", 422
                )
            if levels[ref.level_id].criterion_id != criterion.id:
                raise ActionError("bad_example", "A level was given for the wrong criterion.", 422)
            if not 1 <= len(ref.explanation.strip()) <= MAX_EXPLANATION:
                raise ActionError(
                    "bad_example", f"Explain the reference level for “{criterion.title}”.", 422
                )
        if set(given) - {c.id for c in criteria}:
            raise ActionError(
                "bad_example", "A reference names a criterion not in the rubric.", 422
            )
        slots = (
            await session.exec(
                select(SubmissionCriterion)
                .where(SubmissionCriterion.credential_id == credential.id)
                .order_by(col(SubmissionCriterion.position))
            )
        ).all()
        if not slots:
            raise ActionError("no_criteria", "This credential asks for no evidence yet.", 409)
        slot = next((s for s in slots if s.kind == ArtifactKind.reflection), slots[0])
        holder = await _sample_holder(session, credential.organisation_id)
        now = datetime.now(UTC)
        submission = Submission(
            credential_id=credential.id, earner_id=holder.id, state=SubmissionState.withdrawn
        )
        session.add(submission)
        await session.flush()
        version = SubmissionVersion(
            submission_id=submission.id, number=1, rubric_id=rubric.id, submitted_at=now
        )
        session.add(version)
        await session.flush()
        session.add(
            Artifact(
                version_id=version.id,
                criterion_id=slot.id,
                kind=ArtifactKind.reflection,
                body=evidence,
            )
        )
        example = CalibrationExample(
            credential_id=credential.id,
            rubric_id=rubric.id,
            submission_id=submission.id,
            version_id=version.id,
            title=title,
            created_by_id=coordinator.id,
        )
        session.add(example)
        await session.flush()
        for criterion in criteria:
            ref = given[criterion.id]
            session.add(
                CalibrationReference(
                    example_id=example.id,
                    criterion_id=criterion.id,
                    level_id=ref.level_id,
                    explanation=ref.explanation.strip(),
                )
            )
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="quality.example_added",
                subject_type="credential",
                subject_id=str(credential.id),
                data={"example_id": str(example.id)},
            )
        )
        await session.commit()
        await session.refresh(example)
    return example


async def next_example(
    session: AsyncSession, reviewer: User, credential_id: uuid.UUID
) -> CalibrationExample | None:
    """An active example this reviewer has not yet scored, oldest first."""
    return (
        await session.exec(
            select(CalibrationExample)
            .where(CalibrationExample.credential_id == credential_id)
            .where(col(CalibrationExample.retired_at).is_(None))
            .where(
                col(CalibrationExample.id).not_in(
                    select(CalibrationAttempt.example_id).where(
                        CalibrationAttempt.reviewer_id == reviewer.id
                    )
                )
            )
            .order_by(col(CalibrationExample.created_at), col(CalibrationExample.id))
            .limit(1)
        )
    ).first()


async def grade(
    session: AsyncSession,
    example: CalibrationExample,
    policy: QualityPolicy,
    chosen: dict[uuid.UUID, uuid.UUID],
) -> tuple[dict[str, dict[str, object]], float, bool]:
    """Per criterion: the level given, the reference, and whether it is within tolerance."""
    refs = (
        await session.exec(
            select(CalibrationReference, RubricLevel)
            .join(RubricLevel, col(RubricLevel.id) == col(CalibrationReference.level_id))
            .where(CalibrationReference.example_id == example.id)
        )
    ).all()
    levels = {
        lv.id: lv
        for lv in (
            await session.exec(
                select(RubricLevel).where(
                    col(RubricLevel.criterion_id).in_([r.criterion_id for r, _ in refs])
                )
            )
        ).all()
    }
    graded: dict[str, dict[str, object]] = {}
    for ref, reference in refs:
        level = levels.get(chosen.get(ref.criterion_id, uuid.UUID(int=0)))
        if level is None or level.criterion_id != ref.criterion_id:
            raise ActionError("incomplete", "Score every criterion with one of its levels.", 422)
        hit = abs(level.position - reference.position) <= policy.calibration_tolerance
        graded[str(ref.criterion_id)] = {
            "level": level.position,
            "reference": reference.position,
            "hit": hit,
        }
    if set(chosen) - {r.criterion_id for r, _ in refs}:
        raise ActionError("bad_score", "A score names a criterion not in this rubric.", 422)
    hits = sum(1 for g in graded.values() if g["hit"])
    credit = hits / len(graded) if graded else 0.0
    return graded, credit, 100 * credit >= policy.calibration_pass_percent


async def attempt_example(
    runtime: Runtime, reviewer: User, example_id: uuid.UUID, chosen: dict[uuid.UUID, uuid.UUID]
) -> CalibrationAttempt:
    """Score one example on the calibration page; enough passes calibrate the reviewer."""
    async with runtime.sessions() as session:
        example = await session.get(CalibrationExample, example_id)
        if example is None or example.retired_at is not None:
            raise not_found("That example")
        pools = await access.reviewer_pools(session, reviewer, gated=False)
        if not any(credential_id == example.credential_id for credential_id, _ in pools):
            raise not_found("That example")
        policy = await policy_for(session, example.credential_id)
        graded, credit, passed = await grade(session, example, policy, chosen)
        attempt = CalibrationAttempt(
            example_id=example.id,
            credential_id=example.credential_id,
            reviewer_id=reviewer.id,
            kind=AttemptKind.calibration,
            levels=graded,
            credit=credit,
            passed=passed,
        )
        session.add(attempt)
        try:
            await session.flush()
        except IntegrityError:
            raise ActionError(
                "already_scored", "You have already scored this example.", 409
            ) from None
        standing = await trust.recompute(session, reviewer.id, example.credential_id, policy)
        await _maybe_calibrate(session, standing, policy)
        await session.commit()
        await session.refresh(attempt)
    return attempt


async def _maybe_calibrate(
    session: AsyncSession, standing: ReviewerStanding, policy: QualityPolicy
) -> None:
    """Calibrated once K examples passed (since any suspension): the suspension lifts."""
    needed = max(policy.calibration_required, 1 if standing.suspended_at else 0)
    if needed == 0 or standing.calibrated_at is not None:
        return
    query = (
        select(CalibrationAttempt.id)
        .where(CalibrationAttempt.reviewer_id == standing.reviewer_id)
        .where(CalibrationAttempt.credential_id == standing.credential_id)
        .where(CalibrationAttempt.kind == AttemptKind.calibration)
        .where(CalibrationAttempt.passed)
    )
    if standing.suspended_at is not None:
        query = query.where(col(CalibrationAttempt.created_at) >= standing.suspended_at)
    if len((await session.exec(query)).all()) >= needed:
        standing.calibrated_at = datetime.now(UTC)
        standing.suspended_at = None
        standing.suspension_reason = None
        standing.override_by_id = None
        standing.override_at = None
        session.add(standing)
