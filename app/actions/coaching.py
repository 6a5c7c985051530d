"""Attempts and coaching: after the last allowed "not yet" the earner may ask the issuer for a
coaching conversation; the issuer's coordinators see the request and close it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access, events
from app.actions.submissions import latest_version
from app.errors import ActionError, not_found
from app.models import (
    AuditEntry,
    CoachingRequest,
    CoachingState,
    Credential,
    Membership,
    Role,
    Submission,
    SubmissionState,
    User,
)
from app.runtime import Runtime

MAX_TEXT = 4000


async def attempts_used(session: AsyncSession, submission: Submission) -> tuple[int, int]:
    """(versions submitted so far, the credential's maximum)."""
    credential = await session.get(Credential, submission.credential_id)
    assert credential is not None
    return (await latest_version(session, submission.id)).number, credential.max_attempts


async def coordinators_of(session: AsyncSession, organisation_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.exec(
        select(Membership.user_id)
        .where(Membership.organisation_id == organisation_id)
        .where(Membership.role == Role.coordinator)
        .where(col(Membership.suspended_at).is_(None))
    )
    return list(dict.fromkeys(rows.all()))


async def request_coaching(
    runtime: Runtime, earner: User, submission_id: uuid.UUID, message: str
) -> CoachingRequest:
    """Only after the last attempt ended "not yet"; one open request per packet."""
    text = message.strip()
    if len(text) > MAX_TEXT:
        raise ActionError("too_long", f"Keep the message under {MAX_TEXT:,} characters.", 422)
    async with runtime.sessions() as session:
        submission = await session.get(Submission, submission_id, with_for_update=True)
        if submission is None or submission.earner_id != earner.id:
            raise not_found("That submission")
        used, allowed = await attempts_used(session, submission)
        if submission.state != SubmissionState.not_yet or used < allowed:
            raise ActionError(
                "not_yet_eligible",
                "Coaching is offered once every attempt has ended 'not yet'.",
                409,
            )
        credential = await session.get(Credential, submission.credential_id)
        assert credential is not None
        request = CoachingRequest(submission_id=submission.id, earner_id=earner.id, message=text)
        session.add(request)
        session.add(
            AuditEntry(
                actor_id=earner.id,
                action="coaching.requested",
                subject_type="submission",
                subject_id=str(submission.id),
            )
        )
        try:
            await session.commit()
        except IntegrityError:
            raise ActionError(
                "already_requested", "You have already asked; a coordinator will be in touch.", 409
            ) from None
        coordinators = await coordinators_of(session, credential.organisation_id)
        title = credential.title
    for user_id in coordinators:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            user_id,
            "coaching.requested",
            {"request_id": str(request.id), "credential": title, "earner": earner.name},
        )
    return request


async def open_requests(
    session: AsyncSession, coordinator: User
) -> list[tuple[CoachingRequest, Credential, User]]:
    """The open coaching requests of every organisation this person coordinates."""
    orgs = [
        org for org, role in await access.roles_of(session, coordinator) if role == Role.coordinator
    ]
    rows = await session.exec(
        select(CoachingRequest, Credential, User)
        .join(Submission, col(Submission.id) == col(CoachingRequest.submission_id))
        .join(Credential, col(Credential.id) == col(Submission.credential_id))
        .join(User, col(User.id) == col(CoachingRequest.earner_id))
        .where(CoachingRequest.state == CoachingState.open)
        .where(col(Credential.organisation_id).in_(orgs))
        .order_by(col(CoachingRequest.created_at))
    )
    return list(rows.all())


async def close_coaching(
    runtime: Runtime, coordinator: User, request_id: uuid.UUID, note: str
) -> CoachingRequest:
    """A coordinator of the issuer closes the request (after the conversation), with a note."""
    text = note.strip()
    if len(text) > MAX_TEXT:
        raise ActionError("too_long", f"Keep the note under {MAX_TEXT:,} characters.", 422)
    async with runtime.sessions() as session:
        request = await access.access_coaching_request(session, coordinator, request_id)
        if request.state != CoachingState.open:
            raise ActionError("already_closed", "This request is already closed.", 409)
        request.state = CoachingState.closed
        request.closed_at = datetime.now(UTC)
        request.closed_by = coordinator.id
        request.note = text
        session.add(request)
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="coaching.closed",
                subject_type="coaching_request",
                subject_id=str(request.id),
                data={"note": text},
            )
        )
        await session.commit()
    await events.notify(
        runtime.engine,
        runtime.redis,
        runtime.settings,
        request.earner_id,
        "coaching.closed",
        {"submission_id": str(request.submission_id), "note": text},
    )
    return request
