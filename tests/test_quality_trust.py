"""Trust: it orders claim-next, gates promotion to the expert pool (a coordinator approves),
and records each reviewer's distance from the consensus and from the expert."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import select
from starlette.applications import Starlette

from app.actions import calibration, trust
from app.errors import ActionError
from app.models import Membership, ReviewerStanding, ReviewTask, Role, Submission
from app.queue import hot
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.helpers import csrf_from, log_in
from tests.test_quality_calibration import _levels
from tests.test_quality_escalation import _review

PASSWORD = "factory-password-1"


async def _calibrate(runtime: Runtime, coordinator, credential, reviewer, right: bool) -> None:  # type: ignore[no-untyped-def]
    levels = await _levels(runtime, credential)
    example = await f.calibration_example(
        runtime, coordinator, credential, [2, 2], f"Example {uuid.uuid4().hex[:6]}"
    )
    await calibration.attempt_example(
        runtime, reviewer, example.id, {cid: ids[2 if right else 0] for cid, ids in levels}
    )


async def test_claim_next_offers_the_work_of_credentials_where_the_reviewer_is_most_trusted(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    trusted = await f.credential(runtime, "trusted")
    other = await f.credential(runtime, "other")
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    reviewer = await f.person(runtime, "rev", [Role.reviewer])
    token = await f.token_for(runtime, reviewer)
    for _ in range(3):  # three exact calibrations: trust 90 in "trusted"
        await _calibrate(runtime, coordinator, trusted, reviewer, right=True)
    for i, credential in enumerate([other, trusted]):
        earner_token = await f.token_for(runtime, await f.person(runtime, f"earner{i}"))
        await f.submitted(client, runtime, earner_token, credential)
    # The other credential's work is an hour older: oldest-first alone would offer it.
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE review_tasks t SET created_at = now() - interval '1 hour' "
                "FROM submissions s WHERE s.id = t.submission_id AND s.credential_id = :c"
            ),
            {"c": other.id},
        )
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert claim.status_code == 201
    async with runtime.sessions() as session:
        task = await session.get(ReviewTask, uuid.UUID(claim.json()["task_id"]))
        assert task is not None
        submission = await session.get(Submission, task.submission_id)
        standing = (await session.exec(select(ReviewerStanding))).one()
    assert standing.trust == 90.0
    assert submission is not None and submission.credential_id == trusted.id
    # A newcomer (trust 75 everywhere) is offered the oldest work first.
    newcomer_token = await f.token_for(runtime, await f.person(runtime, "new", [Role.reviewer]))
    first = await client.post("/api/v1/tasks/claim-next", headers=auth(newcomer_token))
    async with runtime.sessions() as session:
        task = await session.get(ReviewTask, uuid.UUID(first.json()["task_id"]))
        assert task is not None
        submission = await session.get(Submission, task.submission_id)
    assert submission is not None and submission.credential_id == other.id


async def test_promotion_to_expert_needs_trust_and_a_coordinators_approval(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    weak = await f.person(runtime, "weak", [Role.reviewer])
    strong = await f.person(runtime, "strong", [Role.reviewer])
    thin = await f.person(runtime, "thin", [Role.reviewer])
    await _calibrate(runtime, coordinator, credential, weak, right=False)  # trust 50
    await _calibrate(runtime, coordinator, credential, thin, right=True)  # 83.3, on one
    for _ in range(5):  # 100 x (1.5 + 5) / 7: 92.9, on five
        await _calibrate(runtime, coordinator, credential, strong, right=True)
    async with runtime.sessions() as session:
        standings = {s.reviewer_id: s for s in (await session.exec(select(ReviewerStanding))).all()}
    assert standings[strong.id].trust == 92.9 and standings[weak.id].trust == 50.0
    assert standings[thin.id].trust == 83.3
    for who in (weak, thin):  # too little trust; enough trust on too little evidence
        with pytest.raises(ActionError) as refused:
            await trust.promote_to_expert(runtime, coordinator, standings[who.id].id)
        assert refused.value.code == "not_trusted_enough"
    # A reviewer cannot promote themselves (the page is the coordinator's): 404.
    await log_in(client, strong.email, PASSWORD)
    token = await csrf_from(client, "/review")
    own = await client.post(
        f"/coordinate/quality/standings/{standings[strong.id].id}/promote",
        data={"csrf_token": token},
    )
    assert own.status_code == 404
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c:
        await log_in(c, coordinator.email, PASSWORD)
        page = (await c.get(f"/coordinate/quality/{credential.id}")).text
        assert page.count('data-testid="promote"') == 1
        promoted = await c.post(
            f"/coordinate/quality/standings/{standings[strong.id].id}/promote",
            data={"csrf_token": await csrf_from(c, f"/coordinate/quality/{credential.id}")},
        )
        assert promoted.status_code == 303
    async with runtime.sessions() as session:
        roles = (
            await session.exec(select(Membership.role).where(Membership.user_id == strong.id))
        ).all()
    assert sorted(roles) == ["expert", "reviewer"]


async def test_distance_from_consensus_and_from_the_expert_are_recorded(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    await _review(client, runtime, "p1", [3, 3])
    await _review(client, runtime, "p2", [0, 0])  # disagreement: an expert decides
    expert_token = await f.token_for(runtime, await f.person(runtime, "exp", [Role.expert]))
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(expert_token))
    version, scores = await f.scores_for(client, expert_token, claim.json()["task_id"], 2)
    await client.post(
        f"/api/v1/tasks/{claim.json()['task_id']}/review",
        json={"lease_version": version, "scores": scores, "feedback": "Meets."},
        headers=auth(expert_token),
    )
    async with runtime.sessions() as session:
        rows = (
            await session.exec(
                select(ReviewerStanding, Membership.role).join(
                    Membership, Membership.user_id == ReviewerStanding.reviewer_id
                )
            )
        ).all()
    peers = [s.components["distance"] for s, role in rows if role == "reviewer"]
    experts = [s.components["distance"] for s, role in rows if role == "expert"]
    # p2 scored 0 where the expert said 2 (two levels off), p1 scored 3 (one level off).
    assert sorted(d["expert"]["levels"] for d in peers) == [1.0, 2.0]
    assert all(d["expert"]["count"] == 2 for d in peers)
    # Consensus is the others' median: for p1 the lower middle of (0, 2) is 0, 3 levels off;
    # for p2 the lower middle of (3, 2) is 2, 2 levels off.
    assert sorted(d["consensus"]["levels"] for d in peers) == [2.0, 3.0]
    assert experts == [
        {"expert": {"levels": None, "count": 0}, "consensus": {"levels": 2.0, "count": 2}}
    ]


async def test_the_quality_gate_adds_no_query_to_a_claim(
    client: httpx.AsyncClient, runtime: Runtime, app: Starlette
) -> None:
    """The gate is joined into the one eligibility query: a claim on a credential that asks
    for calibration costs as many statements as one on a credential that does not."""
    from sqlalchemy import event

    plain = await f.credential(runtime, "plain")
    gated = await f.credential(runtime, "gated")
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await f.quality_policy(runtime, coordinator, gated, calibration_required=1)
    reviewer = await f.person(runtime, "rev", [Role.reviewer])
    token = await f.token_for(runtime, reviewer)
    await _calibrate(runtime, coordinator, gated, reviewer, right=True)
    task_ids = {}
    for i, credential in enumerate([plain, gated]):
        earner_token = await f.token_for(runtime, await f.person(runtime, f"earner{i}"))
        await f.submitted(client, runtime, earner_token, credential)
        async with runtime.sessions() as session:
            task_ids[credential.slug] = (
                await session.exec(
                    select(ReviewTask.id)
                    .join(Submission, Submission.id == ReviewTask.submission_id)
                    .where(Submission.credential_id == credential.id)
                )
            ).first()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    # The token's last use is written once a minute: get that write out of the way first.
    assert (await client.get("/api/v1/me", headers=auth(token))).status_code == 200
    # Who is asking, and which pools they may review, are cached: fill both first, so the
    # two claims compare the same warm path.
    assert (await client.get("/api/v1/tasks", headers=auth(token))).status_code == 200
    counts = {}
    logged: dict[str, list[str]] = {}
    # The app's own engine: the one its claim endpoint uses.
    engine = app.state.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    # The claim statement runs on the claim path's own connections (app.queue.hot).
    hot.OBSERVERS.append(lambda statement: statements.append(statement))
    try:
        for slug in ("plain", "gated"):
            statements.clear()
            claim = await client.post(f"/api/v1/tasks/{task_ids[slug]}/claim", headers=auth(token))
            assert claim.status_code == 201, claim.text
            counts[slug] = len(statements)
            logged[slug] = list(statements)
            release = await client.post(
                f"/api/v1/tasks/{task_ids[slug]}/release",
                json={"lease_version": claim.json()["lease_version"]},
                headers=auth(token),
            )
            assert release.status_code in (200, 204)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        hot.OBSERVERS.clear()
    assert counts["plain"] > 0 and counts["plain"] == counts["gated"], logged
    # ...and the gate was checked, inside the eligibility query.
    assert any("reviewer_standings" in sql for sql in logged["gated"])
