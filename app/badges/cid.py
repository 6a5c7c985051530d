"""The issuer's controlled identifier document (W3C Controlled Identifiers 1.0): where a Data
Integrity verifier finds the key a proof names.

A proof names `{issuer URL}#{multikey}`; Data Integrity's "retrieve verification method"
dereferences the issuer URL, expects a document whose `id` is that URL, finds the method by
its full id, checks its `controller` and that `assertionMethod` lists it. Every Ed25519 key
the issuer ever used is listed, retired ones too, so earlier proofs keep verifying.
"""

from __future__ import annotations

from typing import Any

from app.badges import keys, urls
from app.models import IssuerKey, Organisation

CONTEXT = "https://www.w3.org/ns/cid/v1"
MEDIA_TYPE = "application/cid"
# Media types a client may ask for to get the bare document (DID resolvers ask for these).
ASKED_AS = ("application/cid", "application/did+ld+json", "application/did+json")


def method_id(base: str, organisation: Organisation, key: IssuerKey) -> str:
    return f"{urls.issuer(base, organisation)}#{keys.multikey(key)}"


def verification(base: str, organisation: Organisation, ed25519: list[IssuerKey]) -> dict[str, Any]:
    """`verificationMethod` and `assertionMethod` for the issuer's Ed25519 keys."""
    controller = urls.issuer(base, organisation)
    methods = [
        {
            "id": method_id(base, organisation, key),
            "type": "Multikey",
            "controller": controller,
            "publicKeyMultibase": keys.multikey(key),
        }
        for key in ed25519
    ]
    return {
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }


def document(base: str, organisation: Organisation, ed25519: list[IssuerKey]) -> dict[str, Any]:
    """The bare controlled identifier document of an issuer."""
    return {
        "@context": CONTEXT,
        "id": urls.issuer(base, organisation),
        **verification(base, organisation, ed25519),
    }


def wants_document(accept: str) -> bool:
    """Whether an Accept header asks for the bare document rather than the OB 2.0 Profile."""
    asked = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return any(kind in asked for kind in ASKED_AS)
