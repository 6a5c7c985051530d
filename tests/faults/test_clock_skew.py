"""Web processes whose clocks are hours wrong, and lease expiry delivered twice at once: leases
follow PostgreSQL's clock only, and nothing happens twice."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from app.actions import tasks
from app.actions.submissions import check_evidence
from app.models import Role
from tests import factories as f
from tests.factories import auth, latest_version_id
from tests.faults.conftest import Cluster, submit_packet

HOURS = 3600.0


async def test_a_skewed_web_clock_neither_cuts_a_lease_short_nor_stretches_it(
    cluster: Cluster,
) -> None:
    rt = cluster.runtime
    credential = await f.credential(rt, peer_reviews=1)
    ahead = await cluster.serve("ahead", clock_skew=+2 * HOURS)  # past every 30-minute lease
    behind = await cluster.serve("behind", clock_skew=-2 * HOURS)
    reviewers = [
        await f.token_for(rt, await f.person(rt, f"reviewer{i}", [Role.reviewer])) for i in range(3)
    ]
    async with httpx.AsyncClient(base_url=ahead, timeout=30) as http:
        for i in range(3):
            earner = await f.token_for(rt, await f.person(rt, f"earner{i}", [Role.earner]))
            submission_id = await submit_packet(http, earner, credential.id)
            assert (
                await check_evidence(rt, await latest_version_id(rt, submission_id)) == "in_review"
            )

    async def claim_and_score(base: str, token: str) -> tuple[str, dict[str, object]]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            claimed = await http.post("/api/v1/tasks/claim-next", headers=auth(token))
            assert claimed.status_code == 201, claimed.text
            task_id = claimed.json()["task_id"]
            lease_version, scores = await f.scores_for(http, token, task_id, 2)
        return task_id, {"lease_version": lease_version, "scores": scores, "feedback": "Good."}

    # A clock two hours fast must not think a fresh lease ran out.
    task_id, review = await claim_and_score(ahead, reviewers[0])
    async with httpx.AsyncClient(base_url=ahead, timeout=30) as http:
        done = await http.post(
            f"/api/v1/tasks/{task_id}/review", json=review, headers=auth(reviewers[0])
        )
    assert done.status_code == 201, done.text

    # A clock two hours slow must not accept a review after the lease ran out (by PostgreSQL's
    # clock), even before the sweeper has returned the task.
    task_id, review = await claim_and_score(behind, reviewers[1])
    async with rt.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE review_tasks SET lease_expires_at = now() - interval '1 second'"
                " WHERE id = CAST(:id AS uuid)"
            ),
            {"id": task_id},
        )
    async with httpx.AsyncClient(base_url=behind, timeout=30) as http:
        late = await http.post(
            f"/api/v1/tasks/{task_id}/review", json=review, headers=auth(reviewers[1])
        )
    assert late.status_code == 409 and late.json()["error"] == "claim_gone", late.text
    assert await cluster.count("SELECT count(*) FROM reviews WHERE state = 'submitted'") == 1

    # Lease expiry delivered twice at the same moment: each claim returns once, one notice each.
    await claim_and_score(behind, reviewers[2])
    async with rt.engine.begin() as conn:
        await conn.execute(
            text("UPDATE review_tasks SET lease_expires_at = now() WHERE state = 'claimed'")
        )
    counts = await asyncio.gather(tasks.expire_leases(rt), tasks.expire_leases(rt))
    assert sum(counts) == 2
    assert (
        await cluster.count("SELECT count(*) FROM notifications WHERE kind = 'claim.expired'") == 2
    )
    assert await cluster.count("SELECT count(*) FROM review_tasks WHERE state = 'open'") == 2
    assert await tasks.expire_leases(rt) == 0
