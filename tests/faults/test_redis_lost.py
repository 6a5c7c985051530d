"""Redis killed under load and started again empty: nothing PostgreSQL holds is lost, and the
live queue is rebuilt from it without restarting MCX."""

from __future__ import annotations

import asyncio

import httpx

from app import queue
from app.models import Role
from tests import factories as f
from tests.faults.conftest import Cluster, submit_packet, until
from tests.faults.load import Ledger, phones, review_one

PACKETS = 8
DURING_OUTAGE = 2


async def test_redis_killed_and_restarted_empty_loses_no_submission_claim_or_review(
    cluster: Cluster,
) -> None:
    rt = cluster.runtime
    credential = await f.credential(rt, peer_reviews=1)
    earners = [
        await f.token_for(rt, await f.person(rt, f"earner{i}", [Role.earner]))
        for i in range(PACKETS + DURING_OUTAGE)
    ]
    tokens = [token for _user, token in await f.many_reviewers(rt, 4)]
    base = await cluster.serve()
    await cluster.worker()
    pool = queue.PoolKey(credential.id, "peer")
    open_key, _lease, ready_key, _holder = pool.keys(rt.settings)
    ledger = Ledger()

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for token in earners[:PACKETS]:
            await submit_packet(http, token, credential.id)

        async def in_review(n: int) -> bool:
            return n == await cluster.count(
                "SELECT count(*) FROM submissions WHERE state <> 'checking'"
            )

        await until(lambda: in_review(PACKETS), what="the worker's evidence checks")

        # Phase 1: phones at work with Redis up.
        stop = asyncio.Event()
        load = asyncio.create_task(phones(ledger, http, tokens, stop))
        await until(lambda: _at_least(ledger, 2), what="reviews before the fault")

        # Phase 2: Redis dies. Work goes on through PostgreSQL; new packets are handed in.
        reviews_before_kill = len(ledger.reviews)
        cluster.redis.kill()
        for token in earners[PACKETS:]:
            await submit_packet(http, token, credential.id)
        await until(
            lambda: _at_least(ledger, reviews_before_kill + 2), what="reviews without Redis"
        )

        # Phase 3: Redis comes back with nothing in it; the phones stop for the moment.
        cluster.redis.start()
        stop.set()
        await load
        assert await rt.redis.exists(ready_key) == 0  # empty indeed

        async def rebuilt() -> bool:
            pg_open = await cluster.count("SELECT count(*) FROM review_tasks WHERE state = 'open'")
            return (
                await in_review(PACKETS + DURING_OUTAGE)
                and await rt.redis.exists(ready_key) == 1
                and await rt.redis.zcard(open_key) == pg_open
            )

        await until(rebuilt, what="the queue rebuilt and the lost evidence checks re-run")
        assert cluster.alive("worker") and cluster.alive("serve")

        # Phase 4: the rest of the work, through the rebuilt queue.
        while await review_one(ledger, http, tokens[0]):
            pass

    total = PACKETS + DURING_OUTAGE
    assert await cluster.count("SELECT count(*) FROM submissions") == total
    assert await cluster.count("SELECT count(*) FROM submissions WHERE state = 'passed'") == total
    assert await cluster.count("SELECT count(*) FROM review_tasks") == total
    assert len(ledger.claims) == len(ledger.reviews) == total
    assert await cluster.count("SELECT count(*) FROM reviews WHERE state = 'submitted'") == total
    for task_id, review_id in ledger.reviews.items():
        assert 1 == await cluster.count(
            "SELECT count(*) FROM reviews r JOIN review_tasks t ON t.id = r.task_id"
            " WHERE r.id = CAST(:review AS uuid) AND t.id = CAST(:task AS uuid)"
            " AND t.state = 'completed'",
            review=review_id,
            task=task_id,
        )
    assert await cluster.count("SELECT count(*) FROM awards") == total
    assert ledger.statuses[500] == 0 and ledger.unavailable_without_hint == 0
    assert await rt.redis.zcard(open_key) == 0


async def _at_least(ledger: Ledger, n: int) -> bool:
    await asyncio.sleep(0)
    return len(ledger.reviews) >= n
