"""A worker killed in the middle of a job, and a web process killed in the middle of an action:
the work is done again later, exactly once (no second badge, no second notification).

"The middle" is made exact without any hook in the app: the test holds the submission's row
lock, so the job (or the request) stops at its first locking read; the process is killed
while it waits, and the lock is let go only afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import Role
from tests import factories as f
from tests.factories import auth, latest_version_id
from tests.faults.conftest import Cluster, submit_packet, until
from workers.main import JOB_LEASE_SECONDS


@contextlib.asynccontextmanager
async def row_locked(cluster: Cluster, submission_id: str) -> AsyncIterator[AsyncConnection]:
    async with cluster.runtime.engine.connect() as conn:
        await conn.execute(
            # NO KEY UPDATE: blocks the actions' FOR UPDATE, but not foreign-key checks of
            # rows being inserted that point at the submission.
            text("SELECT 1 FROM submissions WHERE id = CAST(:id AS uuid) FOR NO KEY UPDATE"),
            {"id": submission_id},
        )
        try:
            yield conn
        finally:
            await conn.rollback()


async def someone_waits_for_a_row_lock(cluster: Cluster) -> bool:
    return 0 < await cluster.count(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')"
    )


async def notifications(cluster: Cluster, kind: str) -> int:
    return await cluster.count("SELECT count(*) FROM notifications WHERE kind = :k", k=kind)


async def test_work_cut_off_by_a_killed_process_is_done_again_exactly_once(
    cluster: Cluster,
) -> None:
    rt = cluster.runtime
    credential = await f.credential(rt, peer_reviews=1)
    earner = await f.token_for(rt, await f.person(rt, "earner", [Role.earner]))
    reviewer = await f.token_for(rt, await f.person(rt, "reviewer", [Role.reviewer]))
    base = await cluster.serve("web1")

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        # The packet is handed in while no worker runs: its check job waits in Redis.
        submission_id = await submit_packet(http, earner, credential.id)

    # 1. A worker takes the check job and is killed (SIGKILL) while it waits for the row.
    async with row_locked(cluster, submission_id):
        await cluster.worker("worker1")
        await until(lambda: someone_waits_for_a_row_lock(cluster), what="the job to start")
        cluster.kill("worker1")
        killed_at = time.monotonic()
    state = "SELECT state FROM submissions WHERE id = CAST(:id AS uuid)"
    async with rt.engine.connect() as conn:
        assert (await conn.execute(text(state), {"id": submission_id})).scalar_one() == "checking"

    # Another worker runs the job again once the dead one's job lease (10 s) runs out, though
    # the job timeout is 300 s (arq alone would hold the job for 310 s).
    await cluster.worker("worker2")

    async def in_review() -> bool:
        async with rt.engine.connect() as conn:
            found = (await conn.execute(text(state), {"id": submission_id})).scalar_one()
        return bool(found == "in_review")

    # The lease, plus a new worker's start-up on a busy machine.
    await until(in_review, seconds=JOB_LEASE_SECONDS + 20, what="the check job to run again")
    recovered_in = time.monotonic() - killed_at
    assert recovered_in < JOB_LEASE_SECONDS + 20
    assert await cluster.count("SELECT count(*) FROM review_tasks") == 1

    # The earner hears once the job has finished (the notification follows the commit).
    async def queued_once() -> bool:
        return await notifications(cluster, "submission.queued") >= 1

    await until(queued_once, what="the earner to hear the packet is queued")
    assert await notifications(cluster, "submission.queued") == 1

    # 2. A web process is killed after committing the review, before deciding the outcome.
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        claim = await http.post("/api/v1/tasks/claim-next", headers=auth(reviewer))
        assert claim.status_code == 201, claim.text
        lease_version, scores = await f.scores_for(http, reviewer, claim.json()["task_id"], 2)
        async with row_locked(cluster, submission_id):
            review = asyncio.create_task(
                http.post(
                    f"/api/v1/tasks/{claim.json()['task_id']}/review",
                    json={"lease_version": lease_version, "scores": scores, "feedback": "Good."},
                    headers=auth(reviewer),
                )
            )

            async def review_committed_outcome_waiting() -> bool:
                return await someone_waits_for_a_row_lock(cluster) and 1 == await cluster.count(
                    "SELECT count(*) FROM reviews WHERE state = 'submitted'"
                )

            await until(review_committed_outcome_waiting, what="the review, then the outcome")
            cluster.kill("web1")
            with contextlib.suppress(httpx.TransportError):
                await review
    assert await cluster.count("SELECT count(*) FROM outcomes") == 0

    # The worker's reconciliation (at start, then every minute) decides it; restart it to run now.
    cluster.procs["worker2"].terminate()
    cluster.procs.pop("worker2").wait()
    await cluster.worker("worker3")

    async def awarded() -> bool:
        return await cluster.count("SELECT count(*) FROM awards") > 0

    await until(awarded, what="the outcome and badge after the web process died")

    # 3. Both jobs delivered again (arq is at-least-once): nothing happens twice.
    version_id = await latest_version_id(rt, submission_id)
    again = [
        await rt.arq.enqueue_job("check_evidence", str(version_id), _job_id="check-again"),
        await rt.arq.enqueue_job("reconcile_outcomes", _job_id="reconcile-again"),
    ]
    results = [await job.result(timeout=30) for job in again if job is not None]
    assert results == ["passed", 0]

    assert await cluster.count("SELECT count(*) FROM review_tasks") == 1
    assert await cluster.count("SELECT count(*) FROM outcomes") == 1
    assert await cluster.count("SELECT count(*) FROM awards") == 1
    assert await notifications(cluster, "submission.queued") == 1
    assert await notifications(cluster, "submission.decided") == 1
    assert await notifications(cluster, "badge.awarded") == 1
