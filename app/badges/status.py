"""Bitstring Status List (W3C): one list per issuer and block of 131,072 awards; a set bit
means the award at that index was revoked."""

from __future__ import annotations

import base64
import gzip
import re
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.badges import keys, ob3, urls
from app.models import Award, Credential, Organisation, Stack
from app.settings import Settings

SIZE = ob3.STATUS_LIST_SIZE


def encode(indexes: set[int]) -> str:
    """Multibase (base64url, `u`) of the GZIP-compressed bitstring; index 0 is the first bit."""
    bits = bytearray(SIZE // 8)
    for index in indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).decode().rstrip("=")


def is_set(encoded: str, index: int) -> bool:
    """Read one bit of an encoded list (ValueError when the list is malformed)."""
    if not encoded.startswith("u"):
        raise ValueError("the status list is not base64url multibase")
    raw = encoded[1:]
    bits = gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    if not 0 <= index < len(bits) * 8:
        raise ValueError("the status index is outside the list")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


async def revoked_indexes(
    session: AsyncSession, organisation: Organisation, number: int
) -> set[int]:
    low, high = number * SIZE, (number + 1) * SIZE
    found: set[int] = set()
    for achievement, column in ((Credential, Award.credential_id), (Stack, Award.stack_id)):
        rows = await session.exec(
            select(Award.status_index)
            .join(achievement, col(achievement.id) == col(column))
            .where(achievement.organisation_id == organisation.id)
            .where(col(Award.revoked_at).is_not(None))
            .where(col(Award.status_index) >= low)
            .where(col(Award.status_index) < high)
        )
        found.update(index - low for index in rows.all() if index is not None)
    return found


def status_list_credential(
    base: str, organisation: Organisation, number: int, revoked: set[int]
) -> dict[str, Any]:
    list_url = urls.status_list(base, organisation, number)
    return {
        "@context": [ob3.VC_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": urls.issuer(base, organisation),
        "validFrom": ob3.iso(datetime.now(UTC)),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode(revoked),
        },
    }


async def signed_status_list(
    session: AsyncSession, settings: Settings, slug: str, number: int
) -> str | None:
    organisation = (
        await session.exec(select(Organisation).where(Organisation.slug == slug))
    ).first()
    if organisation is None or not 0 <= number < 2**31 // SIZE:
        return None
    revoked = await revoked_indexes(session, organisation, number)
    document = status_list_credential(settings.base_url, organisation, number, revoked)
    key = await keys.active_key(session, settings.secret_key, organisation.id)
    claims = dict(document, iss=document["issuer"], jti=document["id"])
    claims["nbf"] = claims["iat"] = int(datetime.now(UTC).timestamp())
    header = {"alg": "ES256", "typ": "JWT", "kid": keys.key_url(settings.base_url, key.kid)}
    return jwt.encode(
        header, claims, keys.private_jwk(settings.secret_key, key), algorithms=["ES256"]
    )


async def entry_status(
    session: AsyncSession, base: str, entry: dict[str, Any]
) -> tuple[bool, str] | None:
    """(revoked?, reason) for a status entry naming one of MCX's own lists; None for lists
    published elsewhere (MCX does not fetch them)."""
    list_url = str(entry.get("statusListCredential", ""))
    match = re.fullmatch(re.escape(base) + r"/badges/status/([a-z0-9-]+)/(\d{1,6})", list_url)
    if entry.get("type") != "BitstringStatusListEntry" or match is None:
        return None
    raw = str(entry.get("statusListIndex"))
    if not raw.isascii() or not raw.isdigit() or not 0 <= int(raw) < SIZE:
        return True, "its status entry is malformed."
    index = int(match.group(2)) * SIZE + int(raw)
    award = (await session.exec(select(Award).where(Award.status_index == index))).first()
    thing = None
    if award is not None:
        thing = (
            await session.get(Credential, award.credential_id)
            if award.credential_id
            else await session.get(Stack, award.stack_id)
        )
    organisation = await session.get(Organisation, thing.organisation_id) if thing else None
    if award is None or organisation is None or organisation.slug != match.group(1):
        return True, "its status entry names no badge of this issuer."
    if award.revoked_at is not None:
        return True, award.revocation_reason or "no reason given."
    return False, ""
