"""The VAPID key pair the push services know MCX by: made with the deployment (at `mcx migrate`,
or on first use), sealed under MCX_SECRET_KEY like the badge keys, rotatable (`mcx push
rotate-key`). A retired key keeps signing for the devices that subscribed with it until their
browser subscribes again with the current one (push.js does so on its next visit)."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from py_vapid import Vapid
from sqlalchemy import exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import PushSubscription, VapidKey

_NONCE_BYTES = 12


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sealing_key(secret_key: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"mcx vapid keys v1"
    ).derive(secret_key.encode())
    return AESGCM(derived)


def _seal(secret_key: str, key_id: uuid.UUID, private_der: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + _sealing_key(secret_key).encrypt(nonce, private_der, key_id.bytes)


def signer(secret_key: str, key: VapidKey) -> Vapid:
    """The py-vapid signer for this key (unsealed in memory only)."""
    nonce, sealed = key.private_encrypted[:_NONCE_BYTES], key.private_encrypted[_NONCE_BYTES:]
    der = _sealing_key(secret_key).decrypt(nonce, sealed, key.id.bytes)
    return Vapid.from_der(b64url(der).encode())


def _new_key(secret_key: str) -> VapidKey:
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_id = uuid.uuid4()
    return VapidKey(
        id=key_id, public_key=b64url(public), private_encrypted=_seal(secret_key, key_id, der)
    )


_CURRENT = select(VapidKey).where(col(VapidKey.retired_at).is_(None))


async def current_key(session: AsyncSession, secret_key: str) -> VapidKey:
    """The key new subscriptions use, made (and committed) on first use."""
    key = (await session.exec(_CURRENT)).first()
    if key is not None:
        return key
    key = _new_key(secret_key)
    session.add(key)
    try:
        await session.commit()
    except IntegrityError:
        # Another process made it first (the partial unique index): use theirs.
        await session.rollback()
        return (await session.exec(_CURRENT)).one()
    return key


async def rotate_key(session: AsyncSession, secret_key: str) -> VapidKey:
    """Retire the current key (it still signs for its subscriptions) and make a new one.
    Retired keys no device uses any more are deleted."""
    await session.exec(
        delete(VapidKey)
        .where(col(VapidKey.retired_at).is_not(None))
        .where(~exists().where(col(PushSubscription.vapid_key_id) == col(VapidKey.id)))
    )
    await session.exec(
        update(VapidKey)
        .where(col(VapidKey.retired_at).is_(None))
        .values(retired_at=datetime.now(UTC))
    )
    key = _new_key(secret_key)
    session.add(key)
    await session.commit()
    return key


async def subscriptions_on_retired_keys(session: AsyncSession) -> int:
    """Devices whose browser subscribed with a key that is no longer current."""
    count = await session.exec(
        select(func.count())
        .select_from(PushSubscription)
        .join(VapidKey, col(VapidKey.id) == col(PushSubscription.vapid_key_id))
        .where(col(VapidKey.retired_at).is_not(None))
    )
    return int(count.one())
