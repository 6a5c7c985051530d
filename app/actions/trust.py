"""Trust: each reviewer's standing per credential, from calibration, known-answer checks,
agreement with consensus or the expert, and earners' helpfulness ratings.

trust = 100 x (2 x 0.75 + sum of w x n x score) / (2 + sum of w x n), n capped at 5 per part:
a newcomer starts at 75 (the prior, worth two observations) and evidence moves them from
there. Weights: known-answer checks and agreement 2, calibration and helpfulness 1. Below
the credential's floor, claiming for it is suspended (and calibration must be earned
again) unless a coordinator overrides.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access
from app.actions.escalations import Scored
from app.actions.policy import policy_for
from app.agreement import accuracy_weight, distance, median_level
from app.errors import ActionError, not_found
from app.models import (
    AttemptKind,
    AuditEntry,
    CalibrationAttempt,
    Credential,
    FeedbackRating,
    Membership,
    QualityPolicy,
    ReviewerStanding,
    Role,
    User,
)
from app.runtime import Runtime

PRIOR, PRIOR_WEIGHT, SATURATION = 0.75, 2.0, 5
WEIGHTS = {"calibration": 1.0, "known_answer": 2.0, "agreement": 2.0, "helpfulness": 1.0}
# Trust a reviewer needs in a credential before a coordinator may promote them to expert, and
# how many observations (calibrations, checks, comparisons, ratings) must back it.
PROMOTION_TRUST = 80.0
PROMOTION_EVIDENCE = 5
# Only the most recent decided work counts towards agreement (bounded cost, recent habits).
AGREEMENT_WINDOW = 200

SCORES_SQL = text(
    """
    SELECT r.version_id, r.reviewer_id, t.pool, rs.criterion_id, lv.position
      FROM reviews r
      JOIN review_tasks t ON t.id = r.task_id
      JOIN review_scores rs ON rs.review_id = r.id
      JOIN rubric_levels lv ON lv.id = rs.level_id
     WHERE r.state = 'submitted'
       AND r.version_id IN (
           SELECT mine.version_id FROM reviews mine
             JOIN submissions s ON s.id = mine.submission_id
             JOIN outcomes o ON o.version_id = mine.version_id
            WHERE mine.reviewer_id = :reviewer AND s.credential_id = :credential
              AND mine.state = 'submitted'
            ORDER BY mine.submitted_at DESC LIMIT :window)
    """
)
ENSURE_STANDING_SQL = text(
    """
    INSERT INTO reviewer_standings (id, reviewer_id, credential_id, trust, components, updated_at)
    VALUES (:id, :reviewer, :credential, 75.0, '{}'::jsonb, now())
    ON CONFLICT (reviewer_id, credential_id) DO NOTHING
    """
)
TOPS_SQL = text(
    "SELECT criterion_id, max(position) FROM rubric_levels "
    "WHERE criterion_id = ANY(:ids) GROUP BY criterion_id"
)


def combine(parts: dict[str, tuple[float | None, int]]) -> float:
    """Trust 0-100 from each part's (mean score 0-1, observations)."""
    total, weight = PRIOR * PRIOR_WEIGHT, PRIOR_WEIGHT
    for name, (score, count) in parts.items():
        if score is None or count == 0:
            continue
        w = WEIGHTS[name] * min(count, SATURATION)
        total += w * score
        weight += w
    return round(100 * total / weight, 1)


async def distances(
    session: AsyncSession, reviewer_id: uuid.UUID, credential_id: uuid.UUID
) -> dict[str, tuple[float | None, float | None, int]]:
    """{"consensus"|"expert": (mean distance in levels, mean share of range, comparisons)}.

    Consensus is the median of the other reviewers' levels on the same criterion; the
    expert is the expert's level, where an expert reviewed work this reviewer peer-reviewed.
    """
    rows = (
        await session.execute(
            SCORES_SQL,
            {"reviewer": reviewer_id, "credential": credential_id, "window": AGREEMENT_WINDOW},
        )
    ).all()
    by_unit: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[uuid.UUID, str, int]]] = defaultdict(list)
    for version_id, who, pool, criterion_id, position in rows:
        by_unit[(version_id, criterion_id)].append((who, pool, position))
    criterion_ids = list({criterion for _v, criterion in by_unit})
    tops = (
        dict((await session.execute(TOPS_SQL, {"ids": criterion_ids})).all())
        if criterion_ids
        else {}
    )
    found: dict[str, list[tuple[int, float]]] = {"consensus": [], "expert": []}
    for (_version, criterion_id), scores in by_unit.items():
        mine = [(pool, level) for who, pool, level in scores if who == reviewer_id]
        if not mine:
            continue
        my_pool, my_level = mine[0]
        top = int(tops.get(criterion_id, 0))
        others = [level for who, _pool, level in scores if who != reviewer_id]
        if others:
            gap = abs(my_level - median_level(others))
            found["consensus"].append((gap, distance(my_level, median_level(others), top)))
        experts = [level for who, pool, level in scores if pool == "expert" and who != reviewer_id]
        if my_pool == "peer" and experts:
            gap = abs(my_level - median_level(experts))
            found["expert"].append((gap, distance(my_level, median_level(experts), top)))
    result: dict[str, tuple[float | None, float | None, int]] = {}
    for name, pairs in found.items():
        if pairs:
            result[name] = (
                sum(g for g, _ in pairs) / len(pairs),
                sum(s for _, s in pairs) / len(pairs),
                len(pairs),
            )
        else:
            result[name] = (None, None, 0)
    return result


async def standing_of(
    session: AsyncSession, reviewer_id: uuid.UUID, credential_id: uuid.UUID, *, lock: bool = False
) -> ReviewerStanding:
    """The reviewer's standing row for the credential (made, not yet stored, if missing).

    With `lock`, the row is first made if missing (racing writers agree on one row) and then
    locked for this transaction."""
    query = (
        select(ReviewerStanding)
        .where(ReviewerStanding.reviewer_id == reviewer_id)
        .where(ReviewerStanding.credential_id == credential_id)
    )
    if lock:
        await session.execute(
            ENSURE_STANDING_SQL,
            {"id": uuid.uuid4(), "reviewer": reviewer_id, "credential": credential_id},
        )
        query = query.with_for_update()
    found = (await session.exec(query)).first()
    return found or ReviewerStanding(reviewer_id=reviewer_id, credential_id=credential_id)


async def recompute(
    session: AsyncSession,
    reviewer_id: uuid.UUID,
    credential_id: uuid.UUID,
    policy: QualityPolicy | None = None,
) -> ReviewerStanding:
    """Recompute trust and apply the floor; the caller commits."""
    policy = policy or await policy_for(session, credential_id)
    standing = await standing_of(session, reviewer_id, credential_id, lock=True)
    attempts = (
        await session.exec(
            select(CalibrationAttempt.kind, CalibrationAttempt.credit)
            .where(CalibrationAttempt.reviewer_id == reviewer_id)
            .where(CalibrationAttempt.credential_id == credential_id)
        )
    ).all()
    ratings = (
        await session.exec(
            select(FeedbackRating.helpfulness)
            .where(FeedbackRating.reviewer_id == reviewer_id)
            .where(FeedbackRating.credential_id == credential_id)
        )
    ).all()
    gaps = await distances(session, reviewer_id, credential_id)
    parts: dict[str, tuple[float | None, int]] = {}
    for kind in AttemptKind:
        credits = [credit for k, credit in attempts if k == kind]
        parts[kind.value] = (sum(credits) / len(credits) if credits else None, len(credits))
    # Agreement with the expert, where there is one, says more than agreement with peers.
    source = "expert" if gaps["expert"][2] else "consensus"
    _levels, share, count = gaps[source]
    parts["agreement"] = (None if share is None else 1 - share, count)
    helpful = [(r - 1) / 4 for r in ratings]
    parts["helpfulness"] = (sum(helpful) / len(helpful) if helpful else None, len(helpful))
    now = datetime.now(UTC)
    standing.trust = combine(parts)
    components: dict[str, Any] = {
        name: {"score": score, "count": n} for name, (score, n) in parts.items()
    }
    components["distance"] = {
        name: {"levels": levels, "count": n} for name, (levels, _s, n) in gaps.items()
    }
    standing.components = components
    standing.updated_at = now
    # In probation (some but fewer than MEASURED_CHECKS known-answer checks, nothing else
    # since calibration) the next claim is a check anyway: one unlucky check suspends nobody.
    checks, compared = parts["known_answer"][1], parts["agreement"][1]
    probation = 0 < checks < access.MEASURED_CHECKS and compared == 0
    below = standing.trust < policy.trust_floor and not probation
    if below and standing.suspended_at is None and standing.override_by_id is None:
        standing.suspended_at = now
        standing.calibrated_at = None
        standing.suspension_reason = (
            f"Trust {standing.trust:.0f} fell below the floor of {policy.trust_floor}."
        )
    session.add(standing)
    return standing


async def load_weights(
    session: AsyncSession, credential_id: uuid.UUID, reviews: list[Scored]
) -> None:
    """Set each review's weight from its reviewer's known-answer accuracy on the credential
    (app.agreement.accuracy_weight; no checks yet: the prior), in one query."""
    if not reviews:
        return
    rows = (
        await session.exec(
            select(ReviewerStanding.reviewer_id, ReviewerStanding.components)
            .where(ReviewerStanding.credential_id == credential_id)
            .where(col(ReviewerStanding.reviewer_id).in_([r.reviewer_id for r in reviews]))
        )
    ).all()
    checks = {who: (parts or {}).get("known_answer") or {} for who, parts in rows}
    for review in reviews:
        part = checks.get(review.reviewer_id, {})
        review.weight = accuracy_weight(part.get("score"), int(part.get("count") or 0))


async def mark_set_aside(
    session: AsyncSession, credential_id: uuid.UUID, reviews: list[Scored]
) -> None:
    """Mark the reviews whose reviewers are suspended on the credential now, in one query."""
    if not reviews:
        return
    suspended = set(
        (
            await session.exec(
                select(ReviewerStanding.reviewer_id)
                .where(ReviewerStanding.credential_id == credential_id)
                .where(col(ReviewerStanding.reviewer_id).in_([r.reviewer_id for r in reviews]))
                .where(col(ReviewerStanding.suspended_at).is_not(None))
            )
        ).all()
    )
    for review in reviews:
        review.set_aside = review.reviewer_id in suspended


async def refresh_many(runtime: Runtime, pairs: set[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Recompute (reviewer, credential) standings after new evidence, each committed."""
    for reviewer_id, credential_id in pairs:
        async with runtime.sessions() as session:
            await recompute(session, reviewer_id, credential_id)
            await session.commit()


def evidence(standing: ReviewerStanding) -> int:
    """How many observations the trust score rests on."""
    return sum(
        int(part.get("count") or 0)
        for name, part in standing.components.items()
        if name in WEIGHTS and isinstance(part, dict)
    )


def promotable(standing: ReviewerStanding) -> bool:
    return (
        standing.suspended_at is None
        and standing.trust >= PROMOTION_TRUST
        and evidence(standing) >= PROMOTION_EVIDENCE
    )


async def _managed_standing(
    session: AsyncSession, coordinator: User, standing_id: uuid.UUID
) -> tuple[ReviewerStanding, Credential]:
    standing = await session.get(ReviewerStanding, standing_id, with_for_update=True)
    credential = await session.get(Credential, standing.credential_id) if standing else None
    if (
        standing is None
        or credential is None
        or not await access.is_coordinator_of(session, coordinator, credential.organisation_id)
    ):
        raise not_found("That reviewer")
    return standing, credential


async def override_suspension(
    runtime: Runtime, coordinator: User, standing_id: uuid.UUID
) -> ReviewerStanding:
    """A coordinator lets a suspended reviewer claim again without recalibrating."""
    async with runtime.sessions() as session:
        standing, _credential = await _managed_standing(session, coordinator, standing_id)
        if standing.suspended_at is None:
            raise ActionError("not_suspended", "This reviewer is not suspended.", 409)
        now = datetime.now(UTC)
        standing.suspended_at = None
        standing.override_by_id = coordinator.id
        standing.override_at = now
        # Calibration was withdrawn with the suspension; the override restores it.
        standing.calibrated_at = standing.calibrated_at or now
        session.add(standing)
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="quality.suspension_overridden",
                subject_type="reviewer_standing",
                subject_id=str(standing.id),
                data={"trust": standing.trust},
            )
        )
        await session.commit()
        await session.refresh(standing)
    return standing


async def promote_to_expert(
    runtime: Runtime, coordinator: User, standing_id: uuid.UUID
) -> Membership:
    """A coordinator approves a trusted reviewer into the issuer's expert pool."""
    async with runtime.sessions() as session:
        standing, credential = await _managed_standing(session, coordinator, standing_id)
        if not promotable(standing):
            raise ActionError(
                "not_trusted_enough",
                f"Promotion needs trust of at least {PROMOTION_TRUST:.0f} in this credential, "
                f"resting on at least {PROMOTION_EVIDENCE} observations, and no suspension "
                f"(trust is {standing.trust:.0f} on {evidence(standing)}).",
                409,
            )
        existing = (
            await session.exec(
                select(Membership)
                .where(Membership.user_id == standing.reviewer_id)
                .where(Membership.organisation_id == credential.organisation_id)
                .where(Membership.role == Role.expert)
            )
        ).first()
        if existing is not None and existing.suspended_at is None:
            raise ActionError("already_expert", "This reviewer is already an expert.", 409)
        membership = existing or Membership(
            user_id=standing.reviewer_id,
            organisation_id=credential.organisation_id,
            role=Role.expert,
        )
        membership.suspended_at = None
        membership.suspension_reason = None
        session.add(membership)
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="quality.promoted_to_expert",
                subject_type="user",
                subject_id=str(standing.reviewer_id),
                data={"credential_id": str(credential.id), "trust": standing.trust},
            )
        )
        await session.commit()
        await session.refresh(membership)
    return membership


async def standings_below_floor(session: AsyncSession, credential_ids: list[uuid.UUID]) -> list:
    """(standing, reviewer, credential) rows suspended or under their credential's floor."""
    if not credential_ids:
        return []
    rows = (
        await session.exec(
            select(ReviewerStanding, User, Credential)
            .join(User, col(User.id) == col(ReviewerStanding.reviewer_id))
            .join(Credential, col(Credential.id) == col(ReviewerStanding.credential_id))
            .where(col(ReviewerStanding.credential_id).in_(credential_ids))
            .order_by(col(ReviewerStanding.trust), col(User.name))
        )
    ).all()
    floors = {
        p.credential_id: p.trust_floor
        for p in (
            await session.exec(
                select(QualityPolicy).where(col(QualityPolicy.credential_id).in_(credential_ids))
            )
        ).all()
    }
    default_floor = QualityPolicy(credential_id=uuid.uuid4()).trust_floor
    return [
        (standing, user, credential)
        for standing, user, credential in rows
        if standing.suspended_at is not None
        or standing.trust < floors.get(credential.id, default_floor)
    ]
