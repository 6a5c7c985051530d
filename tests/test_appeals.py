"""Appeals ruled by coordinators, and rubric versions that reviews keep."""

from __future__ import annotations

import httpx
from sqlmodel import select

from app.models import Award, Review, Role, Rubric
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.test_marketplace import _review


async def test_appeal_overturned_by_a_coordinator_awards_the_badge(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    submission_id = await f.submitted(client, runtime, earner_token, credential)
    reviewer_token = await f.token_for(runtime, await f.person(runtime, "rev", [Role.reviewer]))
    assert (await _review(client, reviewer_token, 0)).status_code == 201
    short = await client.post(
        f"/api/v1/submissions/{submission_id}/appeal",
        json={"reason": "no"},
        headers=auth(earner_token),
    )
    assert short.status_code == 422
    appeal = await client.post(
        f"/api/v1/submissions/{submission_id}/appeal",
        json={"reason": "The video shows every component; see minute 4."},
        headers=auth(earner_token),
    )
    assert appeal.status_code == 201
    again = await client.post(
        f"/api/v1/submissions/{submission_id}/appeal",
        json={"reason": "The video shows every component; see minute 4."},
        headers=auth(earner_token),
    )
    assert again.status_code == 409
    appeal_id = appeal.json()["appeal_id"]
    ruling = {"overturn": True, "ruling": "Evidence at 4:00 meets the rubric."}
    # Not a coordinator: the appeal does not exist for them.
    assert (
        await client.post(
            f"/api/v1/appeals/{appeal_id}/ruling", json=ruling, headers=auth(reviewer_token)
        )
    ).status_code == 404
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    coordinator_token = await f.token_for(runtime, coordinator)
    ruled = await client.post(
        f"/api/v1/appeals/{appeal_id}/ruling", json=ruling, headers=auth(coordinator_token)
    )
    assert ruled.status_code == 200 and ruled.json()["state"] == "overturned"
    result = (
        await client.get(f"/api/v1/submissions/{submission_id}", headers=auth(earner_token))
    ).json()
    assert result["state"] == "passed"
    assert result["versions"][0]["outcome"]["rule"].startswith("appeal overturned")
    async with runtime.sessions() as session:
        assert (await session.exec(select(Award))).one().credential_id == credential.id


async def test_a_revised_rubric_applies_to_new_packets_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    coordinator_token = await f.token_for(
        runtime, await f.person(runtime, "coord", [Role.coordinator])
    )
    levels = [{"label": "No", "points": 0}, {"label": "Yes", "points": 1}]
    revised = await client.put(
        f"/api/v1/credentials/{credential.id}/rubric",
        json={"min_level": 1, "criteria": [{"title": "Only one", "levels": levels}]},
        headers=auth(coordinator_token),
    )
    assert revised.status_code == 201 and revised.json()["version"] == 2
    broken = await client.put(
        f"/api/v1/credentials/{credential.id}/rubric",
        json={"min_level": 5, "criteria": [{"title": "x", "levels": levels}]},
        headers=auth(coordinator_token),
    )
    assert broken.status_code == 422
    reviewer_token = await f.token_for(runtime, await f.person(runtime, "rev", [Role.reviewer]))
    assert (await _review(client, reviewer_token, 2)).status_code == 201
    async with runtime.sessions() as session:
        review = (await session.exec(select(Review))).one()
        rubric = await session.get(Rubric, review.rubric_id)
    assert rubric is not None and rubric.version == 1
    second_token = await f.token_for(runtime, await f.person(runtime, "earner2"))
    second = await f.submitted(client, runtime, second_token, credential)
    other_token = await f.token_for(runtime, await f.person(runtime, "rev2", [Role.reviewer]))
    claim = (await client.post("/api/v1/tasks/claim-next", headers=auth(other_token))).json()
    task = (await client.get(f"/api/v1/tasks/{claim['task_id']}", headers=auth(other_token))).json()
    assert task["rubric"]["version"] == 2 and len(task["rubric"]["criteria"]) == 1
    assert second
