"""Coordinator pages through HTTP: access, the settings form and its rules, the live queue."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from sqlmodel import col, select

from app.models import AuditEntry, Credential, ReviewTask, Role, TaskState
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"
TYPED = ("peer_reviews", "expert_reviews", "lease_minutes", "pilot_spots")


def form_of(credential: Credential, **changes: str) -> dict[str, str]:
    """The settings form as the page posts it, with `changes` applied."""
    data = {
        "stakes": credential.stakes,
        "peer_reviews": str(credential.peer_reviews),
        "expert_reviews": str(credential.expert_reviews),
        "required_badge_credential_id": "",
        "exclude_same_school": "0",
        "blind_review": "1",
        "lease_minutes": "",
        "pilot_spots": "" if credential.pilot_spots is None else str(credential.pilot_spots),
        "status": credential.status,
    }
    data.update(changes)
    return data


async def _coordinator(client: httpx.AsyncClient, runtime: Runtime, label: str = "coord") -> str:
    """Log a coordinator of "ipa" in; returns the page's CSRF token."""
    await f.person(runtime, label, [Role.coordinator])
    await log_in(client, f"{label}@mcx.example", PASSWORD)
    return await csrf_from(client, "/coordinate")


async def _post(
    client: httpx.AsyncClient, credential: Credential, token: str, data: dict[str, str]
) -> httpx.Response:
    return await client.post(
        f"/coordinate/credentials/{credential.id}", data={**data, "csrf_token": token}
    )


async def _reload(runtime: Runtime, credential: Credential) -> Credential:
    async with runtime.sessions() as session:
        fresh = await session.get(Credential, credential.id)
    assert fresh is not None
    return fresh


async def _audit(runtime: Runtime) -> list[AuditEntry]:
    async with runtime.sessions() as session:
        rows = await session.exec(
            select(AuditEntry).where(AuditEntry.action == "credential.settings_changed")
        )
        return list(rows.all())


async def _pools(runtime: Runtime, submission_id: str) -> dict[str, str]:
    """task id → pool, for one submission's tasks."""
    async with runtime.sessions() as session:
        rows = await session.exec(
            select(ReviewTask.id, ReviewTask.pool).where(
                ReviewTask.submission_id == uuid.UUID(submission_id)
            )
        )
        return {str(task_id): pool for task_id, pool in rows.all()}


async def test_pages_are_404_for_everyone_but_the_issuers_coordinators(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    paths = [
        f"/coordinate/credentials/{credential.id}",
        f"/coordinate/credentials/{credential.id}/queue.json",
    ]
    assert (await client.get("/coordinate")).status_code == 303  # log in first
    assert (await client.get(paths[1])).status_code == 401
    await f.organisation(runtime, "ctq")
    await f.person(runtime, "teacher", [Role.reviewer, Role.expert])
    await f.person(runtime, "other", [Role.coordinator], org="ctq")
    await log_in(client, "teacher@mcx.example", PASSWORD)
    assert (await client.get("/coordinate")).status_code == 404
    for path in paths:
        assert (await client.get(path)).status_code == 404
    await log_in(client, "other@mcx.example", PASSWORD)
    overview = await client.get("/coordinate")
    assert overview.status_code == 200 and credential.title not in overview.text
    for path in paths:
        assert (await client.get(path)).status_code == 404
    token = await csrf_from(client, "/coordinate")
    refused = await _post(client, credential, token, form_of(credential, stakes="high"))
    assert refused.status_code == 404
    assert (await _reload(runtime, credential)).stakes == "low"
    assert (await client.get(f"/coordinate/credentials/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/coordinate/credentials/not-a-uuid")).status_code == 404


async def test_overview_lists_my_credentials_with_their_work(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "coaching", title="Coaching", peer_reviews=2)
    await f.credential(runtime, "draft", title="Draft Work", status="draft", stakes="high")
    earner = await f.person(runtime, "earner")
    await f.submitted(client, runtime, await f.token_for(runtime, earner), credential)
    await _coordinator(client, runtime)
    page = (await client.get("/coordinate")).text
    assert "Coaching" in page and "Draft Work" in page
    assert "2 peer" in page and "1 expert" in page
    assert re.search(r'data-testid="coordinate-open">2<', page)
    assert re.search(r'data-testid="coordinate-claimed">0<', page)


async def test_a_valid_change_persists_and_is_audited(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "coaching")
    badge = await f.credential(runtime, "prerequisite")
    token = await _coordinator(client, runtime)
    page = await client.get(f"/coordinate/credentials/{credential.id}")
    assert page.status_code == 200 and 'data-testid="settings-form"' in page.text
    changes = form_of(
        credential,
        stakes="high",
        peer_reviews="3",
        expert_reviews="2",
        required_badge_credential_id=str(badge.id),
        exclude_same_school="1",
        blind_review="0",
        lease_minutes="45",
        status="pilot",
        pilot_spots="5",
    )
    saved = await _post(client, credential, token, changes)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/coordinate/credentials/{credential.id}"
    fresh = await _reload(runtime, credential)
    assert (fresh.stakes, fresh.peer_reviews, fresh.expert_reviews) == ("high", 3, 2)
    assert fresh.required_badge_credential_id == badge.id
    assert fresh.exclude_same_school and not fresh.blind_review
    assert (fresh.lease_minutes, fresh.status, fresh.pilot_spots) == (45, "pilot", 5)
    [entry] = await _audit(runtime)
    assert entry.subject_id == str(credential.id)
    assert entry.data["changes"]["stakes"] == ["low", "high"]
    assert entry.data["changes"]["required_badge_credential_id"] == [None, str(badge.id)]
    after = (await client.get(f"/coordinate/credentials/{credential.id}")).text
    assert 'data-testid="settings-saved"' in after and "Stakes" in after
    assert 'value="high" checked' in after and 'value="45"' in after
    # Saving the same values again changes nothing and writes no audit row.
    again = await _post(client, credential, token, {**changes, "pilot_spots": "5"})
    assert again.status_code == 303
    assert len(await _audit(runtime)) == 1
    # A blank lease means "the default" again.
    assert (await _post(client, credential, token, {"lease_minutes": " "})).status_code == 303
    assert (await _reload(runtime, credential)).lease_minutes is None


async def test_each_invalid_field_is_refused_with_its_message_and_nothing_changes(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "coaching")
    await f.organisation(runtime, "ctq")
    foreign = await f.credential(runtime, "elsewhere", organisation="ctq")
    token = await _coordinator(client, runtime)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"stakes": "medium"}, "Stakes: choose low"),
        ({"peer_reviews": "0"}, "Peer reviews: give a whole number from 1 to 9"),
        ({"peer_reviews": "10"}, "Peer reviews: give a whole number from 1 to 9"),
        ({"peer_reviews": "two"}, "Peer reviews: give a whole number from 1 to 9"),
        ({"expert_reviews": "6"}, "Expert reviews: give a whole number from 1 to 5"),
        ({"expert_reviews": ""}, "Expert reviews: give a whole number from 1 to 5"),
        ({"required_badge_credential_id": str(foreign.id)}, "Required badge: choose one"),
        ({"required_badge_credential_id": "nope"}, "Required badge: choose one"),
        ({"exclude_same_school": "maybe"}, "Same-school exclusion: must be on or off"),
        ({"blind_review": "2"}, "Blind review: must be on or off"),
        ({"lease_minutes": "0"}, "Lease length: give a whole number of minutes from 1 to 1440"),
        ({"lease_minutes": "1441"}, "Lease length: give a whole number of minutes"),
        ({"lease_minutes": "-5"}, "Lease length: give a whole number of minutes"),
        ({"pilot_spots": "-1"}, "Pilot spots: give a whole number from 0 to 100000"),
        ({"status": "pilot", "pilot_spots": ""}, "Pilot spots: a pilot needs a number of spots"),
        ({"status": "archived"}, "Status: choose draft, pilot, published or retired"),
    ]
    for bad, message in cases:
        # Every other field is a valid change: one bad field must stop them all.
        data = form_of(credential, stakes="high", peer_reviews="4", **{"lease_minutes": "20"})
        data.update(bad)
        response = await _post(client, credential, token, data)
        assert response.status_code == 422, bad
        assert message in response.text, (bad, response.text[:2000])
        assert (
            'data-testid="settings-errors"' in response.text
            and 'aria-invalid="true"' in response.text
        )
        for field, value in bad.items():
            if field in TYPED and value:
                assert f'value="{value}"' in response.text, field  # what was typed comes back
    fresh = await _reload(runtime, credential)
    assert (fresh.stakes, fresh.peer_reviews, fresh.lease_minutes) == ("low", 2, None)
    assert await _audit(runtime) == []


async def test_several_bad_fields_are_all_reported(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "coaching")
    token = await _coordinator(client, runtime)
    response = await _post(
        client, credential, token, form_of(credential, peer_reviews="0", lease_minutes="x")
    )
    assert response.status_code == 422
    assert "Peer reviews:" in response.text and "Lease length:" in response.text


async def test_publishing_needs_a_rubric_and_a_required_criterion(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    no_rubric = await f.credential(runtime, "bare", status="draft", rubric=None)
    optional_only = await f.credential(
        runtime,
        "optional",
        status="draft",
        submission_criteria=[{"title": "Photo", "kind": "image", "required": False}],
    )
    ready = await f.credential(runtime, "ready", status="draft")
    token = await _coordinator(client, runtime)
    for credential in (no_rubric, optional_only):
        for status in ("published", "pilot"):
            response = await _post(
                client, credential, token, form_of(credential, status=status, pilot_spots="3")
            )
            assert response.status_code == 422
            assert "Status: a credential needs a rubric and at least one required" in response.text
            assert (await _reload(runtime, credential)).status == "draft"
    published = await _post(client, ready, token, form_of(ready, status="published"))
    assert published.status_code == 303
    assert (await _reload(runtime, ready)).status == "published"
    assert 'href="/credentials/ipa/ready"' in (await client.get("/catalog")).text


async def test_pilot_spots_cannot_drop_below_those_taken(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "pilot", status="pilot", pilot_spots=3)
    for i in range(2):
        earner = await f.person(runtime, f"earner{i}")
        await f.submitted(client, runtime, await f.token_for(runtime, earner), credential)
    token = await _coordinator(client, runtime)
    refused = await _post(client, credential, token, form_of(credential, pilot_spots="1"))
    assert refused.status_code == 422 and "2 earners already hold a spot" in refused.text
    assert (
        await _post(client, credential, token, form_of(credential, pilot_spots="2"))
    ).status_code == 303


async def test_switching_to_high_stakes_sends_the_next_submission_to_experts_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "coaching", peer_reviews=2, expert_reviews=1)
    first = await f.person(runtime, "first")
    before = await f.submitted(client, runtime, await f.token_for(runtime, first), credential)
    token = await _coordinator(client, runtime)
    saved = await _post(client, credential, token, form_of(credential, stakes="high"))
    assert saved.status_code == 303
    second = await f.person(runtime, "second")
    after = await f.submitted(client, runtime, await f.token_for(runtime, second), credential)
    pools = {sid: await _pools(runtime, sid) for sid in (before, after)}
    assert sorted(pools[before].values()) == ["peer", "peer"]  # opened earlier: kept their pool
    assert list(pools[after].values()) == ["expert"]
    [expert_task] = pools[after]
    peer = await f.person(runtime, "peer", [Role.reviewer])
    expert = await f.person(runtime, "expert", [Role.expert])
    peer_feed = await client.get("/api/v1/tasks", headers=auth(await f.token_for(runtime, peer)))
    expert_feed = await client.get(
        "/api/v1/tasks", headers=auth(await f.token_for(runtime, expert))
    )
    assert expert_task not in peer_feed.text and expert_task in expert_feed.text
    assert all(task in peer_feed.text for task in pools[before])


async def test_queue_json_lists_open_and_claimed_tasks(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "coaching", peer_reviews=2)
    earner = await f.person(runtime, "earner")
    submission_id = await f.submitted(
        client, runtime, await f.token_for(runtime, earner), credential
    )
    reviewer = await f.person(runtime, "rita", [Role.reviewer])
    claim = await client.post(
        "/api/v1/tasks/claim-next", headers=auth(await f.token_for(runtime, reviewer))
    )
    assert claim.status_code == 201, claim.text
    await _coordinator(client, runtime)
    response = await client.get(f"/coordinate/credentials/{credential.id}/queue.json")
    assert response.status_code == 200
    queue = response.json()
    assert len(queue["open"]) == 1 and len(queue["claimed"]) == 1
    [held] = queue["claimed"]
    assert held["task_id"] == claim.json()["task_id"] and held["reviewer"] == "Rita"
    assert held["lease_expires_at"] and held["claimed_at"] and held["lease_left"].endswith("left")
    [waiting] = queue["open"]
    assert waiting["submission_id"] == submission_id and waiting["pool"] == "peer"
    assert waiting["waiting_seconds"] >= 0 and waiting["waiting"] == "under a minute"
    async with runtime.sessions() as session:
        states = (
            await session.exec(
                select(ReviewTask.state).where(
                    col(ReviewTask.submission_id) == uuid.UUID(submission_id)
                )
            )
        ).all()
    assert sorted(states) == [TaskState.claimed, TaskState.open]
    page = (await client.get(f"/coordinate/credentials/{credential.id}")).text
    assert 'data-testid="queue-open"' in page and "Rita" in page and "1 open · 1 claimed" in page
    assert '<script type="module" src="/static/coordinator.js"></script>' in page


async def test_forms_without_csrf_are_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    credential = await f.credential(runtime, "coaching")
    await _coordinator(client, runtime)
    response = await client.post(
        f"/coordinate/credentials/{credential.id}", data=form_of(credential, stakes="high")
    )
    assert response.status_code == 403
    forged = await client.post(
        f"/coordinate/credentials/{credential.id}",
        data={**form_of(credential, stakes="high"), "csrf_token": "forged"},
    )
    assert forged.status_code == 403
    assert (await _reload(runtime, credential)).stakes == "low"
