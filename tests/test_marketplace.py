"""The review marketplace's rules, each through the HTTP API against real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import Counter

import httpx
from sqlalchemy import text
from sqlmodel import col, func, select

from app import queue
from app.actions import catalog, tasks
from app.models import Award, Membership, Notification, ReviewTask, Role, TaskState
from app.runtime import Runtime
from app.specs import StackSpec
from tests import factories as f
from tests.factories import auth


async def _peers(runtime: Runtime, n: int = 2, **kw: str) -> list[tuple[object, str]]:
    out = []
    for i in range(n):
        user = await f.person(runtime, f"peer{i}", [Role.reviewer], school=kw.get("school"))
        out.append((user, await f.token_for(runtime, user)))
    return out


async def test_claim_race_has_exactly_one_winner_per_task(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earners = []
    for i in range(50):
        earner = await f.person(runtime, f"earner{i}")
        earners.append(await f.token_for(runtime, earner))
    for token in earners:
        await f.submitted(client, runtime, token, credential)
    async with runtime.sessions() as session:
        task_ids = [str(t) for t in (await session.exec(select(ReviewTask.id))).all()]
    assert len(task_ids) == 50
    reviewers = await f.many_reviewers(runtime, 300)

    async def tap(i: int, token: str) -> tuple[str, int]:
        task_id = task_ids[i % 50]
        response = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
        return task_id, response.status_code

    results = await asyncio.gather(*(tap(i, token) for i, (_, token) in enumerate(reviewers)))
    winners = Counter(task for task, status in results if status == 201)
    assert set(winners.values()) == {1} and len(winners) == 50
    assert Counter(status for _, status in results) == {201: 50, 409: 250}
    async with runtime.sessions() as session:
        claimed = (
            await session.exec(select(ReviewTask).where(ReviewTask.state == TaskState.claimed))
        ).all()
    assert len(claimed) == 50 and len({t.reviewer_id for t in claimed}) == 50
    key = queue.PoolKey(credential.id, "peer")
    assert await queue.open_count(runtime.redis, runtime.settings, key) == 0


async def test_full_low_stakes_flow_pass_and_badge(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    earner = await f.person(runtime, "earner")
    earner_token = await f.token_for(runtime, earner)
    submission_id = await f.submitted(client, runtime, earner_token, credential)
    for _user, token in await _peers(runtime):
        feed = (await client.get("/api/v1/tasks", headers=auth(token))).json()["tasks"]
        assert len(feed) >= 1
        assert "Earner" not in str(feed) and "earner@" not in str(feed)  # blind review
        claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
        assert claim.status_code == 201, claim.text
        task_id = claim.json()["task_id"]
        detail = (await client.get(f"/api/v1/tasks/{task_id}", headers=auth(token))).json()
        assert "earner" not in str(detail).lower().replace("earner_", "")
        version, scores = await f.scores_for(client, token, task_id, level=2)
        draft = await client.put(
            f"/api/v1/tasks/{task_id}/review",
            json={"lease_version": version, "scores": scores[:1], "feedback": "so far"},
            headers=auth(token),
        )
        assert draft.status_code == 200
        done = await client.post(
            f"/api/v1/tasks/{task_id}/review",
            json={"lease_version": version, "scores": scores, "feedback": "Strong work."},
            headers=auth(token),
        )
        assert done.status_code == 201, done.text
        assert done.json()["recommendation"] == "pass"
    result = (
        await client.get(f"/api/v1/submissions/{submission_id}", headers=auth(earner_token))
    ).json()
    assert result["state"] == "passed"
    assert result["versions"][0]["outcome"]["rule"] == "low stakes: 2 peer reviews agreed"
    assert len(result["versions"][0]["feedback"]) == 2
    async with runtime.sessions() as session:
        award = (await session.exec(select(Award))).one()
        kinds = (
            await session.exec(
                select(Notification.kind)
                .where(Notification.user_id == earner.id)
                .order_by(col(Notification.id))
            )
        ).all()
    assert award.user_id == earner.id and award.credential_id == credential.id
    assert kinds[-2:] == ["submission.decided", "badge.awarded"]
    assert "submission.claimed" in kinds and "review.received" in kinds


async def _review(client: httpx.AsyncClient, token: str, level: int) -> httpx.Response:
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert claim.status_code == 201, claim.text
    task_id = claim.json()["task_id"]
    version, scores = await f.scores_for(client, token, task_id, level)
    return await client.post(
        f"/api/v1/tasks/{task_id}/review",
        json={"lease_version": version, "scores": scores, "feedback": "Feedback."},
        headers=auth(token),
    )


async def test_disagreeing_peers_escalate_to_an_expert_who_decides(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    submission_id = await f.submitted(client, runtime, earner_token, credential)
    (_, pass_token), (_, fail_token) = await _peers(runtime)
    assert (await _review(client, pass_token, 3)).json()["recommendation"] == "pass"
    assert (await _review(client, fail_token, 0)).json()["recommendation"] == "not_yet"
    async with runtime.sessions() as session:
        expert_task = (
            await session.exec(select(ReviewTask).where(ReviewTask.pool == "expert"))
        ).one()
    assert expert_task.reason == "escalation" and expert_task.state == "open"
    # Peers do not see expert work; the expert does.
    peer3 = await f.person(runtime, "peer3", [Role.reviewer])
    assert (
        await client.get("/api/v1/tasks", headers=auth(await f.token_for(runtime, peer3)))
    ).json()["tasks"] == []
    expert_token = await f.token_for(runtime, await f.person(runtime, "expert", [Role.expert]))
    assert (await _review(client, expert_token, 0)).status_code == 201
    result = (
        await client.get(f"/api/v1/submissions/{submission_id}", headers=auth(earner_token))
    ).json()
    assert result["state"] == "not_yet"
    assert result["versions"][0]["outcome"]["rule"] == "peers disagreed; the expert decided"


async def test_high_stakes_go_to_experts_only(client: httpx.AsyncClient, runtime: Runtime) -> None:
    credential = await f.credential(runtime, stakes="high")
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    submission_id = await f.submitted(client, runtime, earner_token, credential)
    ((_, peer_token),) = await _peers(runtime, 1)
    assert (await client.get("/api/v1/tasks", headers=auth(peer_token))).json()["tasks"] == []
    assert (
        await client.post("/api/v1/tasks/claim-next", headers=auth(peer_token))
    ).status_code == 404
    expert_token = await f.token_for(runtime, await f.person(runtime, "expert", [Role.expert]))
    assert (await _review(client, expert_token, 2)).status_code == 201
    result = (
        await client.get(f"/api/v1/submissions/{submission_id}", headers=auth(earner_token))
    ).json()
    assert result["state"] == "passed"
    assert result["versions"][0]["outcome"]["rule"].startswith("high stakes")


async def test_eligibility_refusals(client: httpx.AsyncClient, runtime: Runtime) -> None:
    credential = await f.credential(runtime, exclude_same_school=True)
    earner = await f.person(runtime, "earner", [Role.reviewer], school="Lincoln School")
    earner_token = await f.token_for(runtime, earner)
    await f.submitted(client, runtime, earner_token, credential)
    async with runtime.sessions() as session:
        task_id = (await session.exec(select(ReviewTask.id))).first()

    async def refused(token: str) -> None:
        assert (await client.get("/api/v1/tasks", headers=auth(token))).json()["tasks"] == []
        response = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
        assert response.status_code == 404, response.text

    # The earner, on their own submission.
    await refused(earner_token)
    # Someone without the reviewer role.
    await refused(await f.token_for(runtime, await f.person(runtime, "nobody")))
    # A reviewer from the earner's school.
    await refused(
        await f.token_for(
            runtime, await f.person(runtime, "colleague", [Role.reviewer], school="lincoln school")
        )
    )
    # A suspended reviewer.
    suspended = await f.person(runtime, "suspended", [Role.reviewer])
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE memberships SET suspended_at = now(), suspension_reason = 'x' "
                "WHERE user_id = :u"
            ),
            {"u": suspended.id},
        )
    await refused(await f.token_for(runtime, suspended))
    # A reviewer of another organisation.
    await f.organisation(runtime, "ctq")
    await refused(
        await f.token_for(runtime, await f.person(runtime, "other", [Role.reviewer], org="ctq"))
    )
    # A reviewer already on this submission cannot take its second task.
    ((_, token),) = await _peers(runtime, 1)
    assert (
        await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
    ).status_code == 201
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).status_code in (
        404,
        409,
    )


async def test_earn_it_to_assess_it(client: httpx.AsyncClient, runtime: Runtime) -> None:
    prerequisite = await f.credential(runtime, "prerequisite")
    credential = await f.credential(runtime, "advanced")
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE credentials SET required_badge_credential_id = :p WHERE id = :c"),
            {"p": prerequisite.id, "c": credential.id},
        )
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    reviewer = await f.person(runtime, "reviewer", [Role.reviewer])
    token = await f.token_for(runtime, reviewer)
    assert (await client.get("/api/v1/tasks", headers=auth(token))).json()["tasks"] == []
    async with runtime.sessions() as session:
        session.add(Award(user_id=reviewer.id, credential_id=prerequisite.id, recipient_salt="s"))
        await session.commit()
    assert len((await client.get("/api/v1/tasks", headers=auth(token))).json()["tasks"]) == 2


async def test_release_and_expiry_return_the_task_and_fence_old_writes(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    (reviewer, token), (_, other_token) = await _peers(runtime)
    claim = (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).json()
    task_id, version = claim["task_id"], claim["lease_version"]
    released = await client.post(
        f"/api/v1/tasks/{task_id}/release", json={"lease_version": version}, headers=auth(token)
    )
    assert released.status_code == 200
    key = queue.PoolKey(credential.id, "peer")
    assert await queue.open_count(runtime.redis, runtime.settings, key) == 1
    # A replayed release of the old claim changes nothing.
    replay = await client.post(
        f"/api/v1/tasks/{task_id}/release", json={"lease_version": version}, headers=auth(token)
    )
    assert replay.status_code == 409
    second = (await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(other_token))).json()
    _, scores = await f.scores_for(client, other_token, task_id, 2)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE review_tasks SET lease_expires_at = now() - interval '1 second'")
        )
    assert await tasks.expire_leases(runtime) == 1
    assert await tasks.expire_leases(runtime) == 0  # idempotent
    late = await client.post(
        f"/api/v1/tasks/{task_id}/review",
        json={"lease_version": second["lease_version"], "scores": scores, "feedback": "late"},
        headers=auth(other_token),
    )
    assert late.status_code == 409
    assert late.json()["error"] == "claim_gone" and "no longer yours" in late.json()["detail"]
    assert await queue.open_count(runtime.redis, runtime.settings, key) == 1
    async with runtime.sessions() as session:
        told = (
            await session.exec(
                select(Notification.kind).where(Notification.kind == "claim.expired")
            )
        ).all()
    assert told == ["claim.expired"]


async def test_redis_flushall_then_rebuild_loses_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=2)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    (_, token), (_, token2) = await _peers(runtime)
    claim = (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).json()
    keys = [k async for k in runtime.redis.scan_iter(match=runtime.settings.redis_prefix + "*")]
    await runtime.redis.delete(*keys)  # this test's whole namespace: FLUSHALL for one MCX
    # Claims still work (PostgreSQL decides) before the rebuild...
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(token2))).status_code == 201
    counts = await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)
    assert counts == {"open": 0, "claimed": 2, "stale_removed": 0}
    version, scores = await f.scores_for(client, token, claim["task_id"], 2)
    done = await client.post(
        f"/api/v1/tasks/{claim['task_id']}/review",
        json={"lease_version": version, "scores": scores, "feedback": "fine"},
        headers=auth(token),
    )
    assert done.status_code == 201


async def test_withdraw_and_edit_only_until_first_claim(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    submission_id = await f.submitted(client, runtime, earner_token, credential)
    edit = await client.post(
        f"/api/v1/submissions/{submission_id}/edit", headers=auth(earner_token)
    )
    assert edit.status_code == 200 and edit.json()["state"] == "draft"
    async with runtime.sessions() as session:
        states = (await session.exec(select(ReviewTask.state))).all()
    assert set(states) == {"cancelled"}
    await client.post(f"/api/v1/submissions/{submission_id}/submit", headers=auth(earner_token))
    from app.actions.submissions import check_evidence
    from tests.factories import latest_version_id

    await check_evidence(runtime, await latest_version_id(runtime, submission_id))
    ((_, token),) = await _peers(runtime, 1)
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).status_code == 201
    too_late = await client.post(
        f"/api/v1/submissions/{submission_id}/withdraw", headers=auth(earner_token)
    )
    assert too_late.status_code == 409 and too_late.json()["error"] == "already_claimed"


async def test_not_yet_then_resubmission_keeps_history(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    submission_id = await f.submitted(client, runtime, earner_token, credential)
    (_, token), (_, token2) = await _peers(runtime)
    assert (await _review(client, token, 0)).status_code == 201
    revised = await client.post(
        f"/api/v1/submissions/{submission_id}/resubmit", headers=auth(earner_token)
    )
    assert revised.status_code == 201
    body = revised.json()
    assert [v["number"] for v in body["versions"]] == [1, 2]
    assert body["versions"][0]["outcome"]["decision"] == "not_yet"
    assert body["versions"][0]["feedback"] and body["versions"][1]["artifacts"]
    await client.post(f"/api/v1/submissions/{submission_id}/submit", headers=auth(earner_token))
    from app.actions.submissions import check_evidence
    from tests.factories import latest_version_id

    await check_evidence(runtime, await latest_version_id(runtime, submission_id))
    # The first reviewer is not offered the new version: never twice on one submission.
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).status_code == 404
    assert (await _review(client, token2, 2)).status_code == 201
    final = (
        await client.get(f"/api/v1/submissions/{submission_id}", headers=auth(earner_token))
    ).json()
    assert final["state"] == "passed"


async def test_notification_catch_up(client: httpx.AsyncClient, runtime: Runtime) -> None:
    credential = await f.credential(runtime)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    everything = (await client.get("/api/v1/notifications", headers=auth(earner_token))).json()[
        "notifications"
    ]
    assert [n["kind"] for n in everything] == ["submission.checking", "submission.queued"]
    after = everything[0]["id"]
    missed = (
        await client.get(f"/api/v1/notifications?after={after}", headers=auth(earner_token))
    ).json()
    assert [n["kind"] for n in missed["notifications"]] == ["submission.queued"]
    bad = await client.get("/api/v1/notifications?after=-1", headers=auth(earner_token))
    assert bad.status_code == 422


async def test_openapi_lists_the_api(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/tasks/{task_id}/claim", "/api/v1/submissions", "/api/v1/notifications"):
        assert path in doc["paths"]


async def test_bad_json_gets_a_clear_error(client: httpx.AsyncClient, runtime: Runtime) -> None:
    token = await f.token_for(
        runtime, await f.person(runtime, "someone") if await f.organisation(runtime) else None
    )
    response = await client.post(
        "/api/v1/submissions",
        content=b"{nope",
        headers={**auth(token), "content-type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"] == "bad_json"
    missing = await client.post(
        "/api/v1/submissions", json={"credential_id": str(uuid.uuid4())}, headers=auth(token)
    )
    assert missing.status_code == 404
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Membership))).one() == 0


async def test_badge_page_and_hosted_assertion(client: httpx.AsyncClient, runtime: Runtime) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner = await f.person(runtime, "earner")
    earner_token = await f.token_for(runtime, earner)
    await f.submitted(client, runtime, earner_token, credential)
    ((_, token),) = await _peers(runtime, 1)
    assert (await _review(client, token, 3)).status_code == 201
    async with runtime.sessions() as session:
        award = (await session.exec(select(Award))).one()
    page = await client.get(f"/badges/{award.id}")
    assert page.status_code == 200 and credential.title in page.text
    assert "Earner" not in page.text  # privacy "reviewers only": no name on the public page
    doc = (await client.get(f"/badges/{award.id}.json")).json()
    assert doc["type"] == "Assertion" and doc["verification"] == {"type": "HostedBadge"}
    salt = doc["recipient"]["salt"]
    expected = hashlib.sha256(("earner@mcx.example" + salt).encode()).hexdigest()
    assert doc["recipient"]["identity"] == "sha256$" + expected
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE awards SET revoked_at = now(), revocation_reason = 'copied evidence'")
        )
    gone = await client.get(f"/badges/{award.id}.json")
    assert gone.status_code == 410 and gone.json()["revocationReason"] == "copied evidence"
    assert (await client.get("/badges/not-a-uuid")).status_code == 404


async def test_bad_uploads_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    started = await client.post(
        "/api/v1/submissions",
        json={"credential_id": str(credential.id)},
        headers=auth(earner_token),
    )
    submission_id = started.json()["id"]
    criteria = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
    document = next(c for c in criteria["submission_criteria"] if c["kind"] == "document")
    url = f"/api/v1/submissions/{submission_id}/artifacts/{document['criterion_id']}"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    wrong = await client.post(
        url, content=png, headers={**auth(earner_token), "x-filename": "plan.pdf"}
    )
    assert wrong.status_code == 415 and wrong.json()["error"] == "wrong_type"
    empty = await client.post(
        url, content=b"", headers={**auth(earner_token), "x-filename": "a.pdf"}
    )
    assert empty.status_code == 400
    runtime.settings.upload_max_file_bytes = 1024
    big = await client.post(
        url,
        content=b"%PDF-1.4\n" + b"x" * 4096,
        headers={**auth(earner_token), "x-filename": "../../etc/passwd"},
    )
    assert big.status_code == 413
    stored = [p for p in runtime.settings.uploads_dir.rglob("*") if p.is_file()]
    assert stored == []
    detail = (
        await client.get(f"/api/v1/submissions/{submission_id}", headers=auth(earner_token))
    ).json()
    assert detail["versions"][0]["artifacts"] == []
    missing = await client.post(
        f"/api/v1/submissions/{submission_id}/submit", headers=auth(earner_token)
    )
    assert missing.status_code == 422 and "'Reflection'" in missing.json()["detail"]


async def test_artifact_access_matrix(client: httpx.AsyncClient, runtime: Runtime) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    started = await client.post(
        "/api/v1/submissions",
        json={"credential_id": str(credential.id)},
        headers=auth(earner_token),
    )
    submission_id = started.json()["id"]
    criteria = (await client.get(f"/api/v1/credentials/{credential.id}")).json()[
        "submission_criteria"
    ]
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    by_kind = {c["kind"]: c["criterion_id"] for c in criteria}
    uploaded = await client.post(
        f"/api/v1/submissions/{submission_id}/artifacts/{by_kind['document']}",
        content=pdf,
        headers={**auth(earner_token), "x-filename": "plan.pdf"},
    )
    assert uploaded.status_code == 201, uploaded.text
    artifact_url = f"/api/v1/artifacts/{uploaded.json()['artifact_id']}"
    await client.post(
        f"/api/v1/submissions/{submission_id}/artifacts/{by_kind['reflection']}",
        json={"text": "Reflection."},
        headers=auth(earner_token),
    )
    await client.post(f"/api/v1/submissions/{submission_id}/submit", headers=auth(earner_token))
    from app.actions.submissions import check_evidence
    from tests.factories import latest_version_id

    assert (
        await check_evidence(runtime, await latest_version_id(runtime, submission_id))
        == "in_review"
    )
    (_, reviewer_token), (_, other_token) = await _peers(runtime)
    coordinator_token = await f.token_for(
        runtime, await f.person(runtime, "coord", [Role.coordinator])
    )
    assert (await client.get(artifact_url, headers=auth(earner_token))).content == pdf
    assert (await client.get(artifact_url, headers=auth(coordinator_token))).status_code == 200
    assert (await client.get(artifact_url, headers=auth(reviewer_token))).status_code == 404
    assert (await client.get(artifact_url)).status_code == 404
    claim = (await client.post("/api/v1/tasks/claim-next", headers=auth(reviewer_token))).json()
    assert (await client.get(artifact_url, headers=auth(reviewer_token))).status_code == 200
    assert (await client.get(artifact_url, headers=auth(other_token))).status_code == 404
    await client.post(
        f"/api/v1/tasks/{claim['task_id']}/release",
        json={"lease_version": claim["lease_version"]},
        headers=auth(reviewer_token),
    )
    assert (await client.get(artifact_url, headers=auth(reviewer_token))).status_code == 404


async def test_rebuild_never_drops_work_opened_meanwhile_and_drops_what_is_gone(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    key = queue.PoolKey(credential.id, "peer")
    async with runtime.sessions() as session:
        task = (await session.exec(select(ReviewTask))).one()
    # A stale entry (a task PostgreSQL no longer has open) and a missing one (opened in Redis's
    # blind spot) are both repaired; the open task stays claimable throughout.
    ghost = uuid.uuid4()
    await runtime.redis.zadd(key.keys(runtime.settings)[0], {str(ghost): 1.0})
    counts = await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)
    assert counts["open"] == 1 and counts["stale_removed"] == 1
    assert await queue.open_count(runtime.redis, runtime.settings, key) == 1
    await runtime.redis.zrem(key.keys(runtime.settings)[0], str(task.id))
    ((_, token),) = await _peers(runtime, 1)
    # Redis has lost the task but the pool is marked built: PostgreSQL still lets the claim win.
    claim = await client.post(f"/api/v1/tasks/{task.id}/claim", headers=auth(token))
    assert claim.status_code == 201


async def test_completing_a_stack_awards_the_stack_badge(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first = await f.credential(runtime, "first", peer_reviews=1)
    second = await f.credential(runtime, "second", peer_reviews=1)
    async with runtime.sessions() as session:
        stack = await catalog.create_stack(
            session,
            StackSpec(
                slug="pair", organisation="ipa", title="Pair", credentials=["first", "second"]
            ),
        )
    earner = await f.person(runtime, "earner")
    earner_token = await f.token_for(runtime, earner)
    (_, token), (_, token2) = await _peers(runtime)
    await f.submitted(client, runtime, earner_token, first)
    assert (await _review(client, token, 2)).status_code == 201
    async with runtime.sessions() as session:
        assert (await session.exec(select(Award).where(Award.stack_id == stack.id))).first() is None
    await f.submitted(client, runtime, earner_token, second)
    assert (await _review(client, token2, 2)).status_code == 201
    async with runtime.sessions() as session:
        awards = (await session.exec(select(Award).where(Award.user_id == earner.id))).all()
    assert {a.credential_id for a in awards} == {first.id, second.id, None}
    assert [a.stack_id for a in awards if a.stack_id] == [stack.id]
