"""Appeals ruled in the coordinator's pages (recorded, the earner told); every state change
of a submission in its audit log, viewable per submission; the coordinators' log."""

from __future__ import annotations

import re

import httpx
from sqlmodel import select

from app.models import Award, Notification, Role
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"


async def _not_yet(client: httpx.AsyncClient, runtime: Runtime) -> tuple[str, str, object]:
    credential = await f.credential(runtime)
    earner = await f.person(runtime, "earner")
    earner_token = await f.token_for(runtime, earner)
    submission_id = await f.submitted(client, runtime, earner_token, credential)
    for label in ("p1", "p2"):
        token = await f.token_for(runtime, await f.person(runtime, label, [Role.reviewer]))
        claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
        task_id = claim.json()["task_id"]
        version, scores = await f.scores_for(client, token, task_id, 0)
        done = await client.post(
            f"/api/v1/tasks/{task_id}/review",
            json={"lease_version": version, "scores": scores, "feedback": "Not yet."},
            headers=auth(token),
        )
        assert done.status_code == 201
    appealed = await client.post(
        f"/api/v1/submissions/{submission_id}/appeal",
        json={"reason": "The reviewers missed my second video clip."},
        headers=auth(earner_token),
    )
    assert appealed.status_code == 201, appealed.text
    return submission_id, appealed.json()["appeal_id"], earner


async def test_a_coordinator_rules_on_an_appeal_and_the_record_shows_every_step(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    submission_id, appeal_id, earner = await _not_yet(client, runtime)
    await f.person(runtime, "coord", [Role.coordinator])
    await log_in(client, "coord@mcx.example", PASSWORD)
    page = await client.get("/coordinate/appeals")
    assert page.status_code == 200 and "missed my second video clip" in page.text
    token = await csrf_from(client, "/coordinate/appeals")
    bad = await client.post(
        f"/coordinate/appeals/{appeal_id}",
        data={"csrf_token": token, "decision": "maybe", "ruling": "x"},
    )
    assert bad.status_code == 422
    ruled = await client.post(
        f"/coordinate/appeals/{appeal_id}",
        data={"csrf_token": token, "decision": "overturn", "ruling": "The clip meets level 3."},
    )
    assert ruled.status_code == 303
    assert "Ruled: overturned" in (await client.get("/coordinate/appeals")).text
    again = await client.post(
        f"/coordinate/appeals/{appeal_id}",
        data={"csrf_token": token, "decision": "uphold", "ruling": "Changed my mind."},
    )
    assert again.status_code == 409
    async with runtime.sessions() as session:
        told = (
            await session.exec(
                select(Notification)
                .where(Notification.user_id == earner.id)  # type: ignore[attr-defined]
                .where(Notification.kind == "appeal.ruled")
            )
        ).one()
        assert told.payload["ruling"] == "The clip meets level 3."
        assert (await session.exec(select(Award))).one()
    record = await client.get(f"/coordinate/submissions/{submission_id}")
    assert record.status_code == 200
    actions = re.findall(r'data-action="([^"]+)"', record.text)
    assert actions[:1] == ["submission.state"] and "appeal.opened" in actions
    assert "appeal.overturned" in actions and "submission.submitted" in actions
    # The database logged every state change, whoever made it.
    steps = re.findall(r"submission\.state: (\w+) → (\w+)", record.text)
    assert steps == [
        ("new", "draft"),
        ("draft", "checking"),
        ("checking", "in_review"),
        ("in_review", "not_yet"),
        ("not_yet", "passed"),
    ]
    log = await client.get("/coordinate/audit")
    assert "appeal.overturned" in log.text
    # Another organisation's coordinator sees neither the record nor the appeal.
    await f.organisation(runtime, "ctq")
    await f.person(runtime, "other", [Role.coordinator], org="ctq")
    await log_in(client, "other@mcx.example", PASSWORD)
    assert (await client.get(f"/coordinate/submissions/{submission_id}")).status_code == 404
    assert "missed my second video clip" not in (await client.get("/coordinate/appeals")).text
    other_token = await csrf_from(client, "/coordinate/appeals")
    refused = await client.post(
        f"/coordinate/appeals/{appeal_id}",
        data={"csrf_token": other_token, "decision": "uphold", "ruling": "No."},
    )
    assert refused.status_code == 404


async def test_every_coordinator_page_is_for_coordinators_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    credential = await f.credential(runtime)
    pages = [
        "/coordinate/credentials/new",
        f"/coordinate/credentials/{credential.id}/edit",
        "/coordinate/catalogue/import",
        "/coordinate/catalogue/ipa.json",
        "/coordinate/health",
        "/coordinate/health.json",
        "/coordinate/health/live",
        "/coordinate/people",
        "/coordinate/stacks",
        "/coordinate/appeals",
        "/coordinate/audit",
        f"/coordinate/submissions/{credential.id}",
    ]
    for path in pages:
        answer = await client.get(path)
        assert answer.status_code in (303, 401), path  # log in first
    for api in ("/api/v1/organisations/ipa/catalogue", "/api/v1/reports/holders"):
        assert (await client.get(api)).status_code == 401, api
    # An earner, a reviewer and a recognizer: every page looks missing.
    await f.person(runtime, "someone", [Role.earner, Role.reviewer, Role.recognizer])
    await log_in(client, "someone@mcx.example", PASSWORD)
    for path in pages:
        assert (await client.get(path)).status_code == 404, path
