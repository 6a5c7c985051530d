"""Pilots: N spots, a submitted packet holds one; a full pilot's waitlist, in order; waiting
earners are told when a spot frees (withdrawal, more spots), each once."""

from __future__ import annotations

import httpx
from sqlmodel import col, select

from app.actions import pilots
from app.models import Notification, Role
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.helpers import csrf_from, log_in


async def _told(runtime: Runtime, user_id: object) -> int:
    async with runtime.sessions() as session:
        rows = await session.exec(
            select(Notification)
            .where(Notification.user_id == user_id)
            .where(col(Notification.kind) == "pilot.spot_free")
        )
        return len(rows.all())


async def test_a_full_pilot_waitlists_earners_and_tells_them_when_a_spot_frees(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "pilot", status="pilot", pilot_spots=3)
    earners = [await f.person(runtime, f"earner{i}") for i in range(5)]
    tokens = [await f.token_for(runtime, earner) for earner in earners]
    submissions = [await f.submitted(client, runtime, token, credential) for token in tokens[:3]]
    # Full: the fourth cannot start, and is told about the waitlist.
    full = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(tokens[3])
    )
    assert full.status_code == 409 and "waitlist" in full.json()["detail"]
    joined = await client.post(
        f"/api/v1/credentials/{credential.id}/waitlist", headers=auth(tokens[3])
    )
    assert joined.status_code == 201 and joined.json() == {"waiting": True, "position": 1}
    again = await client.post(
        f"/api/v1/credentials/{credential.id}/waitlist", headers=auth(tokens[3])
    )
    assert again.json()["position"] == 1  # a double tap changes nothing
    fifth = await client.post(
        f"/api/v1/credentials/{credential.id}/waitlist", headers=auth(tokens[4])
    )
    assert fifth.json()["position"] == 2
    # Someone holding a spot cannot queue for one.
    holder = await client.post(
        f"/api/v1/credentials/{credential.id}/waitlist", headers=auth(tokens[0])
    )
    assert holder.status_code == 409
    assert await _told(runtime, earners[3].id) == 0
    # One packet is withdrawn: the first in line is told, once; the second is not.
    withdrawn = await client.post(
        f"/api/v1/submissions/{submissions[0]}/withdraw", headers=auth(tokens[0])
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert await _told(runtime, earners[3].id) == 1
    assert await _told(runtime, earners[4].id) == 0
    assert await pilots.offer_free_spots(runtime, credential.id) == 0  # idempotent
    # The fourth takes the spot; the pilot is full again and the fifth is now first.
    await f.submitted(client, runtime, tokens[3], credential)
    async with runtime.sessions() as session:
        assert await pilots.position(session, earners[4], credential.id) == 1
        assert await pilots.waiting_count(session, credential.id) == 1
    # The coordinator adds a spot: the fifth is told.
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await log_in(client, "coord@mcx.example", "factory-password-1")
    token = await csrf_from(client, f"/coordinate/credentials/{credential.id}")
    saved = await client.post(
        f"/coordinate/credentials/{credential.id}",
        data={"csrf_token": token, "pilot_spots": "4"},
    )
    assert saved.status_code == 303 and coordinator
    assert await _told(runtime, earners[4].id) == 1


async def test_the_credential_page_offers_the_waitlist_when_full(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "tiny", status="pilot", pilot_spots=1)
    first = await f.person(runtime, "first")
    await f.submitted(client, runtime, await f.token_for(runtime, first), credential)
    await f.person(runtime, "late")
    await log_in(client, "late@mcx.example", "factory-password-1")
    page = await client.get("/credentials/ipa/tiny")
    assert 'data-testid="pilot-full"' in page.text and 'data-testid="waitlist-join"' in page.text
    token = await csrf_from(client, "/credentials/ipa/tiny")
    joined = await client.post(f"/credentials/{credential.id}/waitlist", data={"csrf_token": token})
    assert joined.status_code == 303
    page = await client.get("/credentials/ipa/tiny")
    assert "You are number 1 on the waitlist" in page.text
    left = await client.post(
        f"/credentials/{credential.id}/waitlist", data={"csrf_token": token, "leave": "1"}
    )
    assert left.status_code == 303
    assert 'data-testid="waitlist-join"' in (await client.get("/credentials/ipa/tiny")).text
    # A published credential has no waitlist.
    open_one = await f.credential(runtime, "open")
    refused = await client.post(f"/credentials/{open_one.id}/waitlist", data={"csrf_token": token})
    assert refused.status_code == 404
