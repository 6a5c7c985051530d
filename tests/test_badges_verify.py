"""Verification through its page and JSON endpoint: the 1EdTech validator's fixtures accepted
or rejected for the right reason; MCX badges valid, revoked, expired, tampered, wrong key."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, OctKey

from app.actions.awards import revoke_award
from app.models import Role
from app.runtime import Runtime
from tests import factories

FIXTURES = Path(__file__).parent / "data" / "openbadges" / "fixtures" / "ob30"

# Valid fixtures whose proofs MCX supports offline (eddsa-rdfc-2022 with a Multikey, and
# VC-JWTs that embed their public key), plain and baked.
VALID = [
    "simple.json",
    "complete.json",
    "simple-multiple-proofs.json",
    "simple-did-key-method.json",
    "simple-did-web-method.json",
    "simple-context-alias.json",
    "simple-json.png",
    "simple-json.svg",
    "simple-jwt.png",
    "simple-jwt.svg",
]

# Each invalid fixture and the check that must fail (the first is the reported reason).
INVALID = {
    "simple-err-context.json": ("context",),
    "simple-err-credential-subject-achievement-result-description-type.json": ("schema",),
    "simple-err-credential-subject-identifier-type.json": ("schema",),
    "simple-err-credential-subject-profile-type.json": ("schema",),
    "simple-err-credential-subject-result-type.json": ("schema",),
    "simple-err-credential-subject-type.json": ("schema",),
    "simple-err-evidence-type.json": ("schema",),
    "simple-err-expired.json": ("expired", "dates"),
    # Its subject also lacks the achievement the schema requires; the date fails as well.
    "simple-err-issued.json": ("schema", "dates"),
    "simple-err-issuer-otheridentifier-type.json": ("schema",),
    "simple-err-issuer-parentorg-type.json": ("schema",),
    "simple-err-issuer-type.json": ("schema",),
    "simple-err-issuer.json": ("schema",),
    "simple-err-proof-method-no-scheme.json": ("proof_method",),
    "simple-err-proof-method-unknown-did-method.json": ("proof_method",),
    "simple-err-proof-method-unknown-scheme.json": ("proof_method",),
    "simple-err-proof-method.json": ("proof_method",),
    "simple-err-proof-value.json": ("signature",),
    "simple-err-type.json": ("schema",),
}


def test_every_invalid_fixture_is_listed() -> None:
    on_disk = {p.name for p in FIXTURES.glob("simple-err-*")}
    assert on_disk == set(INVALID)


async def csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/verify")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text) or re.search(
        r"csrf_token=([A-Za-z0-9_-]+)", page.text
    )
    assert found
    return found.group(1)


async def verify_file(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    data = (FIXTURES / name).read_bytes()
    token = await csrf(client)
    if name.endswith((".png", ".svg")):
        kind = "image/png" if name.endswith(".png") else "image/svg+xml"
        answer = await client.post(
            "/verify.json", content=data, headers={"content-type": kind, "x-csrf-token": token}
        )
    else:
        answer = await client.post(
            "/verify.json",
            content=data,
            headers={"content-type": "text/plain", "x-csrf-token": token},
        )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def failing(verdict: dict[str, Any]) -> dict[str, str]:
    return {c["check"]: c["message"] for c in verdict["checks"] if c["ok"] is False}


@pytest.mark.parametrize("name", VALID)
async def test_valid_fixtures_are_accepted(client: httpx.AsyncClient, name: str) -> None:
    verdict = await verify_file(client, name)
    assert verdict["result"] == "valid", verdict
    assert verdict["valid"] is True and failing(verdict) == {}
    assert any(c["check"] == "signature" and c["ok"] for c in verdict["checks"])
    # An issuer MCX does not know is said so, even when the seal holds.
    assert "MCX does not know" in verdict["summary"]


@pytest.mark.parametrize("name", sorted(INVALID))
async def test_invalid_fixtures_are_rejected_for_the_right_reason(
    client: httpx.AsyncClient, name: str
) -> None:
    verdict = await verify_file(client, name)
    reason, *also = INVALID[name]
    assert verdict["valid"] is False
    assert verdict["reason"] == reason, verdict
    failed = failing(verdict)
    for check in also:
        assert check in failed, verdict
    if name == "simple-err-expired.json":
        assert verdict["result"] == "expired" and "expired on 1 January 2010" in verdict["summary"]
    if name == "simple-err-issued.json":
        assert failed["dates"] == "Not valid before 1 January 2040."
    if reason in ("context", "schema", "proof_method", "signature"):
        assert verdict["result"] == "invalid"


async def mcx_badge(runtime: Runtime, **fields: Any) -> tuple[uuid.UUID, Any]:
    await factories.issuer(runtime)
    credential = await factories.credential(runtime, f"c{uuid.uuid4().hex[:6]}")
    earner = await factories.person(runtime, f"e{uuid.uuid4().hex[:6]}")
    return await factories.award(runtime, earner, credential, **fields), credential


async def test_an_mcx_badge_by_id_link_and_jwt_is_valid(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    award_id, credential = await mcx_badge(runtime)
    link = f"{runtime.settings.base_url}/badges/{award_id}"
    for given in (str(award_id), link):
        verdict = (await client.get("/verify.json", params={"id": given})).json()
        assert verdict["result"] == "valid", verdict
        assert verdict["awardId"] == str(award_id)
        assert verdict["badge"]["name"] == credential.title
        assert verdict["summary"].startswith("This badge is genuine: it was issued by IPA")
        assert {c["check"]: c["ok"] for c in verdict["checks"]} == {
            "context": True,
            "schema": True,
            "signature": True,
            "issuer": True,
            "status": True,
            "dates": True,
        }
    token = (await client.get(f"/badges/{award_id}/credential.jwt")).text
    pasted = (await client.get("/verify.json", params={"credential": token})).json()
    assert pasted["result"] == "valid"

    page = await client.get("/verify", params={"id": str(award_id)})
    assert page.status_code == 200
    assert 'data-result="valid"' in page.text and "Valid badge" in page.text


async def test_revoked_and_expired_are_reported_distinctly(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    revoked_id, _ = await mcx_badge(runtime)
    coordinator = await factories.person(runtime, "coord", [Role.coordinator])
    await revoke_award(runtime, coordinator, revoked_id, "Evidence was not the earner's own.")
    long_ago = datetime.now(UTC) - timedelta(days=800)
    expired_id, _ = await mcx_badge(
        runtime, issued_at=long_ago, expires_at=long_ago + timedelta(days=365)
    )

    revoked = (await client.get("/verify.json", params={"id": str(revoked_id)})).json()
    assert revoked["result"] == "revoked" and revoked["reason"] == "revoked"
    assert "Evidence was not the earner's own." in revoked["summary"]
    assert failing(revoked) == {
        "status": "Revoked by the issuer: Evidence was not the earner's own."
    }

    expired = (await client.get("/verify.json", params={"id": str(expired_id)})).json()
    assert expired["result"] == "expired" and expired["reason"] == "expired"
    assert "expired on" in expired["summary"] and "revoked" not in expired["summary"]

    page = await client.get("/verify", params={"id": str(revoked_id)})
    assert 'data-result="revoked"' in page.text and "Revoked badge" in page.text


async def test_a_tampered_badge_and_a_foreign_key_fail(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    award_id, _ = await mcx_badge(runtime)
    token = (await client.get(f"/badges/{award_id}/credential.jwt")).text
    header, payload, signature = token.split(".")
    compact = jws.extract_compact(token.encode())
    claims = json.loads(compact.payload)
    claims["name"] = "Doctorate in Everything"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = f"{header}.{forged_payload}.{signature}"
    verdict = (await client.get("/verify.json", params={"credential": tampered})).json()
    assert verdict["result"] == "invalid" and verdict["reason"] == "signature"
    assert "changed" in verdict["summary"]

    # Sealed with somebody else's key while naming MCX's key.
    other = ECKey.generate_key("P-256", private=True)
    wrong = jwt.encode(compact.headers(), claims, other)
    verdict = (await client.get("/verify.json", params={"credential": wrong})).json()
    assert verdict["reason"] == "signature"

    # Sealed with a stranger's embedded key while naming an MCX issuer.
    stranger = jwt.encode({"alg": "ES256", "jwk": other.as_dict(private=False)}, claims, other)
    verdict = (await client.get("/verify.json", params={"credential": stranger})).json()
    assert verdict["reason"] == "issuer", verdict
    assert "not sealed with its key" in verdict["summary"]

    # Only RS256 and ES256 are allowed.
    hs = jwt.encode({"alg": "HS256"}, claims, OctKey.generate_key(256))
    verdict = (await client.get("/verify.json", params={"credential": hs})).json()
    assert verdict["reason"] == "signature" and "RS256 or ES256" in verdict["summary"]


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("not a badge", "Paste a badge"),
        ("{not json", "not valid JSON"),
        ("aaa.bbb.ccc", "damaged"),
        ("https://elsewhere.example/badge/1", "does not fetch"),
        (str(uuid.UUID(int=7)), "no badge with that id"),
    ],
)
async def test_bad_input_gets_a_clear_answer(
    client: httpx.AsyncClient, given: str, words: str
) -> None:
    verdict = (await client.get("/verify.json", params={"credential": given})).json()
    assert verdict["valid"] is False and words in verdict["summary"], verdict


async def test_an_image_that_is_no_badge_is_refused_in_words(client: httpx.AsyncClient) -> None:
    token = await csrf(client)
    answer = await client.post(
        "/verify",
        data={"csrf_token": token},
        files={"image": ("x.png", b"\x89PNG\r\n\x1a\nrubbish", "image/png")},
    )
    assert answer.status_code == 200
    assert "Not a trustworthy badge" in answer.text and "cut short" in answer.text
    assert (await client.get("/verify.json")).status_code == 400
