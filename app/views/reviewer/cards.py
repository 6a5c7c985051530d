"""What the reviewer's feed shows: task cards (never the earner) and my current claim.

The page and `/review/feed.json` both come from `load_feed`, so the live list that
static/reviewer.js keeps and the server-rendered one cannot disagree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access
from app.models import (
    Artifact,
    ArtifactKind,
    Credential,
    Decision,
    Pool,
    ReviewTask,
    Submission,
    TaskReason,
    TaskState,
    User,
)

# A phone shows a few screens of work; the rest waits its turn behind "Claim next best".
FEED_LIMIT = 50
KIND_LABELS = {
    ArtifactKind.video: "Video",
    ArtifactKind.audio: "Audio",
    ArtifactKind.image: "Image",
    ArtifactKind.document: "Document",
    ArtifactKind.link: "Link",
    ArtifactKind.reflection: "Reflection",
}
KIND_ORDER = list(KIND_LABELS)
POOL_LABELS = {Pool.peer: "Peer review", Pool.expert: "Expert review"}
REASON_LABELS = {
    # Disagreement, a level gap or a borderline total (the escalation record says which).
    TaskReason.escalation: "Escalation: the peers need an expert",
    TaskReason.appeal: "Appeal",
}
RECOMMENDATIONS: dict[str, str] = {Decision.passed: "Pass", Decision.not_yet: "Not yet"}


def waiting_text(seconds: float) -> str:
    """How long work has waited, coarsely ("waiting 2 h"); reviewer.js says it the same way."""
    minutes = int(max(seconds, 0) // 60)
    if minutes < 1:
        return "waiting under a minute"
    if minutes < 60:
        return f"waiting {minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"waiting {hours} h"
    return f"waiting {hours // 24} days"


def left_text(seconds: float) -> str:
    """A lease's time left, to the minute (reviewer.js ticks it to the second)."""
    if seconds <= 0:
        return "Time is up"
    minutes = int(seconds // 60)
    return "under a minute left" if minutes < 1 else f"{minutes} min left"


@dataclass(frozen=True)
class Card:
    """One open task as a reviewer's feed shows it."""

    task_id: uuid.UUID
    credential: str
    pool: str
    reason: str
    evidence: list[str]
    waiting_since: datetime
    waiting: str

    @property
    def pool_label(self) -> str:
        return POOL_LABELS.get(Pool(self.pool), self.pool)

    @property
    def reason_label(self) -> str | None:
        return REASON_LABELS.get(TaskReason(self.reason))

    def json(self) -> dict[str, Any]:
        return {
            "task_id": str(self.task_id),
            "credential": self.credential,
            "pool": self.pool,
            "pool_label": self.pool_label,
            "reason": self.reason,
            "reason_label": self.reason_label,
            "evidence": self.evidence,
            "waiting_since": self.waiting_since.isoformat(),
            "waiting": self.waiting,
        }


@dataclass(frozen=True)
class HeldClaim:
    """The claim I hold, pinned above the feed."""

    task_id: uuid.UUID
    credential: str
    lease_expires_at: datetime
    left: str

    def json(self) -> dict[str, Any]:
        return {
            "task_id": str(self.task_id),
            "credential": self.credential,
            "lease_expires_at": self.lease_expires_at.isoformat(),
            "left": self.left,
            "url": f"/review/tasks/{self.task_id}",
        }


@dataclass(frozen=True)
class Feed:
    cards: list[Card] = field(default_factory=list)
    claim: HeldClaim | None = None

    def json(self, now: datetime) -> dict[str, Any]:
        return {
            "tasks": [card.json() for card in self.cards],
            "claim": self.claim.json() if self.claim else None,
            "server_now": now.isoformat(),
        }


async def load_feed(session: AsyncSession, user: User, now: datetime) -> Feed:
    """The open work this reviewer may claim, best first, and the live claim they hold.

    Three queries whatever the length: the eligible tasks, the evidence kinds of all their
    versions at once, and my claim.
    """
    rows = (
        await session.exec(access.by_priority(access.eligible_tasks(user)).limit(FEED_LIMIT))
    ).all()
    kinds: dict[uuid.UUID, set[str]] = {}
    if rows:
        pairs = await session.exec(
            select(Artifact.version_id, Artifact.kind)
            .where(col(Artifact.version_id).in_([task.version_id for task, _s, _c in rows]))
            .distinct()
        )
        for version_id, kind in pairs.all():
            kinds.setdefault(version_id, set()).add(kind)
    cards = [
        Card(
            task_id=task.id,
            credential=credential.title,
            pool=task.pool,
            reason=task.reason,
            evidence=[
                KIND_LABELS[kind] for kind in KIND_ORDER if kind in kinds.get(task.version_id, ())
            ],
            waiting_since=task.created_at,
            waiting=waiting_text((now - task.created_at).total_seconds()),
        )
        for task, _submission, credential in rows
    ]
    return Feed(cards=cards, claim=await held_claim(session, user, now))


async def held_claim(session: AsyncSession, user: User, now: datetime) -> HeldClaim | None:
    """My live claim (the soonest to end, should a setting allow several)."""
    row = (
        await session.exec(
            select(ReviewTask, Credential)
            .join(Submission, col(Submission.id) == col(ReviewTask.submission_id))
            .join(Credential, col(Credential.id) == col(Submission.credential_id))
            .where(col(ReviewTask.reviewer_id) == user.id)
            .where(col(ReviewTask.state) == TaskState.claimed)
            .where(col(ReviewTask.lease_expires_at) > now)
            .order_by(col(ReviewTask.lease_expires_at))
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    task, credential = row
    assert task.lease_expires_at is not None
    return HeldClaim(
        task_id=task.id,
        credential=credential.title,
        lease_expires_at=task.lease_expires_at,
        left=left_text((task.lease_expires_at - now).total_seconds()),
    )
