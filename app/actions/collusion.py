"""Collusion: the reviewer-pair graph and flagging pairs that pass each other's work.

Two reviewers of one issuer form a pair when one reviewed the other's packet, or both scored
the same packets. For a pair the graph holds: how often each reviewed the other's work, how
much higher they scored it than the reference (the expert, else the other reviewers' median)
against how they score everyone else, how often they recommended a pass the decision did not
make, how soon after the submission they claimed it, whether it went both ways, their
agreement with each other against their agreement with the reference on packets they shared,
and their known-answer accuracy. `suspicion` turns that into a score; a pair at or over
FLAG_SCORE is flagged for the issuer's coordinators with the evidence, and while flagged
neither is routed the other's work (app.access.ELIGIBLE_SQL, lua/claim*.lua). The block costs
little (the work goes to someone else), so one clear grab-and-pass is enough to set it.

A grab shows before its reference does: when the first review of a fellow reviewer's packet
is a pass claimed within FAST_HOURS of the hand-in, the pair is held (`hold_grab`): kept off
each other's work, not yet flagged to anyone. The next weighing of the pair confirms the hold
as a flag (it keeps the hold's time), or lifts it once a second review finds no inflation or
the packet is decided without a flag. Holds are automatic and short; coordinators see flags.

Checked after each decision (app.actions.outcomes), for the pairs that decision touches; and,
for the earner's pairs when the earner is a fellow reviewer, after each review from the second
on (a grab-and-pass shows once another review gives a reference; the decision may be a day
away, behind a third peer and an expert).
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access
from app.agreement import median_level
from app.errors import ActionError, not_found
from app.models import (
    AuditEntry,
    Credential,
    Decision,
    ReviewerPair,
    ReviewerStanding,
    Submission,
    User,
)
from app.runtime import Runtime

FLAG_SCORE = 5.0
# A pair's scores of each other's work must sit this many levels (mean over criteria) above
# the reference, beyond how the reviewer scores others, before anything else counts.
INFLATION = 1.0
FAST_HOURS = 1.0  # a claim this soon after the submission is a grab
WINDOW = 200  # the most recent packets each reviewer scored that count

# Every score on the packets either reviewer scored lately (not calibration examples), with
# the decision and how long after the submission each claim came. In: :pair, :window.
PAIR_SCORES_SQL = text(
    """
    WITH theirs AS (
        SELECT r.version_id FROM reviews r
         WHERE r.reviewer_id = ANY(CAST(:pair AS uuid[])) AND r.state = 'submitted'
         ORDER BY r.submitted_at DESC LIMIT :window)
    SELECT r.version_id, r.reviewer_id, s.earner_id, t.pool, r.recommendation,
           rs.criterion_id, lv.position, o.decision,
           extract(epoch FROM t.claimed_at - v.submitted_at) / 3600 AS delay_hours
      FROM reviews r
      JOIN review_tasks t ON t.id = r.task_id
      JOIN submissions s ON s.id = r.submission_id
      JOIN submission_versions v ON v.id = r.version_id
      JOIN review_scores rs ON rs.review_id = r.id
      JOIN rubric_levels lv ON lv.id = rs.level_id
      LEFT JOIN outcomes o ON o.version_id = r.version_id
     WHERE r.state = 'submitted' AND r.version_id IN (SELECT version_id FROM theirs)
       AND NOT EXISTS (SELECT 1 FROM calibration_examples ce WHERE ce.submission_id = s.id)
    """
)
# The fellow reviewers a decided packet involves: the earner, when they review for the issuer,
# paired with each reviewer of the packet; and each two reviewers of it.
FELLOWS_SQL = text(
    """
    SELECT DISTINCT r.reviewer_id FROM reviews r
     WHERE r.version_id = :version AND r.state = 'submitted'
    """
)
IS_REVIEWER_SQL = text(
    """
    SELECT EXISTS (SELECT 1 FROM memberships m
                    WHERE m.user_id = :person AND m.organisation_id = :org
                      AND m.role IN ('reviewer', 'expert'))
    """
)


# The submitted reviews of a version so far, with how soon each was claimed. In: :version.
GRAB_SQL = text(
    """
    SELECT r.reviewer_id, t.pool, r.recommendation,
           extract(epoch FROM t.claimed_at - v.submitted_at) / 3600 AS delay_hours
      FROM reviews r
      JOIN review_tasks t ON t.id = r.task_id
      JOIN submission_versions v ON v.id = r.version_id
     WHERE r.version_id = :version AND r.state = 'submitted'
    """
)


async def _earner_reviews(
    conn: AsyncConnection, credential: Credential, submission: Submission
) -> bool:
    """Whether the packet's earner reviews for its issuer (a fellow reviewer)."""
    params = {"person": submission.earner_id, "org": credential.organisation_id}
    return bool((await conn.execute(IS_REVIEWER_SQL, params)).scalar_one())


@dataclass
class Scoring:
    """One submitted review as the pair graph sees it."""

    version_id: uuid.UUID
    reviewer_id: uuid.UUID
    earner_id: uuid.UUID
    pool: str
    recommendation: str
    decision: str | None
    delay_hours: float | None
    levels: dict[uuid.UUID, int] = field(default_factory=dict)


def _reference(review: Scoring, on_version: list[Scoring]) -> dict[uuid.UUID, int]:
    """The levels a review is compared with: the expert's, else the other reviewers' median."""
    others = [r for r in on_version if r.reviewer_id != review.reviewer_id]
    experts = [r for r in others if r.pool == "expert"]
    basis = experts or others
    found: dict[uuid.UUID, int] = {}
    for criterion in review.levels:
        given = [r.levels[criterion] for r in basis if criterion in r.levels]
        if given:
            found[criterion] = median_level(given)
    return found


def _lift(review: Scoring, reference: dict[uuid.UUID, int]) -> float | None:
    gaps = [review.levels[c] - level for c, level in reference.items()]
    return statistics.fmean(gaps) if gaps else None


def _agree(a: dict[uuid.UUID, int], b: dict[uuid.UUID, int]) -> float | None:
    shared = [c for c in a if c in b]
    return sum(a[c] == b[c] for c in shared) / len(shared) if shared else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def evidence(
    a: uuid.UUID,
    b: uuid.UUID,
    reviews: list[Scoring],
    accuracy: dict[uuid.UUID, float | None] | None = None,
) -> dict[str, Any]:
    """The pair graph's edge between `a` and `b`, from the reviews on packets they scored."""
    by_version: dict[uuid.UUID, list[Scoring]] = defaultdict(list)
    for review in reviews:
        by_version[review.version_id].append(review)
    pair = {a, b}
    toward: dict[str, list[float]] = {"pair": [], "others": []}
    each_way = {str(a): 0, str(b): 0}
    against = fast = 0
    delays: list[float] = []
    together: list[float] = []
    with_reference: list[float] = []
    for on_version in by_version.values():
        for review in on_version:
            if review.reviewer_id not in pair or review.pool != "peer":
                continue
            lift = _lift(review, _reference(review, on_version))
            if review.earner_id in pair and review.earner_id != review.reviewer_id:
                each_way[str(review.reviewer_id)] += 1
                if lift is not None:
                    toward["pair"].append(lift)
                if review.recommendation == Decision.passed and review.decision == Decision.not_yet:
                    against += 1
                if review.delay_hours is not None:
                    delays.append(review.delay_hours)
                    fast += review.delay_hours <= FAST_HOURS
            elif lift is not None:
                toward["others"].append(lift)
        scored = {r.reviewer_id: r for r in on_version}
        if a in scored and b in scored and scored[a].earner_id not in pair:
            # Only packets someone else scored too: agreement with each other is weighed
            # against agreement with that reference on the same packets, not on others.
            others = [r for r in on_version if r.reviewer_id not in pair]
            refs = [_agree(scored[who].levels, _reference(scored[who], others)) for who in (a, b)]
            agreement = _agree(scored[a].levels, scored[b].levels)
            if agreement is not None and all(ref is not None for ref in refs):
                together.append(agreement)
                with_reference += [ref for ref in refs if ref is not None]
    pair_lift, usual_lift = _mean(toward["pair"]), _mean(toward["others"])
    accuracy = accuracy or {}
    return {
        "reviews_of_each_other": each_way,
        "reciprocal": all(n > 0 for n in each_way.values()),
        "lift_on_each_other": pair_lift,
        "lift_on_others": usual_lift,
        "passes_against_decision": against,
        "fast_claims": fast,
        "claim_delay_hours": _mean(delays),
        "co_reviewed": len(together),
        "agreement_with_each_other": _mean(together),
        "agreement_with_reference": _mean(with_reference),
        "known_answer_accuracy": {str(k): v for k, v in accuracy.items() if k in pair},
    }


def suspicion(found: dict[str, Any]) -> float:
    """A pair's score from its evidence; FLAG_SCORE or more flags it. Nothing counts unless the
    pair scores each other's work at least INFLATION levels above the reference, and that much
    beyond how they score others (a careless reviewer's "usual" lift can be far below zero),
    or (co-reviewing) agree with each other far more than with anyone."""
    score = 0.0
    lift = found["lift_on_each_other"]
    excess = None if lift is None else lift - (found["lift_on_others"] or 0.0)
    if excess is not None and excess >= INFLATION and lift is not None and lift >= INFLATION:
        score += 2.0 + min(2.0, 2 * (excess - INFLATION))
        score += min(2, found["passes_against_decision"])
        score += min(1, found["fast_claims"])
        score += 2.0 if found["reciprocal"] else 0.0
        score += 1.0 if sum(found["reviews_of_each_other"].values()) >= 2 else 0.0
    together, reference = found["agreement_with_each_other"], found["agreement_with_reference"]
    if (
        found["co_reviewed"] >= 3
        and together is not None
        and reference is not None
        and together - reference >= 0.5
    ):
        # Scoring strangers' work in lockstep, away from everyone else.
        score += 2.5 + (2.5 if together - reference >= 0.7 else 0.0)
    return round(score, 2)


async def _scorings(runtime: Runtime, pair: list[uuid.UUID]) -> list[Scoring]:
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(PAIR_SCORES_SQL, {"pair": pair, "window": WINDOW})).all()
    found: dict[tuple[uuid.UUID, uuid.UUID], Scoring] = {}
    for version, reviewer, earner, pool, rec, criterion, level, decision, delay in rows:
        review = found.setdefault(
            (version, reviewer),
            Scoring(
                version,
                reviewer,
                earner,
                pool,
                rec or "",
                decision,
                None if delay is None else float(delay),
            ),
        )
        review.levels[criterion] = int(level)
    return list(found.values())


async def check_pair(
    runtime: Runtime, credential: Credential, a: uuid.UUID, b: uuid.UUID
) -> ReviewerPair | None:
    """Weigh the evidence on one pair; flag it (or refresh its evidence) when it is suspicious.
    The flagged row, or None."""
    low, high = sorted((a, b))
    reviews = await _scorings(runtime, [low, high])
    async with runtime.sessions() as session:
        accuracy: dict[uuid.UUID, float | None] = {}
        for who, parts in (
            await session.exec(
                select(ReviewerStanding.reviewer_id, ReviewerStanding.components)
                .where(ReviewerStanding.credential_id == credential.id)
                .where(col(ReviewerStanding.reviewer_id).in_([low, high]))
            )
        ).all():
            accuracy[who] = ((parts or {}).get("known_answer") or {}).get("score")
        found = evidence(low, high, reviews, accuracy)
        score = suspicion(found)
        existing = (
            await session.exec(
                select(ReviewerPair)
                .where(ReviewerPair.organisation_id == credential.organisation_id)
                .where(ReviewerPair.reviewer_id == low)
                .where(ReviewerPair.partner_id == high)
                .with_for_update()
            )
        ).first()
        if existing is not None and existing.held:
            return await _weigh_hold(session, credential, existing, reviews, found, score)
        if existing is None and score < FLAG_SCORE:
            return None
        if existing is None:
            existing = ReviewerPair(
                organisation_id=credential.organisation_id,
                credential_id=credential.id,
                reviewer_id=low,
                partner_id=high,
                score=score,
                evidence=found,
            )
            session.add(
                AuditEntry(
                    action="quality.pair_flagged",
                    subject_type="credential",
                    subject_id=str(credential.id),
                    data={"reviewers": [str(low), str(high)], "score": score},
                )
            )
        else:
            existing.score = score
            existing.evidence = found
        session.add(existing)
        await session.commit()
        await session.refresh(existing)
    return existing


async def _weigh_hold(
    session: AsyncSession,
    credential: Credential,
    held: ReviewerPair,
    reviews: list[Scoring],
    found: dict[str, Any],
    score: float,
) -> ReviewerPair | None:
    """A held pair weighed again: a flag (the hold's time kept) at FLAG_SCORE; lifted (the row
    goes) once the held packet has a clean reference or was decided without a flag; else held."""
    version = uuid.UUID(held.evidence["held_on"])
    pair = {held.reviewer_id, held.partner_id}
    on = [r for r in reviews if r.version_id == version]
    referenced = any(r.reviewer_id not in pair for r in on)
    decided = any(r.decision is not None for r in on)
    data = {"reviewers": [str(held.reviewer_id), str(held.partner_id)], "score": score}
    if score >= FLAG_SCORE:
        held.held = False
        action = "quality.pair_flagged"
    elif decided or (referenced and score == 0):
        await session.delete(held)
        session.add(
            AuditEntry(
                action="quality.pair_hold_lifted",
                subject_type="credential",
                subject_id=str(credential.id),
                data=data,
            )
        )
        await session.commit()
        return None
    else:
        action = ""
    held.score = score
    held.evidence = {**found, "held_on": str(version)}
    session.add(held)
    if action:
        session.add(
            AuditEntry(
                action=action, subject_type="credential", subject_id=str(credential.id), data=data
            )
        )
    await session.commit()
    await session.refresh(held)
    return held


async def hold_grab(
    runtime: Runtime, credential: Credential, submission: Submission, version_id: uuid.UUID
) -> ReviewerPair | None:
    """After the first review of a version: when the earner reviews for the issuer and that
    review is a peer's pass claimed within FAST_HOURS of the hand-in, hold the pair off each
    other's work until a second review gives a reference (check_pair weighs it then)."""
    async with runtime.engine.connect() as conn:
        earner_reviews = await _earner_reviews(conn, credential, submission)
        if not earner_reviews:
            return None
        rows = (await conn.execute(GRAB_SQL, {"version": version_id})).all()
    if len(rows) != 1:
        return None
    ((reviewer, pool, recommendation, delay),) = rows
    if (
        reviewer == submission.earner_id
        or pool != "peer"
        or recommendation != Decision.passed
        or delay is None
        or float(delay) > FAST_HOURS
    ):
        return None
    low, high = _ordered(reviewer, submission.earner_id)
    evidence = {"held_on": str(version_id), "claim_delay_hours": round(float(delay), 3)}
    async with runtime.sessions() as session:
        made = (
            await session.execute(
                insert(ReviewerPair)
                .values(
                    id=uuid.uuid4(),
                    organisation_id=credential.organisation_id,
                    credential_id=credential.id,
                    reviewer_id=low,
                    partner_id=high,
                    score=0.0,
                    evidence=evidence,
                    blocked=True,
                    held=True,
                )
                .on_conflict_do_nothing(constraint="uq_reviewer_pair")
                .returning(col(ReviewerPair.id))
            )
        ).scalar_one_or_none()
        if made is None:
            return None  # the pair is flagged, held or was cleared already
        session.add(
            AuditEntry(
                action="quality.pair_held",
                subject_type="credential",
                subject_id=str(credential.id),
                data={"reviewers": [str(low), str(high)], **evidence},
            )
        )
        await session.commit()
        return await session.get(ReviewerPair, made)


def _ordered(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    return (a, b) if a < b else (b, a)


async def check_decided(
    runtime: Runtime, credential: Credential, submission: Submission, version_id: uuid.UUID
) -> list[ReviewerPair]:
    """After a decision: weigh each pair it touches (the earner, when a fellow reviewer, with
    each reviewer; each two peers who scored it together)."""
    async with runtime.engine.connect() as conn:
        reviewers = [row[0] for row in (await conn.execute(FELLOWS_SQL, {"version": version_id}))]
        earner_reviews = await _earner_reviews(conn, credential, submission)
    pairs: set[tuple[uuid.UUID, uuid.UUID]] = set()
    if earner_reviews:
        pairs |= {_ordered(r, submission.earner_id) for r in reviewers if r != submission.earner_id}
    pairs |= {_ordered(a, b) for a in reviewers for b in reviewers if a < b}
    flagged = []
    for low, high in sorted(pairs):
        row = await check_pair(runtime, credential, low, high)
        if row is not None and row.blocked:
            flagged.append(row)
    return flagged


async def check_earner(
    runtime: Runtime, credential: Credential, submission: Submission, version_id: uuid.UUID
) -> list[ReviewerPair]:
    """Before a decision: weigh the earner (when a fellow reviewer) with each reviewer of the
    version so far. Co-reviewing pairs wait for the decision (check_decided)."""
    async with runtime.engine.connect() as conn:
        earner_reviews = await _earner_reviews(conn, credential, submission)
        if not earner_reviews:
            return []
        reviewers = [row[0] for row in (await conn.execute(FELLOWS_SQL, {"version": version_id}))]
    flagged = []
    for reviewer in sorted(reviewers):
        if reviewer == submission.earner_id:
            continue
        row = await check_pair(runtime, credential, *_ordered(reviewer, submission.earner_id))
        if row is not None and row.blocked:
            flagged.append(row)
    return flagged


async def flagged_pairs(
    runtime: Runtime, coordinator: User, credential_id: uuid.UUID
) -> list[tuple[ReviewerPair, User, User]]:
    """The pairs flagged on this credential's issuer, worst first, for its coordinators."""
    async with runtime.sessions() as session:
        credential = await access.managed_credential(session, coordinator, credential_id)
        rows = (
            await session.exec(
                select(ReviewerPair)
                .where(ReviewerPair.organisation_id == credential.organisation_id)
                .where(col(ReviewerPair.held).is_(False))
                .order_by(col(ReviewerPair.score).desc(), col(ReviewerPair.flagged_at))
            )
        ).all()
        people = {
            u.id: u
            for u in (
                await session.exec(
                    select(User).where(
                        col(User.id).in_(
                            [r.reviewer_id for r in rows] + [r.partner_id for r in rows]
                        )
                    )
                )
            ).all()
        }
    return [(row, people[row.reviewer_id], people[row.partner_id]) for row in rows]


async def clear_pair(runtime: Runtime, coordinator: User, pair_id: uuid.UUID) -> ReviewerPair:
    """A coordinator looked and found no collusion: the pair may be routed each other's work
    again (the flag stays on record, cleared)."""
    async with runtime.sessions() as session:
        pair = await session.get(ReviewerPair, pair_id, with_for_update=True)
        if pair is None or not await access.is_coordinator_of(
            session, coordinator, pair.organisation_id
        ):
            raise not_found("That pair")
        if not pair.blocked:
            raise ActionError("not_blocked", "This pair is already cleared.", 409)
        pair.blocked = False
        pair.cleared_by_id = coordinator.id
        pair.cleared_at = datetime.now(UTC)
        session.add(pair)
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="quality.pair_cleared",
                subject_type="reviewer_pair",
                subject_id=str(pair.id),
                data={"score": pair.score},
            )
        )
        await session.commit()
        await session.refresh(pair)
    return pair
