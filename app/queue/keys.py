"""Where the live queue lives in Redis (the table in lua/README.md) and the order of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.settings import Settings

# How far ahead of equally old work a reviewer's most trusted credentials come in claim-next:
# trust 100 is 12 hours ahead, trust 50 six; escalations and appeals still lead by a day.
TRUST_LEAD_SECONDS = 12 * 3600
ESCALATION_LEAD_SECONDS = 86400


@dataclass(frozen=True)
class PoolKey:
    """One feed of work: a credential's peer or expert pool."""

    credential_id: uuid.UUID
    pool: str

    @property
    def name(self) -> str:
        """The pool as the scripts name it: 'credential:pool'."""
        return f"{self.credential_id}:{self.pool}"

    @classmethod
    def parse(cls, name: str) -> PoolKey:
        credential_id, _, pool = name.partition(":")
        return cls(uuid.UUID(credential_id), pool)

    def keys(self, settings: Settings) -> tuple[str, str, str, str]:
        """(open, lease, ready, holder)."""
        tag = f"{settings.redis_prefix}q:{{{self.name}}}"
        return f"{tag}:open", f"{tag}:lease", f"{tag}:ready", f"{tag}:holder"


def score(created_at: datetime, reason: str) -> float:
    """Oldest first; escalations and appeals a day ahead (review_tasks.priority, the same)."""
    return created_at.timestamp() - (0 if reason == "initial" else ESCALATION_LEAD_SECONDS)


def meta(
    pool: PoolKey,
    submission_id: uuid.UUID,
    earner_id: uuid.UUID,
    school: str,
    min_trust: float | None = None,
) -> str:
    """What the scripts know of a task: its pool, packet, earner, (only when the credential
    keeps reviewers from the earner's school away) the earner's school, lowercased, and (only
    on a tie-break) the trust a reviewer needs to take it."""
    least = "" if min_trust is None else f"{min_trust:g}"
    return f"{pool.name}|{submission_id}|{earner_id}|{school.replace('|', ' ')}|{least}"


def tasks_key(settings: Settings) -> str:
    return settings.redis_prefix + "q:task"


def cards_key(settings: Settings) -> str:
    return settings.redis_prefix + "q:card"


def on_key(settings: Settings, submission_id: uuid.UUID | str) -> str:
    return f"{settings.redis_prefix}q:on:{submission_id}"


def held_key(settings: Settings, reviewer_id: uuid.UUID | str) -> str:
    return f"{settings.redis_prefix}q:held:{reviewer_id}"


def holders_key(settings: Settings) -> str:
    return settings.redis_prefix + "q:holders"


def eligibility_gen_key(settings: Settings) -> str:
    return settings.redis_prefix + "q:elig:gen"


def reviewer_gen_key(settings: Settings, reviewer_id: uuid.UUID | str) -> str:
    """Bumped when one reviewer's own eligibility facts change (their standings)."""
    return f"{settings.redis_prefix}q:elig:gen:{reviewer_id}"


def eligibility_key(settings: Settings, gen: str, reviewer_id: uuid.UUID) -> str:
    """`gen` is "{global generation}.{the reviewer's generation}"."""
    return f"{settings.redis_prefix}q:elig:{gen}:{reviewer_id}"
