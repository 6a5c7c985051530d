"""What the quality pages read: Krippendorff's alpha (ordinal) per credential and criterion,
and how each reviewer's scores compare with the others' on the same work.

Alpha's units are one criterion of one submitted version scored by two or more reviewers;
calibration examples (known-answer checks) are left out, they are nobody's real work. The
most recent MAX_ROWS scores count, so the page stays fast as history grows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from app.agreement import alpha

UNITS_SQL = text(
    """
    SELECT s.credential_id, rs.criterion_id, rc.title, rb.version, rc.position,
           r.version_id, lv.position
      FROM reviews r
      JOIN submissions s ON s.id = r.submission_id
      JOIN review_scores rs ON rs.review_id = r.id
      JOIN rubric_criteria rc ON rc.id = rs.criterion_id
      JOIN rubrics rb ON rb.id = rc.rubric_id
      JOIN rubric_levels lv ON lv.id = rs.level_id
     WHERE r.state = 'submitted'
       AND s.credential_id = ANY(:credentials)
       AND NOT EXISTS (SELECT 1 FROM calibration_examples e WHERE e.submission_id = s.id)
     ORDER BY r.submitted_at DESC
     LIMIT :rows
    """
)


MAX_ROWS = 100_000


@dataclass
class CriterionAgreement:
    criterion_id: uuid.UUID
    title: str
    rubric_version: int
    units: int
    alpha: float | None


@dataclass
class CredentialAgreement:
    credential_id: uuid.UUID
    units: int = 0
    alpha: float | None = None
    criteria: list[CriterionAgreement] = field(default_factory=list)


async def agreement(
    session: AsyncSession, credential_ids: list[uuid.UUID]
) -> dict[uuid.UUID, CredentialAgreement]:
    """Alpha (ordinal) per credential, over all its criteria's units, and per criterion."""
    result = {cid: CredentialAgreement(cid) for cid in credential_ids}
    if not credential_ids:
        return result
    rows = (
        await session.execute(UNITS_SQL, {"credentials": credential_ids, "rows": MAX_ROWS})
    ).all()
    units: dict[tuple[uuid.UUID, uuid.UUID], dict[uuid.UUID, list[int]]] = defaultdict(
        lambda: defaultdict(list)
    )
    titles: dict[uuid.UUID, tuple[str, int, int]] = {}
    for credential_id, criterion_id, title, rubric_version, place, version_id, level in rows:
        units[(credential_id, criterion_id)][version_id].append(level)
        titles[criterion_id] = (title, rubric_version, place)
    pooled: dict[uuid.UUID, list[list[int]]] = defaultdict(list)
    # Criteria in rubric order (version, then position).
    ordered = sorted(units.items(), key=lambda item: titles[item[0][1]][1:])
    for (credential_id, criterion_id), by_version in ordered:
        scored = [levels for levels in by_version.values() if len(levels) >= 2]
        pooled[credential_id].extend(scored)
        title, rubric_version, _place = titles[criterion_id]
        result[credential_id].criteria.append(
            CriterionAgreement(criterion_id, title, rubric_version, len(scored), alpha(scored))
        )
    for credential_id, scored in pooled.items():
        result[credential_id].units = len(scored)
        result[credential_id].alpha = alpha(scored)
    return result


def alpha_text(value: float | None) -> str:
    return "not enough data" if value is None else f"{value:.3f}"
