"""Review tasks, as reviewers act on them: claim one (or the next best), extend, release;
and the sweeper's expiry. The atomic steps are app.queue's; this adds the business rules
around them: known-answer checks served by claim-next, and what "no open work" says.

A claim is decided by PostgreSQL with a fenced conditional update that bumps the task's
lease_version; every later write names that version. Redis answers the losing taps first.
"""

from __future__ import annotations

import uuid

from app import access, queue
from app.actions import known_answers
from app.errors import ActionError
from app.models import User
from app.queue import GONE, TAKEN, Claim, announce_open, lease_seconds, reopened
from app.runtime import Runtime

__all__ = [
    "GONE",
    "TAKEN",
    "Claim",
    "announce_open",
    "claim_next",
    "claim_task",
    "expire_leases",
    "extend_claim",
    "lease_seconds",
    "release_claim",
    "reopened",
]

# claim-next moves on to the next candidate when PostgreSQL refuses one (a cache a moment
# stale); this many refusals in a row end the try.
ATTEMPTS = 8


async def claim_task(runtime: Runtime, reviewer: User, task_id: uuid.UUID) -> Claim:
    """Claim one given task; exactly one of any number of racing reviewers wins."""
    return await queue.claim(runtime, reviewer, task_id)


async def claim_next(runtime: Runtime, reviewer: User) -> Claim:
    """The best open task for this reviewer: oldest first, escalations ahead, the work of
    credentials where they are most trusted ahead of equally old work. Racing reviewers each
    get a different task.

    Now and then (the credential's known-answer rate) the answer is instead a known-answer
    check: a calibration example served as a task of the same credential and pool.
    """
    skip: list[uuid.UUID] = []
    refreshed = False
    for _ in range(ATTEMPTS):
        found = await queue.reserve_next(runtime, reviewer, skip)
        if found == queue.UNKNOWN:
            check = await _known_answer_in_postgres(runtime, reviewer)
            if check is not None:
                return check
            claim = await queue.claim_next_in_postgres(runtime, reviewer)
            if claim is None:
                raise await _no_work(runtime, reviewer)
            return claim
        if found == queue.AT_CAP:
            await queue.check_cap(runtime, reviewer)
            continue
        if isinstance(found, int):
            # Nothing for them in Redis. Their cached pools may be a moment old (a badge or a
            # calibration just now): look once more with fresh ones before saying so.
            if refreshed:
                raise await _no_work(runtime, reviewer)
            refreshed = True
            await queue.held_back(runtime, reviewer)
            continue
        check = await _known_answer_instead(runtime, reviewer, found)
        if check is not None:
            return check
        try:
            return await queue.grant(runtime, reviewer, found.task_id, found.pool)
        except ActionError as error:
            if error.code not in ("already_taken", "not_found"):
                raise
            skip.append(found.task_id)
    raise ActionError(
        "busy", "Many reviewers are claiming at this moment; try again in a second.", 409
    )


async def _known_answer_instead(
    runtime: Runtime, reviewer: User, found: queue.Reservation
) -> Claim | None:
    """Serve a known-answer check in place of the reserved task, now and then."""
    if not known_answers.should_serve_known_answer(found.known_answer_percent):
        return None
    waiting_since = await known_answers.waiting_since(runtime, found.task_id)
    check = await known_answers.serve_known_answer(
        runtime,
        reviewer,
        found.pool.credential_id,
        found.pool.pool,
        found.lease_seconds,
        waiting_since,
    )
    if check is not None:
        await queue.unreserve(runtime, reviewer, found)
    return check


async def _known_answer_in_postgres(runtime: Runtime, reviewer: User) -> Claim | None:
    """The same coin when PostgreSQL picks (Redis does not know a pool, or the cached
    eligibility was dropped again at once): the credential of the best open task for this
    reviewer sets the rate, so a check is never skipped because of where the answer came from."""
    async with runtime.sessions() as session:
        row = (
            await session.execute(access.by_priority(access.eligible_tasks(reviewer)).limit(1))
        ).first()
        if row is None:
            return None
        task, _submission, credential = row
        # The rate the live queue caches for this pool (app.access.POOL_RULES_SQL).
        rule = (await access.reviewer_pool_rules(session, reviewer)).get((credential.id, task.pool))
        percent = rule.known_answer_percent if rule is not None else 0
    if not known_answers.should_serve_known_answer(percent):
        return None
    seconds = lease_seconds(runtime, credential)
    return await known_answers.serve_known_answer(
        runtime, reviewer, credential.id, task.pool, seconds, task.created_at
    )


async def _no_work(runtime: Runtime, reviewer: User) -> ActionError:
    if await queue.held_back(runtime, reviewer):
        return ActionError(
            "no_work",
            "There is no open work for you right now. Some credentials ask you to calibrate"
            " first: see Calibration.",
            404,
        )
    return ActionError("no_work", "There is no open work for you right now.", 404)


async def extend_claim(
    runtime: Runtime, reviewer: User, task_id: uuid.UUID, lease_version: int
) -> Claim:
    """Add one more lease period, once per claim, while the lease is live."""
    return await queue.extend(runtime, reviewer, task_id, lease_version)


async def release_claim(
    runtime: Runtime, reviewer: User, task_id: uuid.UUID, lease_version: int
) -> None:
    """Give the task back to the queue; the draft written under this claim goes with it."""
    await queue.release(runtime, reviewer, task_id, lease_version)


async def expire_leases(runtime: Runtime) -> int:
    """Every claim past its deadline goes back to open; its reviewer is told. Idempotent."""
    return await queue.expire(runtime)
