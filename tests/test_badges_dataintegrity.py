"""Data Integrity (eddsa-rdfc-2022): the signer reproduces a published signature byte for byte,
and MCX's credentials carry a proof that verifies (and fails when tampered with)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft201909Validator

from app.badges import dataintegrity
from app.runtime import Runtime
from tests import factories

DATA = Path(__file__).parent / "data" / "openbadges"
FIXTURES = DATA / "fixtures" / "ob30"
SCHEMA = json.loads((DATA / "schemas" / "ob_v3p0_achievementcredential_schema.json").read_text())

# The key pair of the OB 3.0 specification's Linked Data Proof test vector (1EdTech
# openbadges-specification, ob_v3p0/impl/linked-data-proof-ob.md): public key
# z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi, which signed the validator's fixtures.
SPEC_SEED = bytes.fromhex("6241a409e6707bb640a0140a8a32bc3d193c33a661747284d6adfa4ed4180be4")
SPEC_PUBLIC = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"


def test_signing_reproduces_the_published_signature() -> None:
    """Ed25519 is deterministic: the same key, document and proof options must give the very
    proofValue the validator's simple.json carries (canonicalisation included)."""
    key = Ed25519PrivateKey.from_private_bytes(SPEC_SEED)
    assert dataintegrity.to_multikey(key.public_key()) == SPEC_PUBLIC
    fixture = json.loads((FIXTURES / "simple.json").read_text())
    (published,) = fixture["proof"]
    unsigned = {k: v for k, v in fixture.items() if k != "proof"}
    signer = dataintegrity.Signer(key, published["verificationMethod"])
    signed = dataintegrity.add_proof(unsigned, signer, published["created"])
    assert signed["proof"] == [published]
    assert dataintegrity.verify_proof(signed, signed["proof"][0]) is not None


async def test_mcx_credentials_carry_a_verifiable_proof(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await factories.issuer(runtime)
    credential = await factories.credential(runtime)
    award_id = await factories.award(runtime, await factories.person(runtime, "e"), credential)
    document = (await client.get(f"/badges/{award_id}/credential")).json()
    assert Draft201909Validator(SCHEMA).is_valid(document)
    (proof,) = document["proof"]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["verificationMethod"].startswith(document["issuer"]["id"] + "#z6Mk")

    verdict = (await client.get("/verify.json", params={"credential": json.dumps(document)})).json()
    assert verdict["result"] == "valid", verdict
    assert {c["check"]: c["ok"] for c in verdict["checks"]}["issuer"] is True

    document["credentialSubject"]["achievement"]["name"] = "Something grander"
    tampered = (
        await client.get("/verify.json", params={"credential": json.dumps(document)})
    ).json()
    assert tampered["result"] == "invalid" and tampered["reason"] == "signature"
