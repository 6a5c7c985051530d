"""The fast lane (app/fastlane.py) answers rush hour's API requests exactly as the full stack
does: the same status, JSON and headers, whichever way a request is routed."""

from __future__ import annotations

import uuid

import httpx

from app.models import Role
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth

# A cookie sends a request through the full stack (browsers' sessions are never fast-laned).
FULL_STACK = {"Cookie": "unrelated=1"}
SAME_HEADERS = (
    "content-type",
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "permissions-policy",
    "cross-origin-opener-policy",
)


def _same(fast: httpx.Response, full: httpx.Response) -> None:
    assert fast.status_code == full.status_code
    assert fast.json() == full.json()
    for name in SAME_HEADERS:
        assert fast.headers.get(name) == full.headers.get(name), name


async def test_the_fast_lane_and_the_full_stack_answer_alike(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=2)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    token = await f.token_for(runtime, await f.person(runtime, "reviewer", [Role.reviewer]))
    headers = auth(token)

    listed = await client.get("/api/v1/tasks", headers=headers)
    _same(listed, await client.get("/api/v1/tasks", headers={**headers, **FULL_STACK}))
    assert len(listed.json()["tasks"]) == 2

    for path in (f"/api/v1/tasks/{uuid.uuid4()}/claim", "/api/v1/tasks/claim-next"):
        bad = {"Authorization": "Bearer mcx_not-a-token"}
        _same(
            await client.post(path, headers=bad),
            await client.post(path, headers={**bad, **FULL_STACK}),
        )
    missing = f"/api/v1/tasks/{uuid.uuid4()}/claim"
    _same(
        await client.post(missing, headers=headers),
        await client.post(missing, headers={**headers, **FULL_STACK}),
    )

    first = listed.json()["tasks"][0]["task_id"]
    won = await client.post(f"/api/v1/tasks/{first}/claim", headers=headers)
    again = await client.post(f"/api/v1/tasks/{first}/claim", headers={**headers, **FULL_STACK})
    _same(won, again)  # a double tap gets the same claim
    assert won.status_code == 201
    capped = await client.post("/api/v1/tasks/claim-next", headers=headers)
    _same(capped, await client.post("/api/v1/tasks/claim-next", headers={**headers, **FULL_STACK}))
    assert capped.status_code == 409 and capped.json()["error"] == "too_many_claims"


async def test_token_use_is_written_in_one_batch_off_the_request_path(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from sqlmodel import select

    from app.auth import flush_last_used
    from app.models import ApiToken

    await f.organisation(runtime)
    tokens = [await f.token_for(runtime, await f.person(runtime, f"p{i}")) for i in range(3)]
    for token in tokens:
        assert (await client.get("/api/v1/tasks", headers=auth(token))).status_code == 200

    async def last_used() -> list[object]:
        async with runtime.sessions() as session:
            return [t.last_used_at for t in (await session.exec(select(ApiToken))).all()]

    assert await last_used() == [None, None, None]  # nothing written while answering
    assert await flush_last_used(runtime.sessions) == 3
    first = await last_used()
    assert all(first)
    assert (await client.get("/api/v1/tasks", headers=auth(tokens[0]))).status_code == 200
    assert await flush_last_used(runtime.sessions) == 1
    assert await last_used() == first  # to the minute is enough: not rewritten
