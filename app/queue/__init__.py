"""The live review queue: the claim engine of MCX's hot path.

PostgreSQL decides who holds a task; Redis answers every tap first and keeps the open work
of each (credential, pool) in order. Every atomic step is one Lua script in `lua/` or one SQL
statement in `sql/`, each opening with its inputs, outputs and the rule it protects:

| step | Redis (lua/) | PostgreSQL (sql/) |
|---|---|---|
| a task opens, or opens again | open | (the action's own transaction) |
| claim a given task | claim (reserve: cap, exclusions, one holder) | claim (grant, fenced) |
| claim the next best task | claim_next (pop the best one this reviewer may take) | claim |
| the grant is recorded, feed and earner told | confirm | |
| a refused reservation is undone | unreserve, then open if still open | |
| extend / release / expire | open (when reopened) | extend / release / expire |
| a task is done | drop | (the action's own transaction) |
| the feed's first page | feed | (none while the reviewer's pools are cached) |

Views, actions and workers use it through the names below; app.actions.tasks holds the
business verbs (claim_task, claim_next with known-answer checks, ...) built on them.
"""

from __future__ import annotations

from redis.asyncio import Redis

from app.queue.board import (
    EVIDENCE_ORDER,
    announce_cancelled,
    announce_open,
    cancel_open,
    card,
    drop,
    put_open,
)
from app.queue.claims import (
    AT_CAP,
    GONE,
    TAKEN,
    TAKEN_CODE,
    UNKNOWN,
    Claim,
    Reservation,
    check_cap,
    claim,
    claim_next_in_postgres,
    grant,
    reserve_next,
    too_many,
    unreserve,
)
from app.queue.feed import OpenWork, open_work
from app.queue.keys import TRUST_LEAD_SECONDS, PoolKey, score
from app.queue.leases import expire, extend, lease_seconds, lost_claim, release, reopened
from app.queue.pools import changed as eligibility_changed
from app.queue.pools import held_back
from app.queue.rebuild import rebuild
from app.settings import Settings

__all__ = [
    "AT_CAP",
    "EVIDENCE_ORDER",
    "GONE",
    "TAKEN",
    "TAKEN_CODE",
    "TRUST_LEAD_SECONDS",
    "UNKNOWN",
    "Claim",
    "OpenWork",
    "PoolKey",
    "Reservation",
    "announce_cancelled",
    "announce_open",
    "cancel_open",
    "card",
    "check_cap",
    "claim",
    "claim_next_in_postgres",
    "drop",
    "eligibility_changed",
    "expire",
    "extend",
    "grant",
    "held_back",
    "lease_seconds",
    "lost_claim",
    "open_count",
    "open_work",
    "put_open",
    "rebuild",
    "release",
    "reopened",
    "reserve_next",
    "score",
    "too_many",
    "unreserve",
]


async def open_count(redis: Redis, settings: Settings, key: PoolKey) -> int:
    """How many tasks wait in a pool's open set."""
    return int(await redis.zcard(key.keys(settings)[0]))
