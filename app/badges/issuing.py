"""An award's OB 3.0 credential, signed with its organisation's current key."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlmodel.ext.asyncio.session import AsyncSession

from app.badges import dataintegrity, keys, ob3, urls
from app.badges.records import BadgeRecord
from app.settings import Settings


async def signed_credential(
    session: AsyncSession, settings: Settings, record: BadgeRecord
) -> tuple[dict[str, Any], str]:
    """The credential document and its VC-JWT."""
    document = ob3.credential(settings.base_url, record)
    key = await keys.active_key(session, settings.secret_key, record.organisation.id)
    token = ob3.sign(
        document,
        keys.private_jwk(settings.secret_key, key),
        keys.key_url(settings.base_url, key.kid),
    )
    return document, token


async def proved_credential(
    session: AsyncSession, settings: Settings, record: BadgeRecord
) -> dict[str, Any]:
    """The credential with an embedded eddsa-rdfc-2022 Data Integrity proof, for wallets that
    read linked-data proofs. The key is named `issuer#multikey`, resolvable offline."""
    document = ob3.credential(settings.base_url, record)
    key = await keys.active_key(
        session, settings.secret_key, record.organisation.id, alg=keys.ED25519
    )
    private = load_pem_private_key(keys.unseal(settings.secret_key, key), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    multikey = dataintegrity.to_multikey(private.public_key())
    signer = dataintegrity.Signer(
        private, f"{urls.issuer(settings.base_url, record.organisation)}#{multikey}"
    )
    return dataintegrity.add_proof(document, signer, ob3.iso(record.award.issued_at))
