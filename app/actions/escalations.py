"""The scoring rule and the escalation triggers, and opening an expert task with its reasons.

Scoring: each criterion's level is the median of the counted reviews' levels
(app.agreement.median_level: with an even count, the lower middle level), or under a
trust-weighted policy their accuracy-weighted level (app.agreement.weighted_level); the
rubric's passing rule is applied to those levels. An expert's review overrides the peers'.

Triggers (per credential, in its quality policy): peers disagree on the decision; any
criterion's levels differ by at least N; the median total lies within a margin of the pass
line; an earner appeals. "Work passes its time target" is the coordination module's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.actions import catalog
from app.agreement import median_level, weighted_level
from app.models import (
    AuditEntry,
    Decision,
    Escalation,
    Pool,
    QualityPolicy,
    ReviewScore,
    ReviewTask,
    Rubric,
    RubricCriterion,
    RubricLevel,
    TaskReason,
)

DISAGREEMENT, LEVEL_GAP, PASS_MARGIN, SPLIT, APPEAL = (
    "disagreement",
    "level_gap",
    "pass_margin",
    "split_scores",
    "appeal",
)
# Under a trust-weighted policy with the tie-break peer: two peers who agree, but whose known-
# answer accuracy is on average below this weight (app.agreement.accuracy_weight: an unchecked
# reviewer counts 0.75), are not enough alone; a trusted third peer looks too.
UNPROVEN, UNPROVEN_WEIGHT = "unproven_agreement", 0.6
# With the tie-break peer: peers who agree on "not yet" but put no criterion below the pass
# level together (each failed it on a different criterion, or on none) disagree on why; a
# trusted third peer looks (the lower of two levels counting is where false fails come from).
UNSHARED = "unshared_fail"


@dataclass
class Scored:
    """One submitted review as the rule sees it: its recommendation and level positions."""

    review_id: uuid.UUID
    reviewer_id: uuid.UUID
    pool: str
    recommendation: str
    levels: dict[uuid.UUID, int] = field(default_factory=dict)
    # The reviewer's weight under a trust-weighted policy (app.agreement.accuracy_weight).
    weight: float = 1.0
    tiebreak: bool = False  # the third peer's review of a tie-break
    # Its reviewer has since been suspended on the credential for low trust: a tie-break does
    # not rest on it (app.actions.tiebreak.settle).
    set_aside: bool = False


@dataclass
class RubricShape:
    rubric: Rubric
    criteria: list[RubricCriterion]
    # criterion -> position -> points
    points: dict[uuid.UUID, dict[int, int]]

    def total(self, levels: dict[uuid.UUID, int]) -> int:
        return sum(self.points[c.id].get(levels.get(c.id, 0), 0) for c in self.criteria)

    def verdict(self, levels: dict[uuid.UUID, int]) -> str:
        """The rubric's passing rule (as reviews.verdict) on level positions."""
        if any(levels.get(c.id, 0) < self.rubric.min_level for c in self.criteria):
            return Decision.not_yet
        min_points = self.rubric.min_points
        if min_points is not None and self.total(levels) < min_points:
            return Decision.not_yet
        return Decision.passed


async def rubric_shape(session: AsyncSession, rubric_id: uuid.UUID) -> RubricShape:
    rubric = await session.get(Rubric, rubric_id)
    assert rubric is not None
    scale = await catalog.rubric_scale(session, rubric_id)
    points = {c.id: {level.position: level.points for level in levels} for c, levels in scale}
    return RubricShape(rubric, [c for c, _ in scale], points)


async def load_levels(session: AsyncSession, reviews: list[Scored]) -> None:
    """Fill each review's level positions, in one query."""
    by_id = {r.review_id: r for r in reviews}
    if not by_id:
        return
    rows = await session.exec(
        select(ReviewScore.review_id, ReviewScore.criterion_id, RubricLevel.position)
        .join(RubricLevel, col(RubricLevel.id) == col(ReviewScore.level_id))
        .where(col(ReviewScore.review_id).in_(list(by_id)))
    )
    for review_id, criterion_id, position in rows.all():
        by_id[review_id].levels[criterion_id] = position


def medians(shape: RubricShape, reviews: list[Scored]) -> dict[uuid.UUID, int]:
    """The scoring rule: each criterion's median level over the counted reviews."""
    return {
        c.id: median_level([r.levels[c.id] for r in reviews if c.id in r.levels])
        for c in shape.criteria
        if any(c.id in r.levels for r in reviews)
    }


def consensus(
    shape: RubricShape, reviews: list[Scored], *, weighted: bool = False
) -> dict[uuid.UUID, int]:
    """Each criterion's level: the plain median, or (a trust-weighted policy) the reviewers'
    levels weighted by their known-answer accuracy (app.agreement.weighted_level)."""
    if not weighted:
        return medians(shape, reviews)
    found: dict[uuid.UUID, int] = {}
    for c in shape.criteria:
        given = [(r.levels[c.id], r.weight) for r in reviews if c.id in r.levels]
        if given:
            found[c.id] = weighted_level([lv for lv, _ in given], [w for _, w in given])
    return found


def triggers(
    policy: QualityPolicy, shape: RubricShape, peers: list[Scored]
) -> list[tuple[str, str]]:
    """Every escalation trigger the completed peer reviews set off, with its reason."""
    found: list[tuple[str, str]] = []
    decisions = {r.recommendation for r in peers}
    if policy.escalate_on_disagreement and len(decisions) > 1:
        found.append((DISAGREEMENT, "peers disagreed on the decision"))
    if policy.escalate_level_gap is not None:
        for criterion in shape.criteria:
            given = [r.levels[criterion.id] for r in peers if criterion.id in r.levels]
            if given and max(given) - min(given) >= policy.escalate_level_gap:
                found.append(
                    (
                        LEVEL_GAP,
                        f"“{criterion.title}” levels differ by {max(given) - min(given)} "
                        f"(escalates at {policy.escalate_level_gap})",
                    )
                )
    middle = consensus(shape, peers, weighted=policy.trust_weighted)
    pass_line = shape.rubric.min_points
    if policy.escalate_pass_margin is not None and pass_line is not None:
        total = shape.total(middle)
        if abs(total - pass_line) <= policy.escalate_pass_margin:
            found.append(
                (
                    PASS_MARGIN,
                    f"total {total} is within {policy.escalate_pass_margin} point(s) "
                    f"of the pass line {pass_line}",
                )
            )
    if len(decisions) == 1 and shape.verdict(middle) not in decisions:
        # Peers agree, yet the median scores say otherwise: an expert settles it.
        found.append((SPLIT, "the peers agreed, but the median scores give the other decision"))
    line = shape.rubric.min_level
    if (
        not found
        and policy.tiebreak_peer
        and decisions == {Decision.not_yet}
        and line
        and len(peers) > 1
        and not any(all(r.levels.get(c.id, line) < line for r in peers) for c in shape.criteria)
    ):
        found.append(
            (UNSHARED, "the peers agreed on not yet, but on no criterion below the pass level")
        )
    if (
        not found
        and policy.tiebreak_peer
        and policy.trust_weighted
        and peers
        and sum(r.weight for r in peers) / len(peers) < UNPROVEN_WEIGHT
    ):
        found.append((UNPROVEN, "the peers agreed, but their known-answer accuracy is low"))
    return found


def describe(found: list[tuple[str, str]]) -> str:
    return "; ".join(detail for _code, detail in found)


async def open_expert_task(
    session: AsyncSession,
    submission_id: uuid.UUID,
    version_id: uuid.UUID,
    found: list[tuple[str, str]],
    *,
    reason: TaskReason = TaskReason.escalation,
) -> ReviewTask:
    """Add an expert task, its Escalation record (every trigger and why) and an audit entry;
    the caller commits and then announces the task."""
    task = ReviewTask(
        submission_id=submission_id, version_id=version_id, pool=Pool.expert, reason=reason
    )
    session.add(task)
    # No ORM relationship orders these inserts: the task must exist before its record.
    await session.flush()
    session.add(
        Escalation(
            task_id=task.id,
            submission_id=submission_id,
            version_id=version_id,
            triggers=[code for code, _ in found],
            detail=describe(found),
        )
    )
    session.add(
        AuditEntry(
            action="submission.escalated",
            subject_type="submission",
            subject_id=str(submission_id),
            data={"triggers": [code for code, _ in found], "rule": describe(found)},
        )
    )
    return task
