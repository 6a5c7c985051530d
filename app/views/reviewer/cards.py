"""What the reviewer's feed shows: task cards (never the earner) and my current claim.

The page and `/review/feed.json` both come from `load_feed`, so the live list that
static/reviewer.js keeps and the server-rendered one cannot disagree.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app import queue
from app.models import (
    ArtifactKind,
    Decision,
    Pool,
    TaskReason,
    User,
)
from app.runtime import Runtime

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
    """One packet's open work in one pool as a reviewer's feed shows it: a claim takes one of
    its tasks (the first; the others if someone was quicker)."""

    task_id: uuid.UUID
    credential: str
    pool: str
    reason: str
    evidence: list[str]
    waiting_since: datetime
    waiting: str
    task_ids: tuple[uuid.UUID, ...] = ()

    @property
    def others(self) -> list[uuid.UUID]:
        return [task for task in self.task_ids if task != self.task_id]

    @property
    def needed_label(self) -> str | None:
        """ "2 reviewers needed" when the packet has several open tasks here."""
        return f"{len(self.task_ids)} reviewers needed" if len(self.task_ids) > 1 else None

    @property
    def pool_label(self) -> str:
        return POOL_LABELS.get(Pool(self.pool), self.pool)

    @property
    def reason_label(self) -> str | None:
        return REASON_LABELS.get(TaskReason(self.reason))

    def json(self) -> dict[str, Any]:
        return {
            "task_id": str(self.task_id),
            "task_ids": [str(task) for task in self.task_ids or (self.task_id,)],
            "needed_label": self.needed_label,
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


async def load_feed(runtime: Runtime, user: User, now: datetime) -> Feed:
    """The open work this reviewer may claim, best first, and the live claim they hold: one
    read of the live queue (app.queue.open_work), no PostgreSQL while their pools are cached."""
    work = await queue.open_work(runtime, user, FEED_LIMIT)
    cards = _one_per_packet([json.loads(stored) for stored in work.cards], now)
    claim = None
    if work.held:
        deadline, stored = min(work.held)
        expires = datetime.fromtimestamp(deadline, UTC)
        if expires > now:
            held = json.loads(stored)
            claim = HeldClaim(
                task_id=uuid.UUID(held["task_id"]),
                credential=held["credential"],
                lease_expires_at=expires,
                left=left_text((expires - now).total_seconds()),
            )
    return Feed(cards=cards, claim=claim)


def _one_per_packet(stored: list[dict[str, Any]], now: datetime) -> list[Card]:
    """One card per packet and pool, where its best task stands, holding all its tasks."""
    tasks: dict[tuple[str, str], list[uuid.UUID]] = {}
    first: list[dict[str, Any]] = []
    for data in stored:
        key = (data.get("packet") or data["task_id"], data["pool"])
        if key not in tasks:
            tasks[key] = []
            first.append(data)
        tasks[key].append(uuid.UUID(data["task_id"]))
    return [
        _card(data, now, tuple(tasks[(data.get("packet") or data["task_id"], data["pool"])]))
        for data in first
    ]


def _card(data: dict[str, Any], now: datetime, task_ids: tuple[uuid.UUID, ...]) -> Card:
    waiting_since = datetime.fromisoformat(data["waiting_since"])
    return Card(
        task_ids=task_ids,
        task_id=uuid.UUID(data["task_id"]),
        credential=data["credential"],
        pool=data["pool"],
        reason=data["reason"],
        evidence=[KIND_LABELS[ArtifactKind(kind)] for kind in data.get("evidence", [])],
        waiting_since=waiting_since,
        waiting=waiting_text((now - waiting_since).total_seconds()),
    )
