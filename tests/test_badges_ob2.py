"""OB 2.0 hosted documents: Issuer Profile, BadgeClass and Assertion at stable URLs under
MCX_BASE_URL with every required field; the salted recipient hash; 410 Gone once revoked."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx

from app.actions.awards import revoke_award
from app.badges.records import recipient_hash
from app.models import Role
from app.runtime import Runtime
from tests import factories

CONTEXT = "https://w3id.org/openbadges/v2"


def test_recipient_hash_matches_the_specs_example() -> None:
    assert (
        recipient_hash("a@example.com", "Kosher")
        == "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399"
    )
    # The address is normalised first: a capitalised copy hashes the same.
    assert recipient_hash(" A@Example.com ", "Kosher") == recipient_hash("a@example.com", "Kosher")


async def test_issuer_badge_class_and_assertion_have_every_required_field(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    base = runtime.settings.base_url
    await factories.issuer(runtime)
    credential = await factories.credential(
        runtime,
        summary="Leads a data team.",
        topic="leadership",
        alignments=[{"framework": "PSEL", "code": "6", "title": "Capacity", "url": None}],
    )
    earner = await factories.person(runtime, "earner")
    expires = datetime.now(UTC) + timedelta(days=365)
    award_id = await factories.award(
        runtime, earner, credential, expires_at=expires, evidence_note="Portfolio reviewed."
    )

    answer = await client.get(f"/badges/{award_id}.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/ld+json")
    assertion = answer.json()
    assert {"@context", "id", "type", "recipient", "badge", "verification", "issuedOn"} <= set(
        assertion
    )
    assert assertion["@context"] == CONTEXT and assertion["type"] == "Assertion"
    assert assertion["id"] == f"{base}/badges/{award_id}.json"
    assert assertion["verification"] == {"type": "HostedBadge"}
    recipient = assertion["recipient"]
    assert recipient["type"] == "email" and recipient["hashed"] is True
    expected = hashlib.sha256(("earner@mcx.example" + recipient["salt"]).encode()).hexdigest()
    assert recipient["identity"] == "sha256$" + expected
    assert abs(datetime.fromisoformat(assertion["expires"]) - expires) < timedelta(seconds=1)
    assert assertion["evidence"] == [{"narrative": "Portfolio reviewed."}]
    datetime.fromisoformat(assertion["issuedOn"])

    # The BadgeClass lives at its own stable URL on the issuer's origin.
    assert assertion["badge"] == f"{base}/badges/achievements/{credential.id}"
    badge = (await client.get(assertion["badge"].removeprefix(base))).json()
    assert {"@context", "id", "type", "name", "description", "image", "criteria", "issuer"} <= set(
        badge
    )
    assert badge["type"] == "BadgeClass" and badge["id"] == assertion["badge"]
    assert badge["description"] == "Leads a data team."
    assert badge["criteria"]["narrative"].startswith("Competency: c")
    assert badge["alignment"] == [
        {
            "targetName": "PSEL 6: Capacity",
            "targetUrl": base,
            "targetFramework": "PSEL",
            "targetCode": "6",
            "targetDescription": "Capacity",
        }
    ]
    assert "leadership" in badge["tags"]
    image = await client.get(badge["image"].removeprefix(base))
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG\r\n\x1a\n")

    issuer = (await client.get(badge["issuer"].removeprefix(base))).json()
    assert {"@context", "id", "type", "name", "url", "email"} <= set(issuer)
    assert issuer["id"] == f"{base}/badges/issuers/ipa" == badge["issuer"]
    assert issuer["type"] == "Profile" and issuer["email"] == "badges@ipa.example"


async def test_a_revoked_assertion_answers_410_with_its_reason(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await factories.issuer(runtime)
    credential = await factories.credential(runtime)
    earner = await factories.person(runtime, "earner")
    coordinator = await factories.person(runtime, "coord", [Role.coordinator])
    award_id = await factories.award(runtime, earner, credential)
    await revoke_award(runtime, coordinator, award_id, "Issued in error.")
    gone = await client.get(f"/badges/{award_id}.json")
    assert gone.status_code == 410
    # JSON-LD an OB 2.0 verifier reads as a revoked Assertion, not a malformed document.
    assert gone.json() == {
        "@context": CONTEXT,
        "type": "Assertion",
        "id": f"{runtime.settings.base_url}/badges/{award_id}.json",
        "revoked": True,
        "revocationReason": "Issued in error.",
    }
    assert gone.headers["content-type"] == "application/ld+json"


async def test_unknown_documents_are_404(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await factories.issuer(runtime)
    draft = await factories.credential(runtime, "drafty", status="draft")
    for path in (
        "/badges/issuers/nobody",
        "/badges/achievements/not-a-uuid",
        f"/badges/achievements/{draft.id}",
        "/badges/00000000-0000-0000-0000-000000000000.json",
        "/badges/00000000-0000-0000-0000-000000000000/credential.jwt",
        "/badges/keys/unknown",
        "/badges/status/nobody/0",
    ):
        assert (await client.get(path)).status_code == 404, path
