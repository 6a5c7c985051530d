"""Reviewer credit: the ledger of a reviewer's completed reviews with the PD hours each
earns (the credential's quality policy sets hours per review), for the page, the
certificate and the CSV. Read only: credit is derived from submitted reviews."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

LEDGER_SQL = text(
    """
    SELECT r.id, r.submitted_at, c.title, o.name AS organisation,
           coalesce(p.reviewer_pd_hours, 0) AS hours
      FROM reviews r
      JOIN submissions s ON s.id = r.submission_id
      JOIN credentials c ON c.id = s.credential_id
      JOIN organisations o ON o.id = c.organisation_id
      LEFT JOIN quality_policies p ON p.credential_id = c.id
     WHERE r.reviewer_id = :reviewer AND r.state = 'submitted'
     ORDER BY r.submitted_at, r.id
    """
)


@dataclass(frozen=True)
class Entry:
    review_id: uuid.UUID
    completed_at: datetime
    credential: str
    organisation: str
    pd_hours: Decimal


@dataclass(frozen=True)
class Ledger:
    entries: list[Entry]

    @property
    def total_hours(self) -> Decimal:
        return sum((e.pd_hours for e in self.entries), Decimal(0))

    def by_credential(self) -> list[tuple[str, str, int, Decimal]]:
        """(credential, organisation, reviews, hours), in order of first review."""
        rows: dict[tuple[str, str], list[Decimal]] = {}
        for e in self.entries:
            rows.setdefault((e.credential, e.organisation), []).append(e.pd_hours)
        return [(c, o, len(h), sum(h, Decimal(0))) for (c, o), h in rows.items()]


async def ledger(session: AsyncSession, reviewer_id: uuid.UUID) -> Ledger:
    rows = (await session.execute(LEDGER_SQL, {"reviewer": reviewer_id})).all()
    return Ledger([Entry(r.id, r.submitted_at, r.title, r.organisation, r.hours) for r in rows])
