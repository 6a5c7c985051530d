"""OB 3.0: every credential validates against the 1EdTech schema and verifies with nothing but
the published JWK set; keys are encrypted at rest and rotation keeps old keys published."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import ECKey, KeySet
from jsonschema import Draft201909Validator
from sqlmodel import select

from app.actions.awards import issue_award, rotate_issuer_keys
from app.badges import keys
from app.models import Award, IssuerKey
from app.runtime import Runtime
from tests import factories

DATA = Path(__file__).parent / "data" / "openbadges"
SCHEMA = json.loads((DATA / "schemas" / "ob_v3p0_achievementcredential_schema.json").read_text())
JWT_CLAIMS = {"iss", "jti", "sub", "nbf", "iat", "exp"}


async def published_keyset(client: httpx.AsyncClient) -> KeySet:
    answer = await client.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/jwk-set+json")
    document = answer.json()
    assert all("d" not in key for key in document["keys"]), "a private key was published"
    return KeySet.import_key_set(document)


async def earned(runtime: Runtime, **fields: Any) -> uuid.UUID:
    await factories.issuer(runtime)
    credential = await factories.credential(
        runtime,
        alignments=[
            {"framework": "PSEL", "code": "6", "title": "Professional capacity", "url": None},
            {"framework": "ISTE", "code": "2.4.b", "url": "https://iste.example/2.4"},
        ],
        summary="Coaches colleagues through a cycle of observation and feedback.",
        topic="coaching",
    )
    earner = await factories.person(runtime, "earner")
    return await factories.award(runtime, earner, credential, **fields)


def credential_part(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k not in JWT_CLAIMS}


async def test_credential_is_schema_valid_and_verifies_with_the_jwks_alone(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    award_id = await earned(runtime, expires_at=datetime.now(UTC) + timedelta(days=400))
    answer = await client.get(f"/badges/{award_id}/credential.jwt")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vc+jwt")
    token = answer.text

    decoded = jwt.decode(token, await published_keyset(client), algorithms=["ES256"])
    assert decoded.header["alg"] == "ES256" and decoded.header["typ"] == "JWT"
    claims = decoded.claims
    document = credential_part(claims)
    errors = list(Draft201909Validator(SCHEMA).iter_errors(document))
    assert errors == [], [e.message for e in errors]

    base = runtime.settings.base_url
    assert document["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["id"] == f"{base}/badges/{award_id}/credential" == claims["jti"]
    assert document["issuer"]["id"] == f"{base}/badges/issuers/ipa" == claims["iss"]
    subject = document["credentialSubject"]
    assert subject["id"].startswith("urn:uuid:") and subject["id"] == claims["sub"]
    assert subject["identifier"][0]["identityHash"].startswith("sha256$")
    assert "earner@mcx.example" not in token  # the email travels only hashed
    achievement = subject["achievement"]
    assert achievement["achievementType"] == "MicroCredential"
    assert {a["targetCode"] for a in achievement["alignment"]} == {"6", "2.4.b"}
    assert [r["name"] for r in achievement["resultDescription"]] == ["Plans", "Acts"]
    assert claims["exp"] > claims["nbf"] and document["validUntil"].endswith("Z")
    status = document["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusListCredential"] == f"{base}/badges/status/ipa/0"
    assert document["credentialSchema"][0]["type"] == "1EdTechJsonSchemaValidator2019"

    # The header's kid is a URL under MCX_BASE_URL that answers with that one public key.
    kid = decoded.header["kid"]
    assert kid.startswith(f"{base}/badges/keys/")
    one = await client.get(kid.removeprefix(base))
    assert one.status_code == 200 and one.json()["kid"] == kid and "d" not in one.json()

    # The JSON form is the same credential, with a Data Integrity proof added.
    plain = (await client.get(f"/badges/{award_id}/credential")).json()
    assert plain.pop("proof")[0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert plain == document


async def test_every_award_has_its_own_status_index(runtime: Runtime) -> None:
    first = await earned(runtime)
    credential = await factories.credential(runtime, "another")
    second = await factories.award(runtime, await factories.person(runtime, "two"), credential)
    async with runtime.sessions() as session:
        indexes = {(await session.get(Award, a)).status_index for a in (first, second)}  # type: ignore[union-attr]
    assert None not in indexes and len(indexes) == 2


async def test_status_list_positions_are_random_not_in_issuing_order(runtime: Runtime) -> None:
    """Bitstring Status List, privacy: positions handed out in order would tell a list's
    reader in what order badges were issued. 40 awards, in the order issued: no runs."""
    await factories.issuer(runtime)
    credential = await factories.credential(runtime)
    earner = await factories.person(runtime, "earner")
    indexes = []
    async with runtime.sessions() as session:
        for _ in range(40):
            award = await issue_award(session, earner=earner, credential=credential)
            await session.flush()
            await session.refresh(award)
            assert award.status_index is not None
            indexes.append(award.status_index)
            # One live award per person and credential: revoke it to make room for the next.
            award.revoked_at, award.revocation_reason = datetime.now(UTC), "test"
            await session.flush()
        await session.commit()
    assert len(set(indexes)) == 40
    assert indexes != sorted(indexes)
    steps = [later - earlier for earlier, later in zip(indexes, indexes[1:], strict=False)]
    assert steps.count(1) < 5  # handed out in order, all 39 steps would be 1
    # Spread over the list, all in one list (a block of 131,072).
    assert len({index // 131072 for index in indexes}) == 1
    assert max(indexes) % 131072 - min(indexes) % 131072 > 131072 // 4


async def test_tampered_token_and_a_foreign_key_fail(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    award_id = await earned(runtime)
    token = (await client.get(f"/badges/{award_id}/credential.jwt")).text
    keyset = await published_keyset(client)
    header, payload, signature = token.split(".")
    forged = jwt.decode(token, keyset).claims
    forged["name"] = "Something else entirely"
    other = ECKey.generate_key("P-256", private=True)
    resigned = jwt.encode(jwt.decode(token, keyset).header, forged, other)
    with pytest.raises(BadSignatureError):
        jwt.decode(resigned, keyset)
    flipped = "A" if payload[10] != "A" else "B"
    tampered = ".".join([header, payload[:10] + flipped + payload[11:], signature])
    with pytest.raises((BadSignatureError, ValueError)):
        jwt.decode(tampered, keyset)


async def test_keys_are_encrypted_at_rest_and_rotation_keeps_old_keys_published(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    award_id = await earned(runtime)
    old_token = (await client.get(f"/badges/{award_id}/credential.jwt")).text
    async with runtime.sessions() as session:
        stored = (await session.exec(select(IssuerKey).where(IssuerKey.alg == "ES256"))).one()
    private = keys.private_jwk(runtime.settings.secret_key, stored).as_dict(private=True)
    assert private["d"].encode() not in stored.private_encrypted
    assert b"PRIVATE KEY" not in stored.private_encrypted
    with pytest.raises(InvalidTag):
        keys.unseal("another-secret-of-sufficient-length-0123456789", stored)

    new_kids = await rotate_issuer_keys(runtime, stored.organisation_id)
    assert stored.kid not in new_kids
    new_token = (await client.get(f"/badges/{award_id}/credential.jwt")).text
    keyset = await published_keyset(client)
    assert len(keyset.keys) == 2
    old = jwt.decode(old_token, keyset)
    new = jwt.decode(new_token, keyset)
    assert old.header["kid"].endswith(stored.kid)
    assert new.header["kid"].rsplit("/", 1)[1] in new_kids
    assert old.claims["jti"] == new.claims["jti"]
