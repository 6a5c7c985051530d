"""Revocation by a coordinator with a reason, the Bitstring Status List MCX publishes, bulk
issue from CSV with a row-by-row report, and expiry notices 30 days ahead (once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlmodel import select

from app.badges import status
from app.models import AuditEntry, Award, Notification, Role
from app.runtime import Runtime
from tests import factories
from tests.helpers import csrf_from, log_in
from workers.badges import notify_expiring_badges

PASSWORD = "factory-password-1"


async def status_bit(client: httpx.AsyncClient, award_id: object) -> bool:
    """Read the award's bit the way a wallet would: credential → status list JWT → JWKS."""
    credential = (await client.get(f"/badges/{award_id}/credential")).json()
    entry = credential["credentialStatus"]
    base = entry["statusListCredential"].split("/badges/")[0]
    listed = await client.get(entry["statusListCredential"].removeprefix(base))
    assert listed.status_code == 200
    keyset = KeySet.import_key_set((await client.get("/.well-known/jwks.json")).json())
    claims = jwt.decode(listed.text, keyset, algorithms=["ES256"]).claims
    assert claims["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = claims["credentialSubject"]
    assert subject["statusPurpose"] == "revocation"
    return status.is_set(subject["encodedList"], int(entry["statusListIndex"]))


async def test_a_coordinator_revokes_with_a_reason_everywhere_it_shows(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await factories.issuer(runtime)
    credential = await factories.credential(runtime)
    earner = await factories.person(runtime, "earner")
    other = await factories.award(runtime, await factories.person(runtime, "other"), credential)
    award_id = await factories.award(runtime, earner, credential)
    await factories.person(runtime, "coord", [Role.coordinator])
    assert await status_bit(client, award_id) is False

    assert (await log_in(client, "coord@mcx.example", PASSWORD)).status_code == 303
    page = await client.get("/coordinate/badges")
    assert page.status_code == 200 and f"/coordinate/badges/{award_id}/revoke" in page.text
    token = await csrf_from(client, "/coordinate/badges")

    # No reason: refused, nothing changes.
    refused = await client.post(
        f"/coordinate/badges/{award_id}/revoke", data={"reason": "  ", "csrf_token": token}
    )
    assert refused.status_code == 400 and "Say why" in refused.text
    assert await status_bit(client, award_id) is False

    done = await client.post(
        f"/coordinate/badges/{award_id}/revoke",
        data={"reason": "Issued to the wrong person.", "csrf_token": token},
    )
    assert done.status_code == 303
    assert await status_bit(client, award_id) is True
    assert await status_bit(client, other) is False
    assert (await client.get(f"/badges/{award_id}.json")).status_code == 410
    again = await client.post(
        f"/coordinate/badges/{award_id}/revoke",
        data={"reason": "Twice.", "csrf_token": token},
    )
    assert again.status_code == 409

    async with runtime.sessions() as session:
        award = await session.get(Award, award_id)
        assert award is not None and award.revocation_reason == "Issued to the wrong person."
        told = (
            await session.exec(select(Notification).where(Notification.user_id == earner.id))
        ).all()
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "award.revoked"))
        ).one()
    assert [n.kind for n in told] == ["badge.revoked"]
    assert audit.data == {"reason": "Issued to the wrong person."}


async def test_only_the_issuers_coordinators_may_revoke(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await factories.issuer(runtime)
    await factories.issuer(runtime, "ctq")
    credential = await factories.credential(runtime)
    earner = await factories.person(runtime, "earner")
    award_id = await factories.award(runtime, earner, credential)
    await factories.person(runtime, "outsider", [Role.coordinator], org="ctq")
    await log_in(client, "outsider@mcx.example", PASSWORD)
    token = await csrf_from(client, "/coordinate/badges")
    answer = await client.post(
        f"/coordinate/badges/{award_id}/revoke", data={"reason": "Mine now.", "csrf_token": token}
    )
    assert answer.status_code == 404
    assert await status_bit(client, award_id) is False

    await log_in(client, "earner@mcx.example", PASSWORD)
    assert (await client.get("/coordinate/badges")).status_code == 404


async def test_bulk_issue_reports_every_row(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await factories.issuer(runtime)
    await factories.issuer(runtime, "ctq")
    await factories.credential(runtime, "coaching")
    await factories.credential(runtime, "theirs", organisation="ctq")
    await factories.person(runtime, "ada")
    await factories.person(runtime, "bo")
    await factories.person(runtime, "coord", [Role.coordinator])
    await log_in(client, "coord@mcx.example", PASSWORD)
    token = await csrf_from(client, "/coordinate/badges")
    rows = "\n".join(
        [
            "email,credential,evidence note,expires",
            "Ada@MCX.example,coaching,District coaching portfolio 2025,2031-06-30",
            "bo@mcx.example,coaching,Coached three colleagues",
            "nobody@mcx.example,coaching,Something",
            "not-an-email,coaching,Something",
            "bo@mcx.example,theirs,Not our credential",
            "ada@mcx.example,coaching,The same again",
            "bo@mcx.example,unknown,Nope",
            "ada@mcx.example,coaching,,",
        ]
    )
    answer = await client.post("/coordinate/badges/issue", data={"csv": rows, "csrf_token": token})
    assert answer.status_code == 200
    report = answer.text
    assert report.count('class="pass"') == 2 and report.count('class="fail"') == 6
    for words in (
        "Nobody has an MCX account",
        "Not an email address",
        "No published credential &#39;theirs&#39;",
        "already holds this badge",
        "Describe the evidence",
    ):
        assert words in report, words
    async with runtime.sessions() as session:
        made = (await session.exec(select(Award))).all()
    assert len(made) == 2
    ada = next(a for a in made if a.expires_at is not None)
    assert ada.expires_at == datetime(2031, 6, 30, tzinfo=UTC)
    assert ada.evidence_note == "District coaching portfolio 2025"
    assertion = (await client.get(f"/badges/{ada.id}.json")).json()
    assert assertion["evidence"] == [{"narrative": "District coaching portfolio 2025"}]

    empty = await client.post("/coordinate/badges/issue", data={"csv": "", "csrf_token": token})
    assert empty.status_code == 400 and "no rows" in empty.text


async def test_expiry_notices_go_out_30_days_ahead_once(runtime: Runtime) -> None:
    await factories.issuer(runtime)
    credential = await factories.credential(runtime)
    other = await factories.credential(runtime, "other")
    soon = await factories.person(runtime, "soon")
    later = await factories.person(runtime, "later")
    now = datetime.now(UTC)
    soon_id = await factories.award(runtime, soon, credential, expires_at=now + timedelta(days=20))
    await factories.award(runtime, later, credential, expires_at=now + timedelta(days=45))
    await factories.award(runtime, soon, other)  # never expires

    assert await notify_expiring_badges({"runtime": runtime}) == 1
    assert await notify_expiring_badges({"runtime": runtime}) == 0
    async with runtime.sessions() as session:
        told = (await session.exec(select(Notification))).all()
    assert [(n.user_id, n.kind, n.payload["award_id"]) for n in told] == [
        (soon.id, "badge.expiring", str(soon_id))
    ]
