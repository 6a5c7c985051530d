"""Queue health, computed in PostgreSQL for the organisations a coordinator runs: open and
claimed work per credential and pool, waits (submit → claim, submit → outcome; median and
90th percentile, over a window of days), expired leases, escalations, pass rate, reviewer
throughput, and overdue work against each credential's time target.

Percentiles are PostgreSQL's percentile_cont (linear interpolation). Reads only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

DEFAULT_TARGET_HOURS = 72
WINDOWS = (7, 30)
# Wait histogram buckets: (upper bound in hours, label).
BUCKETS = [(1, "< 1 h"), (6, "1–6 h"), (24, "6–24 h"), (72, "1–3 d"), (None, "> 3 d")]

PER_POOL_SQL = text(
    """
    SELECT c.id AS credential_id, c.title, t.pool,
           count(*) FILTER (WHERE t.state = 'open') AS open,
           count(*) FILTER (WHERE t.state = 'claimed') AS claimed,
           count(*) FILTER (
               WHERE v.submitted_at
                     + make_interval(hours => coalesce(c.target_hours, :default_target)) < :now
           ) AS overdue
      FROM review_tasks t
      JOIN submissions s ON s.id = t.submission_id
      JOIN submission_versions v ON v.id = t.version_id
      JOIN credentials c ON c.id = s.credential_id
     WHERE c.organisation_id = ANY(:orgs) AND t.state IN ('open', 'claimed')
     GROUP BY c.id, c.title, t.pool
     ORDER BY c.title, t.pool
    """
)

CLAIM_WAITS_SQL = text(
    """
    SELECT extract(epoch FROM t.claimed_at - v.submitted_at) AS seconds
      FROM review_tasks t
      JOIN submissions s ON s.id = t.submission_id
      JOIN submission_versions v ON v.id = t.version_id
      JOIN credentials c ON c.id = s.credential_id
     WHERE c.organisation_id = ANY(:orgs) AND t.claimed_at >= :since AND t.claimed_at <= :now
       AND v.submitted_at IS NOT NULL
    """
)

OUTCOME_WAITS_SQL = text(
    """
    SELECT extract(epoch FROM o.decided_at - v.submitted_at) AS seconds, o.decision
      FROM outcomes o
      JOIN submission_versions v ON v.id = o.version_id
      JOIN submissions s ON s.id = o.submission_id
      JOIN credentials c ON c.id = s.credential_id
     WHERE c.organisation_id = ANY(:orgs) AND o.decided_at >= :since AND o.decided_at <= :now
       AND v.submitted_at IS NOT NULL
    """
)

PERCENTILES_SQL = text(
    """
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) AS median,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY x) AS p90
      FROM unnest(CAST(:values AS double precision[])) AS x
    """
)

EXPIRED_SQL = text(
    """
    SELECT count(*) FROM notifications n
      JOIN review_tasks t ON t.id = CAST(n.payload->>'task_id' AS uuid)
      JOIN submissions s ON s.id = t.submission_id
      JOIN credentials c ON c.id = s.credential_id
     WHERE n.kind = 'claim.expired' AND c.organisation_id = ANY(:orgs)
       AND n.created_at >= :since AND n.created_at <= :now
    """
)

ESCALATIONS_SQL = text(
    """
    SELECT count(*) FROM review_tasks t
      JOIN submissions s ON s.id = t.submission_id
      JOIN credentials c ON c.id = s.credential_id
     WHERE t.reason = 'escalation' AND c.organisation_id = ANY(:orgs)
       AND t.created_at >= :since AND t.created_at <= :now
    """
)

THROUGHPUT_SQL = text(
    """
    SELECT u.id, u.name, count(*) AS reviews
      FROM reviews r
      JOIN users u ON u.id = r.reviewer_id
      JOIN submissions s ON s.id = r.submission_id
      JOIN credentials c ON c.id = s.credential_id
     WHERE r.state = 'submitted' AND c.organisation_id = ANY(:orgs)
       AND r.submitted_at >= :since AND r.submitted_at <= :now
     GROUP BY u.id, u.name
     ORDER BY reviews DESC, u.name
    """
)

PER_DAY_SQL = text(
    """
    SELECT date_trunc('day', r.submitted_at AT TIME ZONE 'UTC') AS day, count(*) AS reviews
      FROM reviews r
      JOIN submissions s ON s.id = r.submission_id
      JOIN credentials c ON c.id = s.credential_id
     WHERE r.state = 'submitted' AND c.organisation_id = ANY(:orgs)
       AND r.submitted_at >= :since AND r.submitted_at <= :now
     GROUP BY 1 ORDER BY 1
    """
)

OVERDUE_SQL = text(
    """
    SELECT t.id AS task_id, t.submission_id, t.pool, t.state, t.reason, c.id AS credential_id,
           c.title, v.submitted_at, coalesce(c.target_hours, :default_target) AS target_hours,
           EXISTS (SELECT 1 FROM review_tasks e WHERE e.version_id = v.id AND e.pool = 'expert')
               AS with_experts
      FROM review_tasks t
      JOIN submissions s ON s.id = t.submission_id
      JOIN submission_versions v ON v.id = t.version_id
      JOIN credentials c ON c.id = s.credential_id
     WHERE c.organisation_id = ANY(:orgs) AND t.state IN ('open', 'claimed')
       AND v.submitted_at + make_interval(hours => coalesce(c.target_hours, :default_target)) < :now
     ORDER BY v.submitted_at, t.id
    """
)


@dataclass
class Waits:
    count: int = 0
    median: float | None = None  # seconds
    p90: float | None = None
    histogram: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Health:
    as_of: datetime
    days: int
    pools: list[dict[str, Any]]
    open: int
    claimed: int
    overdue: list[dict[str, Any]]
    claim_waits: Waits
    outcome_waits: Waits
    leases_expired: int
    escalations: int
    decided: int
    passed: int
    reviewers: list[dict[str, Any]]
    reviews_per_day: list[tuple[str, int]]

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.decided if self.decided else None

    @property
    def reviews(self) -> int:
        return sum(r["reviews"] for r in self.reviewers)

    def json(self) -> dict[str, Any]:
        def waits(w: Waits) -> dict[str, Any]:
            return {"count": w.count, "median_seconds": w.median, "p90_seconds": w.p90}

        return {
            "as_of": self.as_of.isoformat(),
            "days": self.days,
            "open": self.open,
            "claimed": self.claimed,
            "pools": [{**p, "credential_id": str(p["credential_id"])} for p in self.pools],
            "overdue": [
                {
                    **o,
                    "task_id": str(o["task_id"]),
                    "submission_id": str(o["submission_id"]),
                    "credential_id": str(o["credential_id"]),
                    "submitted_at": o["submitted_at"].isoformat(),
                }
                for o in self.overdue
            ],
            "submit_to_claim": waits(self.claim_waits),
            "submit_to_outcome": waits(self.outcome_waits),
            "leases_expired": self.leases_expired,
            "escalations": self.escalations,
            "decided": self.decided,
            "passed": self.passed,
            "pass_rate": self.pass_rate,
            "reviews": self.reviews,
            "reviewers": [
                {"reviewer_id": str(r["id"]), "name": r["name"], "reviews": r["reviews"]}
                for r in self.reviewers
            ],
        }


async def _waits(session: AsyncSession, seconds: list[float]) -> Waits:
    if not seconds:
        return Waits(histogram=[(label, 0) for _, label in BUCKETS])
    row = (await session.execute(PERCENTILES_SQL, {"values": seconds})).one()
    histogram = []
    lower = 0.0
    for upper, label in BUCKETS:
        top = float("inf") if upper is None else upper * 3600.0
        histogram.append((label, sum(1 for s in seconds if lower <= s < top)))
        lower = top
    return Waits(count=len(seconds), median=row.median, p90=row.p90, histogram=histogram)


async def queue_health(
    session: AsyncSession, organisations: list[uuid.UUID], days: int, now: datetime | None = None
) -> Health:
    """Every figure of the dashboard for these organisations over the last `days` days."""
    now = now or datetime.now(UTC)
    params = {
        "orgs": organisations,
        "now": now,
        "since": now - timedelta(days=days),
        "default_target": DEFAULT_TARGET_HOURS,
    }
    pools = [dict(row._mapping) for row in (await session.execute(PER_POOL_SQL, params)).all()]
    claim_seconds = [float(r.seconds) for r in (await session.execute(CLAIM_WAITS_SQL, params))]
    outcomes = (await session.execute(OUTCOME_WAITS_SQL, params)).all()
    reviewers = [dict(r._mapping) for r in (await session.execute(THROUGHPUT_SQL, params))]
    per_day = {
        row.day.date(): int(row.reviews) for row in await session.execute(PER_DAY_SQL, params)
    }
    start = (now - timedelta(days=days - 1)).date()
    days_list = [start + timedelta(days=i) for i in range(days)]
    return Health(
        as_of=now,
        days=days,
        pools=pools,
        open=sum(p["open"] for p in pools),
        claimed=sum(p["claimed"] for p in pools),
        overdue=[dict(r._mapping) for r in (await session.execute(OVERDUE_SQL, params))],
        claim_waits=await _waits(session, claim_seconds),
        outcome_waits=await _waits(session, [float(r.seconds) for r in outcomes]),
        leases_expired=int((await session.execute(EXPIRED_SQL, params)).scalar_one()),
        escalations=int((await session.execute(ESCALATIONS_SQL, params)).scalar_one()),
        decided=len(outcomes),
        passed=sum(1 for r in outcomes if r.decision == "pass"),
        reviewers=reviewers,
        reviews_per_day=[(d.strftime("%d %b"), per_day.get(d, 0)) for d in days_list],
    )
