"""Worker jobs run for real: a burst arq worker against the test Redis and database."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlmodel import select

from app.models import Outcome, Role, SubmissionState
from app.runtime import Runtime
from app.settings import Settings
from tests import factories as f
from tests.factories import auth
from workers.main import build_worker
from workers.outcomes import reconcile_outcomes


async def test_a_burst_worker_checks_a_submitted_packet_into_the_queue(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    credential = await f.credential(runtime)
    token = await f.token_for(runtime, await f.person(runtime, "earner"))
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(token)
    )
    submission_id = started.json()["id"]
    criteria = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
    reflection = next(c for c in criteria["submission_criteria"] if c["kind"] == "reflection")
    await client.post(
        f"/api/v1/submissions/{submission_id}/artifacts/{reflection['criterion_id']}",
        json={"text": "Reflection"},
        headers=auth(token),
    )
    await client.post(f"/api/v1/submissions/{submission_id}/submit", headers=auth(token))
    worker = build_worker(settings, burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    state = (await client.get(f"/api/v1/submissions/{submission_id}", headers=auth(token))).json()
    assert state["state"] == SubmissionState.in_review
    feed = await client.get(
        "/api/v1/tasks",
        headers=auth(await f.token_for(runtime, await f.person(runtime, "rev", [Role.reviewer]))),
    )
    assert len(feed.json()["tasks"]) == 2


async def test_reconcile_decides_what_a_crash_left_undecided(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    token = await f.token_for(runtime, await f.person(runtime, "earner"))
    submission_id = await f.submitted(client, runtime, token, credential)
    from tests.test_marketplace import _review

    reviewer = await f.token_for(runtime, await f.person(runtime, "rev", [Role.reviewer]))
    assert (await _review(client, reviewer, 2)).status_code == 201
    # Pretend the process died after the review committed but before the outcome did.
    async with runtime.engine.begin() as conn:
        await conn.execute(text("DELETE FROM awards"))
        await conn.execute(text("DELETE FROM outcomes"))
        await conn.execute(text("UPDATE submissions SET state = 'in_review'"))
    assert await reconcile_outcomes({"runtime": runtime}) == 1
    assert await reconcile_outcomes({"runtime": runtime}) == 0
    async with runtime.sessions() as session:
        outcome = (await session.exec(select(Outcome))).one()
    assert outcome.decision == "pass"
    state = (await client.get(f"/api/v1/submissions/{submission_id}", headers=auth(token))).json()
    assert state["state"] == "passed"
