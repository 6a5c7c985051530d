"""Data Integrity (eddsa-rdfc-2022): the signer reproduces a published signature byte for byte,
and MCX's credentials carry a proof that verifies (and fails when tampered with)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft201909Validator

from app.badges import dataintegrity
from app.runtime import Runtime, Urls, open_runtime
from tests import factories, independent
from tests.served import mcx_serve

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


def _resolve_and_verify_over_http(base: str, award_id: str, rotate: Callable[[], None]) -> None:
    """What an outside verifier does, knowing only URLs: fetch the credential, dereference the
    key its proof names, verify; then again after the issuer rotated its keys."""
    accept_json_ld = {"Accept": "application/ld+json, application/json"}

    def fetch(url: str) -> dict[str, Any]:
        answer = httpx.get(url, headers=accept_json_ld, timeout=10)
        assert answer.status_code == 200, (url, answer.status_code)
        return dict(answer.json())

    credential = httpx.get(f"{base}/badges/{award_id}/credential", timeout=30)
    assert credential.headers["content-type"] == "application/vc"
    document = credential.json()
    method = independent.verify(document, fetch)
    (proof,) = document["proof"]
    assert method["id"] == proof["verificationMethod"]
    assert method["id"].startswith(f"{base}/badges/issuers/ipa#z6Mk")

    # Asked for as a controlled identifier document, the same URL answers just that.
    issuer_url = method["controller"]
    bare = httpx.get(issuer_url, headers={"Accept": "application/cid"}, timeout=10)
    assert bare.headers["content-type"] == "application/cid"
    assert bare.json()["id"] == issuer_url
    assert method in bare.json()["verificationMethod"]

    def fetch_cid(url: str) -> dict[str, Any]:
        return dict(httpx.get(url, headers={"Accept": "application/cid"}, timeout=10).json())

    assert independent.verify(document, fetch_cid) == method

    tampered = json.loads(json.dumps(document))
    tampered["credentialSubject"]["achievement"]["name"] = "Something grander"
    with pytest.raises(independent.Rejected, match="signature"):
        independent.verify(tampered, fetch)
    # A key the issuer never listed is refused at retrieval, before any mathematics.
    stranger = json.loads(json.dumps(document))
    stranger["proof"][0]["verificationMethod"] = issuer_url + "#z6MkjZRZv3aez3r18pB1RBFJR1kwUV"
    with pytest.raises(independent.Rejected, match="does not list"):
        independent.verify(stranger, fetch)

    rotate()
    renewed = httpx.get(f"{base}/badges/{award_id}/credential", timeout=30).json()
    new_method = independent.verify(renewed, fetch)
    assert new_method["id"] != method["id"]
    # The copy signed before the rotation still verifies: the old key stays listed.
    assert independent.verify(document, fetch) == method
    listed = fetch(issuer_url)
    assert listed["assertionMethod"] == [method["id"], new_method["id"]]


async def test_the_proofs_key_resolves_over_http_from_a_running_mcx(
    services: Urls, tmp_path: Path, runtime: Runtime
) -> None:
    """Data Integrity's "retrieve verification method" against a real `mcx serve`: the URL
    the proof names answers a document listing the key (Multikey, assertionMethod), and the
    proof verifies with it in an implementation that shares nothing with MCX."""
    with mcx_serve(services, tmp_path, own_base_url=True) as served:
        own = await open_runtime(served.settings, services)
        try:
            await factories.issuer(own)
            credential = await factories.credential(own)
            earner = await factories.person(own, "earner")
            award_id = await factories.award(own, earner, credential)
        finally:
            await own.close()

        def rotate() -> None:
            done = subprocess.run(  # noqa: S603 - our own command
                [sys.executable, "-m", "app.cli", "keys", "rotate", "ipa"],
                env={**os.environ, "DATABASE_URL": services.database, "REDIS_URL": services.redis},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert "stay published" in done.stdout

        await asyncio.to_thread(_resolve_and_verify_over_http, served.base, str(award_id), rotate)
