"""A web process killed while its reviewers hold claims: the leases run out and the tasks go
back to the queue, while the other web process keeps serving its own sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect

from app.actions.submissions import check_evidence
from app.models import Role
from tests import factories as f
from tests.factories import auth, latest_version_id
from tests.faults.conftest import Cluster, submit_packet


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] not in {"ping", "pong"}:
                return message


async def test_claims_of_a_killed_web_process_return_and_the_other_keeps_its_sockets(
    cluster: Cluster,
) -> None:
    rt = cluster.runtime
    credential = await f.credential(rt, peer_reviews=1)
    holders = [
        await f.token_for(rt, await f.person(rt, f"holder{i}", [Role.reviewer])) for i in range(2)
    ]
    watcher_user = await f.person(rt, "watcher", [Role.reviewer])
    watcher = await f.token_for(rt, watcher_user)
    base1 = await cluster.serve("web1")
    base2 = await cluster.serve("web2")

    async with httpx.AsyncClient(base_url=base1, timeout=30) as web1:
        for i in range(2):
            earner = await f.token_for(rt, await f.person(rt, f"earner{i}", [Role.earner]))
            submission_id = await submit_packet(web1, earner, credential.id)
            # No worker yet: the check runs here, as the worker would run it.
            assert (
                await check_evidence(rt, await latest_version_id(rt, submission_id)) == "in_review"
            )
        claims = {}
        for token in holders:
            claimed = await web1.post("/api/v1/tasks/claim-next", headers=auth(token))
            assert claimed.status_code == 201, claimed.text
            claims[claimed.json()["task_id"]] = (token, claimed.json()["lease_version"])

    ws_url = base2.replace("http://", "ws://") + "/ws"
    async with connect(ws_url, additional_headers=auth(watcher), open_timeout=30) as ws:
        assert (await next_event(ws))["type"] == "hello"

        cluster.kill("web1")
        # The leases' 30 minutes pass (moved in PostgreSQL, the clock every expiry reads).
        async with rt.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE review_tasks SET lease_expires_at = now() - interval '1 second'"
                    " WHERE state = 'claimed'"
                )
            )
        await cluster.worker()  # expires leases at start, then every 15 s

        returned = set()
        while returned != set(claims):
            event = await next_event(ws)
            if event.get("task_id") in claims and event["type"] != "task.claimed":
                returned.add(event["task_id"])

        # web2 goes on serving: the watcher claims a returned task over HTTP on it, and its
        # socket hears the claim.
        async with httpx.AsyncClient(base_url=base2, timeout=30) as web2:
            mine = await web2.post("/api/v1/tasks/claim-next", headers=auth(watcher))
            assert mine.status_code == 201, mine.text
            assert mine.json()["task_id"] in claims
            seen = await next_event(ws)
            assert seen["type"] == "task.claimed" and seen["task_id"] == mine.json()["task_id"]

            # The old holders' claims are gone for good: a review under them is refused.
            for task_id, (token, lease_version) in claims.items():
                late = await web2.post(
                    f"/api/v1/tasks/{task_id}/review",
                    json={"lease_version": lease_version, "feedback": "late"},
                    headers=auth(token),
                )
                assert late.status_code == 409 and late.json()["error"] == "claim_gone"

    assert cluster.alive("web2")
    assert await cluster.count("SELECT count(*) FROM review_tasks WHERE state = 'open'") == 1
    assert await cluster.count(
        "SELECT count(*) FROM notifications WHERE kind = 'claim.expired'"
    ) == len(claims)
