"""Routing after issue 21: a flagged pair is never routed each other's work, and a tie-break
task goes only to a trusted peer who is neither first reviewer's school nor kept off it: by the
real list, claim and claim-next API, Redis and PostgreSQL both."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlmodel import select

from app.actions import collusion
from app.models import (
    ReviewerPair,
    ReviewerStanding,
    ReviewTask,
    Role,
    SubmissionExclusion,
    User,
)
from app.queue import pools
from app.queue.keys import eligibility_gen_key, eligibility_key, reviewer_gen_key
from app.queue.rebuild import rebuild
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth


async def _flag(runtime: Runtime, credential_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID) -> None:
    low, high = sorted((a, b))
    async with runtime.sessions() as session:
        credential = await session.get(__import__("app.models").models.Credential, credential_id)
        assert credential is not None
        session.add(
            ReviewerPair(
                organisation_id=credential.organisation_id,
                credential_id=credential.id,
                reviewer_id=low,
                partner_id=high,
                score=collusion.FLAG_SCORE,
                evidence={"constructed": True},
            )
        )
        await session.commit()


async def test_a_flagged_pair_is_not_routed_each_others_work(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    partner = await f.person(runtime, "partner", [Role.reviewer])
    colluder = await f.person(runtime, "colluder", [Role.reviewer])
    honest = await f.person(runtime, "honest", [Role.reviewer])
    partner_token, colluder_token = (
        await f.token_for(runtime, partner),
        await f.token_for(runtime, colluder),
    )
    honest_token = await f.token_for(runtime, honest)
    await f.submitted(client, runtime, partner_token, credential)
    async with runtime.sessions() as session:
        task_id = str((await session.exec(select(ReviewTask.id))).one())
    # Before the flag the colluder sees the partner's packet (the control: the test can fail).
    listed = await client.get("/api/v1/tasks", headers=auth(colluder_token))
    assert listed.status_code == 200 and [t["task_id"] for t in listed.json()["tasks"]] == [task_id]

    await _flag(runtime, credential.id, partner.id, colluder.id)
    listed = await client.get("/api/v1/tasks", headers=auth(colluder_token))
    assert listed.status_code == 200 and listed.json()["tasks"] == []
    nothing = await client.post("/api/v1/tasks/claim-next", headers=auth(colluder_token))
    assert nothing.status_code == 404, nothing.text
    by_id = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(colluder_token))
    assert by_id.status_code == 404, by_id.text
    # Anyone else still gets it.
    taken = await client.post("/api/v1/tasks/claim-next", headers=auth(honest_token))
    assert taken.status_code == 201 and taken.json()["task_id"] == task_id


async def test_a_tiebreak_task_goes_only_to_a_trusted_peer_not_kept_off(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    submission_id = uuid.UUID(await f.submitted(client, runtime, earner_token, credential))
    low = await f.person(runtime, "newcomer", [Role.reviewer])  # trust 75, the prior
    kept = await f.person(runtime, "kept", [Role.reviewer])
    trusted = await f.person(runtime, "trusted", [Role.reviewer])
    unproven = await f.person(runtime, "unproven", [Role.reviewer])
    async with runtime.sessions() as session:
        task = (await session.exec(select(ReviewTask))).one()
        task.min_trust = 80.0
        task.reason = "tiebreak"
        session.add(task)
        for who in (kept, trusted):
            session.add(
                ReviewerStanding(
                    reviewer_id=who.id,
                    credential_id=credential.id,
                    trust=90,
                    components={"known_answer": {"score": 1.0, "count": 2}},
                )
            )
        # Trust 90 without a known-answer check behind it counts as the prior.
        session.add(
            ReviewerStanding(reviewer_id=unproven.id, credential_id=credential.id, trust=90)
        )
        session.add(
            SubmissionExclusion(submission_id=submission_id, reviewer_id=kept.id, reason="school")
        )
        await session.commit()
        task_id = str(task.id)
    await rebuild(runtime.engine, runtime.redis, runtime.settings)
    for who in (low, kept, unproven):
        token = await f.token_for(runtime, who)
        assert (await client.get("/api/v1/tasks", headers=auth(token))).json()["tasks"] == []
        assert (
            await client.post("/api/v1/tasks/claim-next", headers=auth(token))
        ).status_code == 404
        refused = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
        assert refused.status_code == 404, refused.text
    token = await f.token_for(runtime, trusted)
    taken = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert taken.status_code == 201 and taken.json()["task_id"] == task_id


async def test_claim_next_finds_work_when_eligibility_changes_again_right_after_caching(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy exchange (many credentials, each decision writing reviewer standings) may drop
    every cached eligibility between caching it and running the claim script: claim-next then
    asks PostgreSQL instead of answering "no work" while work is open."""
    credential = await f.credential(runtime, peer_reviews=1)
    earner = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner, credential)
    token = await f.token_for(runtime, await f.person(runtime, "reviewer", [Role.reviewer]))
    real = pools.cache

    async def cache_then_another_change(runtime: Runtime, reviewer: User) -> dict[str, str]:
        entry = await real(runtime, reviewer)
        await runtime.redis.incr(eligibility_gen_key(runtime.settings))  # lands at once
        return entry

    monkeypatch.setattr(pools, "cache", cache_then_another_change)
    claimed = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert claimed.status_code == 201, claimed.text
    async with runtime.sessions() as session:
        task = (await session.exec(select(ReviewTask))).one()
    assert claimed.json()["task_id"] == str(task.id) and task.state == "claimed"


async def test_a_standing_change_drops_only_that_reviewers_cached_eligibility(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Every review writes its reviewer's standing: that must not drop everyone's cache (a
    busy exchange would then ask PostgreSQL at every tap), only theirs, and at once."""
    credential = await f.credential(runtime, peer_reviews=1)
    moved = await f.person(runtime, "moved", [Role.reviewer])
    still = await f.person(runtime, "still", [Role.reviewer])
    for who in (moved, still):
        await pools.cache(runtime, who)
    gen_before = await runtime.redis.get(eligibility_gen_key(runtime.settings))

    async def cached(who: User) -> bool:
        exchange, own = await runtime.redis.mget(
            eligibility_gen_key(runtime.settings), reviewer_gen_key(runtime.settings, who.id)
        )
        key = eligibility_key(runtime.settings, f"{exchange or 0}.{own or 0}", who.id)
        return bool(await runtime.redis.exists(key))

    assert await cached(moved) and await cached(still)
    async with runtime.sessions() as session:
        session.add(ReviewerStanding(reviewer_id=moved.id, credential_id=credential.id, trust=20))
        await session.commit()
    for _ in range(50):  # the commit hook tells Redis in the background
        if not await cached(moved):
            break
        await asyncio.sleep(0.02)
    assert not await cached(moved)
    assert await cached(still)
    assert await runtime.redis.get(eligibility_gen_key(runtime.settings)) == gen_before
    # Cached afresh, the new trust is what the scripts read.
    entry = await pools.cache(runtime, moved)
    assert entry[f"{credential.id}:peer"].startswith("20|")


async def test_a_coordinators_api_client_sees_the_flagged_pairs_as_the_quality_page_does(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    one = await f.person(runtime, "one", [Role.reviewer])
    other = await f.person(runtime, "other", [Role.reviewer])
    await _flag(runtime, credential.id, one.id, other.id)
    coordinator = await f.token_for(runtime, await f.person(runtime, "coord", [Role.coordinator]))
    path = f"/api/v1/quality/{credential.id}/pairs"
    found = await client.get(path, headers=auth(coordinator))
    assert found.status_code == 200, found.text
    (pair,) = found.json()["pairs"]
    assert {r["name"] for r in pair["reviewers"]} == {"One", "Other"}
    assert pair["blocked"] is True and pair["score"] == collusion.FLAG_SCORE
    assert pair["evidence"] == {"constructed": True} and pair["cleared_at"] is None
    # The same authorization as the page: the coordinator of that issuer, nobody else.
    await f.organisation(runtime, "ctq")
    elsewhere = await f.person(runtime, "ctq-coord", [Role.coordinator], org="ctq")
    for token in (await f.token_for(runtime, elsewhere), await f.token_for(runtime, one)):
        assert (await client.get(path, headers=auth(token))).status_code == 404
    assert (await client.get(path)).status_code == 401
    missing = f"/api/v1/quality/{uuid.uuid4()}/pairs"
    assert (await client.get(missing, headers=auth(coordinator))).status_code == 404
