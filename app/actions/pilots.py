"""Pilots: a credential in pilot has N spots; a submitted packet holds one. When the pilot is
full, earners join its waitlist, and are told (in the order they joined) when spots free up:
a packet withdrawn, more spots, or the credential published.

Spots stay first come, first served: being told does not reserve one, so an earner who does
not come back does not block the next.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import events
from app.errors import ActionError, not_found
from app.models import (
    AuditEntry,
    Credential,
    CredentialStatus,
    Organisation,
    Submission,
    SubmissionState,
    User,
    WaitlistEntry,
)
from app.runtime import Runtime

# A draft has not taken a spot yet; a withdrawn packet has given its spot back.
NOT_HOLDING = (SubmissionState.draft, SubmissionState.withdrawn)


async def spots_taken(session: AsyncSession, credential_id: uuid.UUID) -> int:
    return (
        await session.exec(
            select(func.count())
            .select_from(Submission)
            .where(Submission.credential_id == credential_id)
            .where(col(Submission.state).not_in(NOT_HOLDING))
        )
    ).one()


def _waiting(credential_id: uuid.UUID) -> Any:
    """Waitlist entries of people who do not hold a spot (yet), in the order they joined."""
    return (
        select(WaitlistEntry)
        .where(WaitlistEntry.credential_id == credential_id)
        .where(
            ~select(Submission.id)
            .where(col(Submission.credential_id) == credential_id)
            .where(col(Submission.earner_id) == col(WaitlistEntry.user_id))
            .where(col(Submission.state).not_in(NOT_HOLDING))
            .exists()
        )
        .order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))
    )


async def position(session: AsyncSession, user: User, credential_id: uuid.UUID) -> int | None:
    """1 for the first in line; None when this person is not waiting."""
    entries = (await session.exec(_waiting(credential_id))).all()
    for number, entry in enumerate(entries, start=1):
        if entry.user_id == user.id:
            return int(number)
    return None


async def join_waitlist(session: AsyncSession, earner: User, credential_id: uuid.UUID) -> int:
    """Join a full pilot's waitlist (again: no change); returns the place in line."""
    credential = await session.get(Credential, credential_id, with_for_update=True)
    if credential is None or credential.status != CredentialStatus.pilot:
        raise not_found("That pilot")
    if await spots_taken(session, credential.id) < (credential.pilot_spots or 0):
        raise ActionError(
            "spots_left", f"The pilot of {credential.title} has spots left: start now.", 409
        )
    holding = await session.exec(
        select(Submission.id)
        .where(Submission.credential_id == credential.id)
        .where(Submission.earner_id == earner.id)
        .where(col(Submission.state).not_in(NOT_HOLDING))
    )
    if holding.first() is not None:
        raise ActionError("already_in", "You already hold a spot in this pilot.", 409)
    existing = (
        await session.exec(
            select(WaitlistEntry)
            .where(WaitlistEntry.credential_id == credential.id)
            .where(WaitlistEntry.user_id == earner.id)
        )
    ).first()
    if existing is None:
        session.add(WaitlistEntry(credential_id=credential.id, user_id=earner.id))
        session.add(
            AuditEntry(
                actor_id=earner.id,
                action="pilot.waitlisted",
                subject_type="credential",
                subject_id=str(credential.id),
            )
        )
        try:
            await session.commit()
        except IntegrityError:  # a double tap raced us: the first one counts
            await session.rollback()
    place = await position(session, earner, credential_id)
    assert place is not None
    return place


async def leave_waitlist(session: AsyncSession, earner: User, credential_id: uuid.UUID) -> None:
    entry = (
        await session.exec(
            select(WaitlistEntry)
            .where(WaitlistEntry.credential_id == credential_id)
            .where(WaitlistEntry.user_id == earner.id)
        )
    ).first()
    if entry is None:
        raise not_found("That waitlist place")
    await session.delete(entry)
    await session.commit()


async def offer_free_spots(runtime: Runtime, credential_id: uuid.UUID) -> int:
    """Tell as many waiting earners as there are free spots (all of them once published),
    each once, first come first told. Idempotent; returns how many were told."""
    async with runtime.sessions() as session:
        credential = await session.get(Credential, credential_id, with_for_update=True)
        if credential is None or credential.status not in (
            CredentialStatus.pilot,
            CredentialStatus.published,
        ):
            return 0
        query = _waiting(credential.id).where(col(WaitlistEntry.notified_at).is_(None))
        if credential.status == CredentialStatus.pilot:
            free = (credential.pilot_spots or 0) - await spots_taken(session, credential.id)
            # Already told and still not in: they count against the free spots.
            told = (
                await session.exec(
                    _waiting(credential.id).where(col(WaitlistEntry.notified_at).is_not(None))
                )
            ).all()
            free -= len(told)
            if free <= 0:
                return 0
            query = query.limit(free)
        entries = list((await session.exec(query)).all())
        now = datetime.now(UTC)
        for entry in entries:
            entry.notified_at = now
            session.add(entry)
        organisation = await session.get(Organisation, credential.organisation_id)
        assert organisation is not None
        title, path = credential.title, f"/credentials/{organisation.slug}/{credential.slug}"
        await session.commit()
    for entry in entries:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            entry.user_id,
            "pilot.spot_free",
            {"credential_id": str(credential_id), "credential": title, "path": path},
        )
    return len(entries)


async def waiting_count(session: AsyncSession, credential_id: uuid.UUID) -> int:
    """How many earners wait for a spot (those who got in since are not counted)."""
    return len((await session.exec(_waiting(credential_id))).all())
