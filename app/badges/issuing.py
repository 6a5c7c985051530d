"""An award's OB 3.0 credential and a stack's learner record, signed with the organisation's
current keys: ES256 for the VC-JWT form, Ed25519 for the embedded Data Integrity proof."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlmodel.ext.asyncio.session import AsyncSession

from app.badges import cid, clr, dataintegrity, keys, ob3
from app.badges.records import BadgeRecord
from app.models import Organisation
from app.settings import Settings


async def sign_jwt(
    session: AsyncSession, settings: Settings, organisation: Organisation, document: dict[str, Any]
) -> str:
    """`document` as a VC-JWT, sealed with the organisation's current ES256 key."""
    key = await keys.active_key(session, settings.secret_key, organisation.id)
    return ob3.sign(
        document,
        keys.private_jwk(settings.secret_key, key),
        keys.key_url(settings.base_url, key.kid),
    )


async def add_proof(
    session: AsyncSession,
    settings: Settings,
    organisation: Organisation,
    document: dict[str, Any],
    created: str,
) -> dict[str, Any]:
    """`document` with an eddsa-rdfc-2022 proof by the organisation's current Ed25519 key,
    named `{issuer URL}#{multikey}`: the issuer's document lists it there (app.badges.cid)."""
    key = await keys.active_key(session, settings.secret_key, organisation.id, alg=keys.ED25519)
    private = load_pem_private_key(keys.unseal(settings.secret_key, key), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    signer = dataintegrity.Signer(private, cid.method_id(settings.base_url, organisation, key))
    return dataintegrity.add_proof(document, signer, created)


async def signed_credential(
    session: AsyncSession, settings: Settings, record: BadgeRecord
) -> tuple[dict[str, Any], str]:
    """The credential document and its VC-JWT."""
    document = ob3.credential(settings.base_url, record)
    return document, await sign_jwt(session, settings, record.organisation, document)


async def proved_credential(
    session: AsyncSession, settings: Settings, record: BadgeRecord
) -> dict[str, Any]:
    """The credential with an embedded eddsa-rdfc-2022 Data Integrity proof, for wallets that
    read linked-data proofs."""
    document = ob3.credential(settings.base_url, record)
    return await add_proof(
        session, settings, record.organisation, document, ob3.iso(record.award.issued_at)
    )


async def learner_record(
    session: AsyncSession, settings: Settings, stack: BadgeRecord, parts: list[BadgeRecord]
) -> dict[str, Any]:
    """The stack's ClrCredential, unsigned, embedding every credential as issued: each with
    its own Data Integrity proof, so each still verifies on its own once taken out."""
    embedded = [await proved_credential(session, settings, record) for record in [stack, *parts]]
    return clr.clr_credential(settings.base_url, stack, parts, embedded)


async def proved_learner_record(
    session: AsyncSession, settings: Settings, stack: BadgeRecord, parts: list[BadgeRecord]
) -> dict[str, Any]:
    """The learner record with a Data Integrity proof of its own over the whole record."""
    document = await learner_record(session, settings, stack, parts)
    return await add_proof(
        session, settings, stack.organisation, document, ob3.iso(stack.award.issued_at)
    )
