"""Data Integrity proofs, cryptosuite eddsa-rdfc-2022: RDF canonicalisation (pyld, with the
pinned contexts loaded locally) and Ed25519 (cryptography). Nothing is fetched."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld

from app.badges.schemas import data_file

CRYPTOSUITE = "eddsa-rdfc-2022"
# Multicodec prefix of an Ed25519 public key in a Multikey (`z6Mk…`).
ED25519_PUB = b"\xed\x01"

LOCAL_CONTEXTS = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-v3p0-extensions.json",
    "https://w3id.org/security/data-integrity/v1": "data-integrity-v1.jsonld",
    "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json": "clr-v2p0-2.0.1.json",
    "https://w3id.org/openbadges/v2": "ob-v2p0.json",
}


class ProofError(Exception):
    """A proof MCX cannot accept; `code` says which check failed, `unsupported` when MCX
    simply cannot check it (offline, unknown suite) rather than it being wrong."""

    def __init__(self, code: str, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.unsupported = unsupported


@cache
def _context(url: str) -> Any:
    return data_file(LOCAL_CONTEXTS[url])


def local_loader(url: str, options: Any = None) -> dict[str, Any]:
    """pyld's document loader: only the pinned contexts, from package data."""
    if url not in LOCAL_CONTEXTS:
        raise ProofError(
            "context",
            f"The badge uses the JSON-LD context {url}, which MCX does not hold a copy of.",
            unsupported=True,
        )
    return {"contextUrl": None, "documentUrl": url, "document": _context(url)}


def canonical(document: dict[str, Any]) -> str:
    """RDF Dataset Canonicalization (RDFC-1.0, pyld's URDNA2015) as N-Quads."""
    contexts = document.get("@context")
    for url in contexts if isinstance(contexts, list) else [contexts]:
        if isinstance(url, str):
            local_loader(url)  # refuses, in words, a context MCX holds no copy of
    try:
        return str(
            jsonld.normalize(
                document,
                {
                    "algorithm": "URDNA2015",
                    "format": "application/n-quads",
                    "documentLoader": local_loader,
                },
            )
        )
    except ProofError:
        raise
    except jsonld.JsonLdError as error:
        cause = error
        while getattr(cause, "cause", None) is not None:
            cause = cause.cause
        if isinstance(cause, ProofError):
            raise cause from None
        raise ProofError("context", f"The badge is not well-formed JSON-LD ({error}).") from None


def _hash_data(unsecured: dict[str, Any], proof: dict[str, Any], context: Any) -> bytes:
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = context
    return (
        hashlib.sha256(canonical(config).encode()).digest()
        + hashlib.sha256(canonical(unsecured).encode()).digest()
    )


def multikey(value: str) -> Ed25519PublicKey:
    """An Ed25519 public key from its Multikey form (`z` + base58btc of 0xed01 + 32 bytes)."""
    if not value.startswith("z"):
        raise ProofError("proof_method", "The signing key is not a base58 Multikey.")
    try:
        raw = base58.b58decode(value[1:])
    except ValueError:
        raise ProofError("proof_method", "The signing key is not valid base58.") from None
    if len(raw) != 34 or not raw.startswith(ED25519_PUB):
        raise ProofError(
            "proof_method", "The signing key named by the proof is not an Ed25519 key."
        )
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def to_multikey(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58.b58encode(ED25519_PUB + raw).decode()


def resolve_method(method: str) -> Ed25519PublicKey:
    """The public key a proof's verificationMethod names, without any network access.

    did:key carries the key itself; an https URL whose fragment is a Multikey does too (how
    the 1EdTech validator's offline fixtures name keys). Anything that would need fetching
    is reported as unsupported, anything malformed as a proof-method failure.
    """
    if ":" not in method:
        raise ProofError(
            "proof_method", f"The proof's key reference '{method}' is not a URL or a DID."
        )
    scheme = method.split(":", 1)[0].lower()
    if scheme == "did":
        parts = method.split(":")
        did_method = parts[1] if len(parts) > 2 else ""
        if did_method == "key":
            return multikey(method.split("#", 1)[0].removeprefix("did:key:"))
        if did_method == "web":
            raise ProofError(
                "proof_method",
                "The key is published on the issuer's website (did:web); MCX does not fetch it.",
                unsupported=True,
            )
        raise ProofError("proof_method", f"The DID method '{did_method}' is not one MCX knows.")
    if scheme in ("http", "https"):
        fragment = method.split("#", 1)[1] if "#" in method else ""
        if fragment.startswith("z"):
            return multikey(fragment)
        raise ProofError(
            "proof_method",
            f"The key lives at {method}; MCX does not fetch keys from other sites.",
            unsupported=True,
        )
    raise ProofError(
        "proof_method", f"The proof's key reference uses an unknown scheme '{scheme}'."
    )


def verify_proof(document: dict[str, Any], proof: dict[str, Any]) -> Ed25519PublicKey:
    """Check one eddsa-rdfc-2022 proof over `document` (without its proofs); the key on success."""
    if proof.get("proofPurpose") != "assertionMethod":
        raise ProofError("signature", "The proof was not made for asserting a credential.")
    key = resolve_method(str(proof.get("verificationMethod", "")))
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("signature", "The proof's signature is missing or not base58.")
    try:
        signature = base58.b58decode(value[1:])
    except ValueError:
        raise ProofError("signature", "The proof's signature is not valid base58.") from None
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    try:
        key.verify(signature, _hash_data(unsecured, proof, document.get("@context")))
    except InvalidSignature:
        raise ProofError(
            "signature", "The signature does not match: the badge was changed after signing."
        ) from None
    return key


@dataclass
class Signer:
    key: Ed25519PrivateKey
    verification_method: str


def add_proof(document: dict[str, Any], signer: Signer, created: str) -> dict[str, Any]:
    """The document with an eddsa-rdfc-2022 DataIntegrityProof added."""
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": signer.verification_method,
        "proofPurpose": "assertionMethod",
    }
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    signature = signer.key.sign(_hash_data(unsecured, proof, document.get("@context")))
    proof["proofValue"] = "z" + base58.b58encode(signature).decode()
    # A list: the 1EdTech schema reads `proof` as a set of proofs.
    return dict(unsecured, proof=[proof])
