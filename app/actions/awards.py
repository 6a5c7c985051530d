"""Badges outside the review flow: a coordinator revokes one (with a reason) or issues many."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.access import access_award_as_coordinator
from app.badges import keys
from app.errors import ActionError
from app.models import AuditEntry, Award, Credential, User
from app.runtime import Runtime

MAX_REASON = 500


async def issue_award(
    session: AsyncSession,
    *,
    earner: User,
    credential: Credential,
    issued_by: User | None = None,
    evidence_note: str | None = None,
    expires_at: datetime | None = None,
    issued_at: datetime | None = None,
) -> Award:
    """Add (not commit) an award of `credential` to `earner`, made outside a review."""
    award = Award(
        user_id=earner.id,
        credential_id=credential.id,
        recipient_salt=secrets.token_hex(16),
        issued_at=issued_at or datetime.now(UTC),
        expires_at=expires_at,
        evidence_note=evidence_note,
        issued_by_id=issued_by.id if issued_by else None,
    )
    session.add(award)
    session.add(
        AuditEntry(
            actor_id=issued_by.id if issued_by else None,
            action="award.issued",
            subject_type="award",
            subject_id=str(award.id),
        )
    )
    return award


async def revoke_award(
    runtime: Runtime, coordinator: User, award_id: uuid.UUID, reason: str
) -> Award:
    """Revoke a badge for a stated reason; its assertion answers 410 and its status bit is set."""
    reason = " ".join(reason.split())
    if not 1 <= len(reason) <= MAX_REASON:
        raise ActionError(
            "invalid_reason", f"Say why the badge is revoked (1 to {MAX_REASON} characters)."
        )
    async with runtime.sessions() as session:
        award = await access_award_as_coordinator(session, coordinator, award_id)
        if award.revoked_at is not None:
            raise ActionError("already_revoked", "This badge was already revoked.", 409)
        award.revoked_at = datetime.now(UTC)
        award.revocation_reason = reason
        award.revoked_by_id = coordinator.id
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="award.revoked",
                subject_type="award",
                subject_id=str(award.id),
                data={"reason": reason},
            )
        )
        await session.commit()
    await runtime_notify_revoked(runtime, award)
    return award


async def runtime_notify_revoked(runtime: Runtime, award: Award) -> None:
    """After commit: tell the earner, in words, that the badge was revoked and why."""
    from app.events import notify

    await notify(
        runtime.engine,
        runtime.redis,
        runtime.settings,
        award.user_id,
        "badge.revoked",
        {"award_id": str(award.id), "reason": award.revocation_reason or ""},
    )


async def ensure_issuer_key(runtime: Runtime, organisation_id: uuid.UUID) -> str:
    """The organisation's signing key id, made on first use."""
    async with runtime.sessions() as session:
        key = await keys.active_key(session, runtime.settings.secret_key, organisation_id)
        return key.kid


async def rotate_issuer_key(runtime: Runtime, organisation_id: uuid.UUID) -> str:
    """A new signing key; the old one stays published so earlier badges still verify."""
    async with runtime.sessions() as session:
        key = await keys.rotate_key(session, runtime.settings.secret_key, organisation_id)
        session.add(
            AuditEntry(
                action="issuer_key.rotated",
                subject_type="organisation",
                subject_id=str(organisation_id),
                data={"kid": key.kid},
            )
        )
        await session.commit()
        return key.kid
