"""An award's OB 3.0 credential, signed with its organisation's current key."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.badges import keys, ob3
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
