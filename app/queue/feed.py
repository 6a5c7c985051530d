"""The open work a reviewer may claim, read from the pools' sorted sets (lua/feed.lua): the
same cost at 100 or 100,000 open tasks, and no PostgreSQL at all while the reviewer's pools
are cached. When Redis does not know a pool (lost, rebuilding), PostgreSQL answers by its
partial index over open work."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from redis.exceptions import RedisError
from sqlmodel import col, select

from app import access, events
from app.models import Artifact, Credential, ReviewTask, Submission, TaskState, User
from app.queue.board import card
from app.queue.claims import UNCACHED, UNKNOWN
from app.queue.pools import cache
from app.queue.scripts import scripts
from app.runtime import Runtime


@dataclass
class OpenWork:
    """Cards as stored JSON, best first, and the claims held as (lease deadline, card)."""

    cards: list[str] = field(default_factory=list)
    held: list[tuple[float, str]] = field(default_factory=list)


async def open_work(runtime: Runtime, reviewer: User, limit: int) -> OpenWork:
    prefix, run = runtime.settings.redis_prefix, scripts(runtime.redis).run
    try:
        found = await run("feed", prefix, str(reviewer.id), limit)
        if int(found[0]) == UNCACHED:
            await cache(runtime, reviewer)
            found = await run("feed", prefix, str(reviewer.id), limit)
    except RedisError:
        found = [UNKNOWN]
    if int(found[0]) in (UNKNOWN, UNCACHED):
        # UNCACHED again: an eligibility change dropped the fresh cache at once; ask PostgreSQL.
        return await open_work_in_postgres(runtime, reviewer, limit)
    held = []
    for line in str(found[1]).split("\n") if found[1] else []:
        deadline, _, stored = line.partition("\t")
        held.append((float(deadline), stored))
    return OpenWork(cards=[str(c) for c in found[2:]], held=held)


async def open_work_in_postgres(runtime: Runtime, reviewer: User, limit: int) -> OpenWork:
    """The same answer from PostgreSQL alone (three queries whatever the length)."""
    async with runtime.sessions() as session:
        rows = (
            await session.exec(access.by_priority(access.eligible_tasks(reviewer)).limit(limit))
        ).all()
        mine = (
            await session.exec(
                select(ReviewTask, Submission, Credential)
                .join(Submission, col(Submission.id) == col(ReviewTask.submission_id))
                .join(Credential, col(Credential.id) == col(Submission.credential_id))
                .where(col(ReviewTask.reviewer_id) == reviewer.id)
                .where(col(ReviewTask.state) == TaskState.claimed)
            )
        ).all()
        versions = [task.version_id for task, _s, _c in [*rows, *mine]]
        kinds: dict[object, list[str]] = {}
        if versions:
            pairs = await session.exec(
                select(Artifact.version_id, Artifact.kind)
                .where(col(Artifact.version_id).in_(versions))
                .distinct()
            )
            for version_id, kind in pairs.all():
                kinds.setdefault(version_id, []).append(kind)

    def stored(task: ReviewTask, submission: Submission, credential: Credential) -> str:
        return card(
            task.id,
            credential.id,
            credential.title,
            task.pool,
            task.reason,
            task.created_at.isoformat(),
            submission.id,
            kinds.get(task.version_id, []),
        )

    return OpenWork(
        cards=[stored(*row) for row in rows],
        held=[
            (task.lease_expires_at.timestamp(), stored(task, submission, credential))
            for task, submission, credential in mine
            if task.lease_expires_at is not None
        ],
    )


# A reviewer's task list, once read, is answered again while the open work has not changed
# (events.feed_version: every change this process makes or hears of) and for at most
# LIST_SECONDS, so a phone that polls, or a script that loops, costs one read of the queue
# per change rather than one per request.
LIST_SECONDS = 2.0
_LISTS_MAX = 50_000
_lists: dict[tuple[uuid.UUID, int], tuple[float, int, bytes]] = {}


async def task_list(runtime: Runtime, reviewer: User, limit: int) -> bytes:
    """`{"tasks": [card, ...]}`, the API's answer: the stored cards joined as they are."""
    key, now, version = (reviewer.id, limit), time.monotonic(), events.feed_version()
    found = _lists.get(key)
    if found is not None and found[0] > now and found[1] == version:
        return found[2]
    work = await open_work(runtime, reviewer, limit)
    body = ('{"tasks":[' + ",".join(work.cards) + "]}").encode()
    if len(_lists) >= _LISTS_MAX:
        _lists.clear()
    _lists[key] = (now + LIST_SECONDS, version, body)
    return body
