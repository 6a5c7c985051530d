"""Per-organisation signing keys: made with the organisation, encrypted at rest, published as
a JWK set (ES256, for VC-JWTs) and as Multikeys in the issuer's controlled identifier document
(Ed25519, for Data Integrity proofs). Retired keys stay published.

The private half is sealed with AES-GCM under a key derived (HKDF) from MCX_SECRET_KEY, bound
to the organisation and key id, so a database dump alone signs nothing.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import base58
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.badges import dataintegrity
from app.models import IssuerKey, Organisation

ES256 = "ES256"
ED25519 = "Ed25519"
ALGS = (ES256, ED25519)
_NONCE_BYTES = 12


def _sealing_key(secret_key: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"mcx issuer keys v1"
    ).derive(secret_key.encode())
    return AESGCM(derived)


def _aad(organisation_id: uuid.UUID, kid: str) -> bytes:
    return f"{organisation_id}:{kid}".encode()


def seal(secret_key: str, organisation_id: uuid.UUID, kid: str, private_pem: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _sealing_key(secret_key).encrypt(nonce, private_pem, _aad(organisation_id, kid))
    return nonce + sealed


def unseal(secret_key: str, key: IssuerKey) -> bytes:
    nonce, sealed = key.private_encrypted[:_NONCE_BYTES], key.private_encrypted[_NONCE_BYTES:]
    return _sealing_key(secret_key).decrypt(nonce, sealed, _aad(key.organisation_id, key.kid))


def key_url(base_url: str, kid: str) -> str:
    """Where one public key lives; also its `kid` in JWT headers and in the JWK set."""
    return f"{base_url}/badges/keys/{kid}"


def _new_key(secret_key: str, organisation_id: uuid.UUID, alg: str) -> IssuerKey:
    if alg == ES256:
        ec = ECKey.generate_key("P-256", private=True)
        kid = ec.thumbprint()
        public = ec.as_dict(private=False)
        pem = ec.as_pem(private=True)
    else:
        raw = Ed25519PrivateKey.generate()
        okp = OKPKey.import_key(
            raw.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        kid = okp.thumbprint()
        public = okp.as_dict(private=False)
        pem = okp.as_pem(private=True)
    return IssuerKey(
        organisation_id=organisation_id,
        alg=alg,
        kid=kid,
        public_jwk=json.dumps(public),
        private_encrypted=seal(secret_key, organisation_id, kid, pem),
    )


async def active_key(
    session: AsyncSession, secret_key: str, organisation_id: uuid.UUID, alg: str = ES256
) -> IssuerKey:
    """The organisation's current key for `alg`, made (and committed) on first use."""
    query = (
        select(IssuerKey)
        .where(IssuerKey.organisation_id == organisation_id)
        .where(IssuerKey.alg == alg)
        .where(col(IssuerKey.retired_at).is_(None))
    )
    key = (await session.exec(query)).first()
    if key is not None:
        return key
    key = _new_key(secret_key, organisation_id, alg)
    session.add(key)
    try:
        await session.commit()
    except Exception:
        # Another process made it first (the partial unique index): use theirs.
        await session.rollback()
        return (await session.exec(query)).one()
    return key


def new_keys(secret_key: str, organisation_id: uuid.UUID) -> list[IssuerKey]:
    """A fresh key of every algorithm for an organisation (added by the caller)."""
    return [_new_key(secret_key, organisation_id, alg) for alg in ALGS]


async def publish_missing(session: AsyncSession, secret_key: str) -> int:
    """Make the current keys every organisation lacks (organisations made before keys came
    with them); idempotent, and safe beside another process doing the same (the partial
    unique index turns the loser's insert into nothing). Returns how many were made."""
    held = set(
        (
            await session.exec(
                select(IssuerKey.organisation_id, IssuerKey.alg).where(
                    col(IssuerKey.retired_at).is_(None)
                )
            )
        ).all()
    )
    made = 0
    for organisation_id in (await session.exec(select(Organisation.id))).all():
        for alg in ALGS:
            if (organisation_id, alg) in held:
                continue
            key = _new_key(secret_key, organisation_id, alg)
            row = {
                column: getattr(key, column)
                for column in (
                    "id",
                    "organisation_id",
                    "alg",
                    "kid",
                    "public_jwk",
                    "private_encrypted",
                    "created_at",
                )
            }
            result = await session.exec(insert(IssuerKey).values(**row).on_conflict_do_nothing())
            made += result.rowcount or 0
    await session.commit()
    return made


async def rotate_keys(
    session: AsyncSession, secret_key: str, organisation_id: uuid.UUID, algs: tuple[str, ...] = ALGS
) -> list[IssuerKey]:
    """Retire the current keys (they stay published) and make new ones (not committed)."""
    await session.exec(
        update(IssuerKey)
        .where(col(IssuerKey.organisation_id) == organisation_id)
        .where(col(IssuerKey.alg).in_(algs))
        .where(col(IssuerKey.retired_at).is_(None))
        .values(retired_at=datetime.now(UTC))
    )
    # The retirement must reach the database before the new rows meet the unique index.
    await session.flush()
    made = [_new_key(secret_key, organisation_id, alg) for alg in algs]
    session.add_all(made)
    return made


def private_jwk(secret_key: str, key: IssuerKey) -> ECKey | OKPKey:
    pem = unseal(secret_key, key)
    if key.alg == ES256:
        return ECKey.import_key(pem)
    return OKPKey.import_key(pem)


def public_jwk(base_url: str, key: IssuerKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(key.public_jwk)
    alg = key.alg if key.alg == ES256 else "EdDSA"
    jwk.update({"kid": key_url(base_url, key.kid), "use": "sig", "alg": alg})
    return jwk


def multikey(key: IssuerKey) -> str:
    """An Ed25519 key's public half as a Multikey (`z6Mk…`)."""
    assert key.alg == ED25519
    x = json.loads(key.public_jwk)["x"]
    raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    return "z" + base58.b58encode(dataintegrity.ED25519_PUB + raw).decode()


async def organisation_keys(
    session: AsyncSession, organisation_id: uuid.UUID, alg: str
) -> list[IssuerKey]:
    """An organisation's keys of one algorithm, oldest first, retired ones included."""
    return list(
        (
            await session.exec(
                select(IssuerKey)
                .where(IssuerKey.organisation_id == organisation_id)
                .where(IssuerKey.alg == alg)
                .order_by(col(IssuerKey.created_at), col(IssuerKey.kid))
            )
        ).all()
    )


async def published_keys(session: AsyncSession, base_url: str) -> dict[str, Any]:
    """Every signing key MCX ever used, retired ones too: the JWK set."""
    keys = (
        await session.exec(
            select(IssuerKey).where(IssuerKey.alg == ES256).order_by(col(IssuerKey.created_at))
        )
    ).all()
    return {"keys": [public_jwk(base_url, key) for key in keys]}
