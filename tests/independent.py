"""A Data Integrity verifier written from the specifications alone, sharing no code with MCX:
eddsa-rdfc-2022 (VC Data Integrity EdDSA Cryptosuites 1.0, section 3.2) with the verification
method retrieved as Data Integrity 1.0 says ("retrieve verification method"), over whatever
`fetch` does (HTTP, in the served test). Contexts come from tests/data, never from the app."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pyld import jsonld

CONTEXTS = Path(__file__).parent / "data" / "openbadges" / "contexts"
CONTEXT_FILES = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-v3p0-extensions.json",
    "https://w3id.org/security/data-integrity/v1": "data-integrity-v1.jsonld",
    "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json": "clr-v2p0-2.0.1.json",
}

Fetch = Callable[[str], dict[str, Any]]


class Rejected(AssertionError):
    """The proof does not verify; the message says which step refused it."""


def _loader(url: str, options: Any = None) -> dict[str, Any]:
    document = json.loads((CONTEXTS / CONTEXT_FILES[url]).read_text())
    return {"contextUrl": None, "documentUrl": url, "document": document}


def _rdfc_hash(document: dict[str, Any]) -> bytes:
    nquads = jsonld.normalize(
        document,
        {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _loader},
    )
    return hashlib.sha256(str(nquads).encode()).digest()


def retrieve_method(method_id: str, purpose: str, fetch: Fetch) -> dict[str, Any]:
    """Dereference the controller document the method id names and check it vouches for it."""
    controller_url = method_id.split("#", 1)[0]
    controller = fetch(controller_url)
    if controller.get("id") != controller_url:
        raise Rejected(f"the document at {controller_url} names itself {controller.get('id')}")
    methods = [m for m in controller.get("verificationMethod", []) if m.get("id") == method_id]
    if len(methods) != 1:
        raise Rejected(f"{controller_url} does not list {method_id}")
    method = methods[0]
    if method.get("controller") != controller_url:
        raise Rejected("the method's controller is not the document's subject")
    related = [m if isinstance(m, str) else m.get("id") for m in controller.get(purpose, [])]
    if method_id not in related:
        raise Rejected(f"{controller_url} does not list {method_id} under {purpose}")
    return method


def verify(document: dict[str, Any], fetch: Fetch) -> dict[str, Any]:
    """Check the document's eddsa-rdfc-2022 proof; returns the verification method used."""
    proofs = document.get("proof")
    proof = (proofs[0] if len(proofs) == 1 else None) if isinstance(proofs, list) else proofs
    if not isinstance(proof, dict):
        raise Rejected("expected exactly one proof")
    if (proof.get("type"), proof.get("cryptosuite")) != ("DataIntegrityProof", "eddsa-rdfc-2022"):
        raise Rejected("not an eddsa-rdfc-2022 DataIntegrityProof")
    purpose = proof.get("proofPurpose", "")
    method = retrieve_method(proof["verificationMethod"], purpose, fetch)
    issuer = document.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if issuer_id != method["controller"]:
        raise Rejected("the key's controller is not the credential's issuer")
    if method.get("type") != "Multikey":
        raise Rejected("the method is not a Multikey")
    multibase = method["publicKeyMultibase"]
    raw = base58.b58decode(multibase[1:]) if multibase.startswith("z") else b""
    if len(raw) != 34 or raw[:2] != b"\xed\x01":
        raise Rejected("the Multikey is not an Ed25519 public key")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    options["@context"] = document["@context"]
    signed = _rdfc_hash(options) + _rdfc_hash(unsecured)
    try:
        Ed25519PublicKey.from_public_bytes(raw[2:]).verify(
            base58.b58decode(proof["proofValue"][1:]), signed
        )
    except Exception as error:
        raise Rejected("the signature does not match") from error
    return method
