"""Claims as phones make them: double taps, idempotency keys, extending a lease once."""

from __future__ import annotations

import httpx
from sqlmodel import select

from app.models import Credential, ReviewTask, Role, TaskState
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth


async def _setup(client: httpx.AsyncClient, runtime: Runtime) -> tuple[str, str]:
    credential = await f.credential(runtime, peer_reviews=1)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    reviewer = await f.person(runtime, "reviewer", [Role.reviewer])
    async with runtime.sessions() as session:
        task_id = str((await session.exec(select(ReviewTask.id))).first())
    return task_id, await f.token_for(runtime, reviewer)


async def test_a_double_tap_on_claim_gets_the_same_claim(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    task_id, token = await _setup(client, runtime)
    first = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
    second = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    async with runtime.sessions() as session:
        task = (await session.exec(select(ReviewTask))).one()
    assert task.lease_version == first.json()["lease_version"] == 1


async def test_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    _, token = await _setup(client, runtime)
    async with runtime.sessions() as session:
        credential = (await session.exec(select(Credential))).one()
    other_earner = await f.token_for(runtime, await f.person(runtime, "earner2"))
    await f.submitted(client, runtime, other_earner, credential)  # more open work exists
    headers = {**auth(token), "Idempotency-Key": "tap-123"}
    first = await client.post("/api/v1/tasks/claim-next", headers=headers)
    again = await client.post("/api/v1/tasks/claim-next", headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    fresh = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert fresh.status_code == 409 and fresh.json()["error"] == "too_many_claims"
    bad = await client.post(
        "/api/v1/tasks/claim-next", headers={**auth(token), "Idempotency-Key": "no spaces!"}
    )
    assert bad.status_code == 400


async def test_extend_once_within_the_lease(client: httpx.AsyncClient, runtime: Runtime) -> None:
    task_id, token = await _setup(client, runtime)
    claim = (await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))).json()
    extended = await client.post(
        f"/api/v1/tasks/{task_id}/extend",
        json={"lease_version": claim["lease_version"]},
        headers=auth(token),
    )
    assert extended.status_code == 200
    assert extended.json()["lease_expires_at"] > claim["lease_expires_at"]
    assert extended.json()["extended"] is True
    twice = await client.post(
        f"/api/v1/tasks/{task_id}/extend",
        json={"lease_version": claim["lease_version"]},
        headers=auth(token),
    )
    assert twice.status_code == 409 and twice.json()["error"] == "already_extended"
    stale = await client.post(
        f"/api/v1/tasks/{task_id}/extend",
        json={"lease_version": claim["lease_version"] + 5},
        headers=auth(token),
    )
    assert stale.status_code == 409
    bad = await client.post(
        f"/api/v1/tasks/{task_id}/extend", json={"lease_version": "x"}, headers=auth(token)
    )
    assert bad.status_code == 422 and bad.json()["error"] == "invalid"
    async with runtime.sessions() as session:
        task = (await session.exec(select(ReviewTask))).one()
    assert task.state == TaskState.claimed and task.extended


async def test_a_lease_version_is_a_number_never_true(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    task_id, token = await _setup(client, runtime)
    claim = (await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))).json()
    assert claim["lease_version"] == 1  # what `true` would pass for, read laxly
    writes = [
        ("POST", "extend", {}),
        ("POST", "release", {}),
        ("PUT", "review", {"scores": [], "feedback": "x"}),
        ("POST", "review", {"scores": [], "feedback": "x"}),
        ("POST", "moments", {"artifact_id": task_id, "at_seconds": 1.0, "comment": "x"}),
    ]
    for bad in (True, "1", 1.0):
        for method, step, fields in writes:
            answer = await client.request(
                method,
                f"/api/v1/tasks/{task_id}/{step}",
                json={"lease_version": bad, **fields},
                headers=auth(token),
            )
            assert answer.status_code == 422, (bad, step, answer.text)
            assert answer.json()["error"] == "invalid"
            assert answer.json()["detail"].startswith("lease_version: "), answer.text
    async with runtime.sessions() as session:
        task = (await session.exec(select(ReviewTask))).one()
    assert task.state == TaskState.claimed and task.lease_version == 1 and not task.extended


async def test_someone_elses_claim_cannot_be_released_or_reviewed(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    task_id, token = await _setup(client, runtime)
    claim = (await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))).json()
    intruder = await f.token_for(runtime, await f.person(runtime, "intruder", [Role.reviewer]))
    forged = await client.post(
        f"/api/v1/tasks/{task_id}/release",
        json={"lease_version": claim["lease_version"]},
        headers=auth(intruder),
    )
    # A claim they never held is a task that is not there (404), not a claim that is gone.
    assert forged.status_code == 404 and forged.json()["error"] == "not_found"
    review = await client.post(
        f"/api/v1/tasks/{task_id}/review",
        json={"lease_version": claim["lease_version"], "scores": [], "feedback": "x"},
        headers=auth(intruder),
    )
    assert review.status_code == 404 and review.json()["error"] == "not_found"
    peek = await client.get(f"/api/v1/tasks/{task_id}", headers=auth(intruder))
    assert peek.status_code == 404
    async with runtime.sessions() as session:
        task = (await session.exec(select(ReviewTask))).one()
    assert task.state == TaskState.claimed and task.lease_version == claim["lease_version"]
