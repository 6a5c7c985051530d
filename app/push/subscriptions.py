"""People's devices and choices: subscribing a device, removing it, and which kinds of push a
person wants. Every write commits; refused input changes nothing."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import uuid
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import ActionError
from app.models import PushChoice, PushSubscription, User, VapidKey
from app.push.kinds import CATEGORIES
from app.settings import Settings

MAX_DEVICES = 20


def _unb64(value: str, field: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", value):
        raise ActionError("bad_subscription", f"{field} is not base64url.", 422)
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ActionError("bad_subscription", f"{field} is not base64url.", 422) from None


def _check_endpoint(endpoint: str, settings: Settings) -> None:
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if not host or parts.username or parts.password:
        raise ActionError("bad_subscription", "endpoint must be a push service URL.", 422)
    if settings.push_private_endpoints:
        if parts.scheme not in ("https", "http"):
            raise ActionError("bad_subscription", "endpoint must be an http(s) URL.", 422)
        return
    if parts.scheme != "https":
        raise ActionError("bad_subscription", "endpoint must be an https URL.", 422)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: delivery checks where it resolves before connecting
    if not literal.is_global:
        raise ActionError("bad_subscription", "endpoint must be a public push service.", 422)


def browser_name(user_agent: str) -> str:
    """A person-readable device name from the User-Agent ("Chrome on Android")."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("SamsungBrowser", "Samsung Internet"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if token in ua
        ),
        "A browser",
    )
    system = next(
        (
            name
            for token, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "Mac"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if token in ua
        ),
        "",
    )
    return f"{browser} on {system}" if system else browser


async def subscribe(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    server_key: str,
    user_agent: str,
) -> PushSubscription:
    """Store this device for this person. The same endpoint again takes the new keys; on a
    shared phone, another person's subscription of it is replaced (nothing of theirs follows)."""
    if len(endpoint) > 1000:
        raise ActionError("bad_subscription", "endpoint is too long.", 422)
    _check_endpoint(endpoint, settings)
    point = _unb64(p256dh, "keys.p256dh")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise ActionError(
            "bad_subscription", "keys.p256dh is not a P-256 public key.", 422
        ) from None
    if len(_unb64(auth, "keys.auth")) != 16:
        raise ActionError("bad_subscription", "keys.auth must be 16 bytes.", 422)
    key = (await session.exec(select(VapidKey).where(VapidKey.public_key == server_key))).first()
    if key is None or key.retired_at is not None:
        raise ActionError(
            "stale_key", "This page has an old server key: reload it and try again.", 409
        )
    owned = (
        await session.exec(
            select(PushSubscription.id)
            .where(PushSubscription.user_id == user.id)
            .where(PushSubscription.endpoint != endpoint)
        )
    ).all()
    if len(owned) >= MAX_DEVICES:
        raise ActionError("too_many_devices", f"At most {MAX_DEVICES} devices; remove one.", 422)
    earlier = (
        await session.exec(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    ).first()
    if earlier is not None and earlier.user_id != user.id:
        # Another person on this device before: their pushes not yet sent must not reach
        # the new person, so their subscription (and its queue) goes, and a new one starts.
        await session.delete(earlier)
        await session.flush()
    values = {
        "user_id": user.id,
        "p256dh": p256dh.rstrip("="),
        "auth": auth.rstrip("="),
        "vapid_key_id": key.id,
        "browser": browser_name(user_agent)[:100],
    }
    row = await session.exec(
        insert(PushSubscription)  # type: ignore[call-overload]
        .values(id=uuid.uuid4(), endpoint=endpoint, **values)
        .on_conflict_do_update(index_elements=["endpoint"], set_=values)
        .returning(PushSubscription.id)
    )
    subscription_id: uuid.UUID = row.scalar_one()
    await session.commit()
    subscription = await session.get(PushSubscription, subscription_id)
    assert subscription is not None
    await session.refresh(subscription)
    return subscription


async def remove(session: AsyncSession, user: User, subscription_id: uuid.UUID) -> None:
    """Forget one of this person's devices (another person's looks missing: 404)."""
    result = await session.exec(
        delete(PushSubscription)
        .where(col(PushSubscription.id) == subscription_id)
        .where(col(PushSubscription.user_id) == user.id)
    )
    if not result.rowcount:
        raise ActionError("not_found", "That device was not found.", 404)
    await session.commit()


async def remove_endpoint(session: AsyncSession, user: User, endpoint: str) -> bool:
    """Forget the device with this endpoint if it is this person's (the browser unsubscribed)."""
    result = await session.exec(
        delete(PushSubscription)
        .where(col(PushSubscription.endpoint) == endpoint)
        .where(col(PushSubscription.user_id) == user.id)
    )
    await session.commit()
    return bool(result.rowcount)


async def devices(session: AsyncSession, user: User) -> list[PushSubscription]:
    return list(
        (
            await session.exec(
                select(PushSubscription)
                .where(PushSubscription.user_id == user.id)
                .order_by(col(PushSubscription.created_at))
            )
        ).all()
    )


async def choices_of(session: AsyncSession, user_id: uuid.UUID) -> dict[str, bool]:
    """Every category with this person's answer, or its default."""
    chosen = {
        c.category: c.enabled
        for c in (await session.exec(select(PushChoice).where(PushChoice.user_id == user_id)))
    }
    return {name: chosen.get(name, category.default) for name, category in CATEGORIES.items()}


async def set_choices(session: AsyncSession, user: User, enabled: set[str]) -> None:
    """Turn on exactly the named categories (the ones a form left unticked are off)."""
    unknown = enabled - CATEGORIES.keys()
    if unknown:
        raise ActionError("bad_choice", f"Unknown kind of push: {sorted(unknown)[0]}.", 422)
    for name in CATEGORIES:
        await session.exec(
            insert(PushChoice)
            .values(user_id=user.id, category=name, enabled=name in enabled)
            .on_conflict_do_update(
                index_elements=["user_id", "category"], set_={"enabled": name in enabled}
            )
        )
    await session.commit()
