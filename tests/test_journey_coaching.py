"""Attempts and coaching (issue 10): a credential allows three attempts by default; after the
third "not yet" resubmitting is refused and a coaching request is offered, which the issuer's
coordinators see and close (audited, the earner told)."""

from __future__ import annotations

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from app.actions.submissions import check_evidence
from app.models import AuditEntry, CoachingRequest, Notification, Role
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth, latest_version_id
from tests.journey import browser, decide, reviewers, sign_in


async def _not_yet(
    client: httpx.AsyncClient, runtime: Runtime, token: str, submission_id: str, peers: list[str]
) -> None:
    """Submit the current version, through the check, and have two peers say not yet."""
    submitted = await client.post(
        f"/api/v1/submissions/{submission_id}/submit", headers=auth(token)
    )
    assert submitted.status_code == 202, submitted.text
    assert (
        await check_evidence(runtime, await latest_version_id(runtime, submission_id))
        == "in_review"
    )
    await decide(client, peers, 0)


async def test_a_third_not_yet_offers_coaching_which_a_coordinator_closes(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    earner = await f.person(runtime, "ada")
    token = await f.token_for(runtime, earner)
    submission_id = await f.submitted(client, runtime, token, credential)
    await decide(client, await reviewers(runtime, 2, "a"), 0)
    await f.person(runtime, "coord", [Role.coordinator])

    session_token = await sign_in(client, "ada@mcx.example")
    for attempt, prefix in ((2, "b"), (3, "c")):
        page = await client.get(f"/submissions/{submission_id}")
        assert 'data-testid="resubmit-button"' in page.text
        assert 'data-testid="coaching-offer"' not in page.text
        again = await client.post(
            f"/submissions/{submission_id}/resubmit", data={"csrf_token": session_token}
        )
        assert again.status_code == 303
        await _not_yet(client, runtime, token, submission_id, await reviewers(runtime, 2, prefix))
        assert (
            f"Version {attempt} of 3 attempts"
            in (await client.get(f"/submissions/{submission_id}")).text
        )

    page = await client.get(f"/submissions/{submission_id}")
    assert 'data-testid="resubmit-button"' not in page.text
    assert 'data-testid="coaching-offer"' in page.text
    assert 'data-testid="appeal-button"' in page.text  # appealing is still open
    refused = await client.post(
        f"/api/v1/submissions/{submission_id}/resubmit", headers=auth(token)
    )
    assert refused.status_code == 409 and refused.json()["error"] == "attempts_used"

    asked = await client.post(
        f"/submissions/{submission_id}/coaching",
        data={"csrf_token": session_token, "message": "I do not see what the rubric wants."},
    )
    assert asked.status_code == 303
    twice = await client.post(
        f"/submissions/{submission_id}/coaching", data={"csrf_token": session_token}
    )
    assert twice.status_code == 409
    page = await client.get(f"/submissions/{submission_id}")
    assert 'data-testid="coaching-state"' in page.text

    async with browser(app) as coordinator:
        coord_token = await sign_in(coordinator, "coord@mcx.example")
        listing = await coordinator.get("/coaching")
        assert "I do not see what the rubric wants." in listing.text
        async with runtime.sessions() as session:
            request = (await session.exec(select(CoachingRequest))).one()
        closed = await coordinator.post(
            f"/coaching/{request.id}/close",
            data={"csrf_token": coord_token, "note": "Met on Zoom; plan agreed."},
        )
        assert closed.status_code == 303
        assert 'data-testid="no-coaching"' in (await coordinator.get("/coaching")).text

    async with runtime.sessions() as session:
        request = (await session.exec(select(CoachingRequest))).one()
        audit = [a.action for a in (await session.exec(select(AuditEntry))).all()]
        kinds = [n.kind for n in (await session.exec(select(Notification))).all()]
    assert request.state == "closed" and request.note == "Met on Zoom; plan agreed."
    assert "coaching.requested" in audit and "coaching.closed" in audit
    assert "coaching.requested" in kinds and "coaching.closed" in kinds


async def test_coaching_is_not_offered_before_the_last_attempt_nor_to_others(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "two", max_attempts=2)
    earner = await f.person(runtime, "ada")
    token = await f.token_for(runtime, earner)
    submission_id = await f.submitted(client, runtime, token, credential)
    await decide(client, await reviewers(runtime, 2, "a"), 0)
    early = await client.post(f"/api/v1/submissions/{submission_id}/resubmit", headers=auth(token))
    assert early.status_code == 201
    session_token = await sign_in(client, "ada@mcx.example")
    too_soon = await client.post(
        f"/submissions/{submission_id}/coaching", data={"csrf_token": session_token}
    )
    assert too_soon.status_code == 409
    await _not_yet(client, runtime, token, submission_id, await reviewers(runtime, 2, "b"))
    assert (
        'data-testid="coaching-offer"' in (await client.get(f"/submissions/{submission_id}")).text
    )

    await f.organisation(runtime, "ctq")
    await f.person(runtime, "stranger")
    await f.person(runtime, "ctqcoord", [Role.coordinator], org="ctq")
    async with browser(app) as other:
        other_token = await sign_in(other, "stranger@mcx.example")
        stolen = await other.post(
            f"/submissions/{submission_id}/coaching", data={"csrf_token": other_token}
        )
        assert stolen.status_code == 404
    asked = await client.post(
        f"/submissions/{submission_id}/coaching", data={"csrf_token": session_token}
    )
    assert asked.status_code == 303
    async with runtime.sessions() as session:
        request = (await session.exec(select(CoachingRequest))).one()
    async with browser(app, 2) as ctq:
        ctq_token = await sign_in(ctq, "ctqcoord@mcx.example")
        assert 'data-testid="coaching-request"' not in (await ctq.get("/coaching")).text
        refused = await ctq.post(f"/coaching/{request.id}/close", data={"csrf_token": ctq_token})
        assert refused.status_code == 404
    async with runtime.sessions() as session:
        assert (await session.exec(select(CoachingRequest))).one().state == "open"
