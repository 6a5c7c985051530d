"""Nudges: a reminder for a draft left idle more than N days, for a draft whose pilot has its
last few spots left, and for reviewers when work in their pools waits past the time target.
Each person picks in-app and/or e-mail and a quiet-hours window; each nudge fires once (a
unique row in nudges_sent, written before anything is sent). Inside quiet hours nothing is
recorded, so the nudge goes out after."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import func, literal_column
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access, events, mail
from app.actions.submissions import latest_version, spots_taken
from app.errors import ActionError
from app.models import (
    Credential,
    CredentialStatus,
    Membership,
    NudgePreference,
    NudgeSent,
    ReviewTask,
    Role,
    Submission,
    SubmissionState,
    TaskState,
    User,
)
from app.queue_health import DEFAULT_TARGET_HOURS
from app.runtime import Runtime

DEFAULT = NudgePreference(user_id=uuid.UUID(int=0))


async def preference_of(session: AsyncSession, user_id: uuid.UUID) -> NudgePreference:
    return await session.get(NudgePreference, user_id) or DEFAULT


async def set_preferences(
    session: AsyncSession,
    user: User,
    *,
    in_app: bool,
    email: bool,
    quiet_start: int,
    quiet_end: int,
    timezone: str,
) -> NudgePreference:
    """How and when this person is reminded. Refused values change nothing."""
    if not (0 <= quiet_start <= 23 and 0 <= quiet_end <= 23):
        raise ActionError("bad_hours", "Quiet hours are whole hours from 0 to 23.", 422)
    if timezone not in available_timezones():
        raise ActionError("bad_timezone", "Choose a time zone from the list.", 422)
    preference = await session.get(NudgePreference, user.id) or NudgePreference(user_id=user.id)
    preference.in_app, preference.email = in_app, email
    preference.quiet_start, preference.quiet_end = quiet_start, quiet_end
    preference.timezone = timezone
    preference.updated_at = datetime.now(UTC)
    session.add(preference)
    await session.commit()
    return preference


def quiet(preference: NudgePreference, now: datetime) -> bool:
    """Whether `now` falls in the person's quiet hours [start, end), read in their zone."""
    start, end = preference.quiet_start, preference.quiet_end
    if start == end:
        return False
    try:
        hour = now.astimezone(ZoneInfo(preference.timezone)).hour
    except ZoneInfoNotFoundError:
        hour = now.astimezone(UTC).hour
    return start <= hour < end if start < end else (hour >= start or hour < end)


@dataclass
class Sent:
    idle_drafts: int = 0
    pilot_spots: int = 0
    waiting_work: int = 0
    mails: int = 0
    deferred: int = 0  # quiet hours


async def _claim(
    session: AsyncSession, user_id: uuid.UUID, kind: str, subjects: list[str], channels: str
) -> list[str]:
    """Record the nudges; returns the subjects not recorded before (those to send now)."""
    fresh: list[str] = []
    for subject in subjects:
        row = await session.exec(
            insert(NudgeSent)  # type: ignore[call-overload]
            .values(
                id=uuid.uuid4(),
                user_id=user_id,
                kind=kind,
                subject=subject,
                channels=channels,
                sent_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(constraint="uq_nudge_once")
            .returning(NudgeSent.subject)
        )
        if (got := row.scalar()) is not None:
            fresh.append(got)
    return fresh


async def _deliver(
    runtime: Runtime,
    user: User,
    preference: NudgePreference,
    kind: str,
    payload: dict[str, object],
    subject: str,
    body: str,
    sent: Sent,
) -> None:
    if preference.in_app:
        await events.notify(
            runtime.engine, runtime.redis, runtime.settings, user.id, f"nudge.{kind}", payload
        )
    if preference.email and await mail.send(runtime.settings, user.email, subject, body):
        sent.mails += 1


def _channels(preference: NudgePreference) -> str:
    return ",".join(n for n, on in (("app", preference.in_app), ("email", preference.email)) if on)


async def run_nudges(runtime: Runtime, now: datetime) -> Sent:
    """One pass over everything that may deserve a reminder at `now`."""
    sent = Sent()
    settings = runtime.settings
    idle_before = now - timedelta(days=settings.nudge_idle_days)
    async with runtime.sessions() as session:
        drafts = (
            await session.exec(
                select(Submission, Credential, User)
                .join(Credential, col(Credential.id) == col(Submission.credential_id))
                .join(User, col(User.id) == col(Submission.earner_id))
                .where(col(Submission.state).in_([SubmissionState.draft, SubmissionState.returned]))
                .where(col(Submission.updated_at) < idle_before)
            )
        ).all()
    for submission, credential, earner in drafts:
        async with runtime.sessions() as session:
            preference = await preference_of(session, earner.id)
            if quiet(preference, now):
                sent.deferred += 1
                continue
            # One nudge per idle spell: new work moves updated_at, and a later spell nudges again.
            key = f"{submission.id}:{submission.updated_at.isoformat()}"
            fresh = await _claim(session, earner.id, "idle_draft", [key], _channels(preference))
            await session.commit()
        if not fresh:
            continue
        sent.idle_drafts += 1
        link = f"{settings.base_url}/submissions/{submission.id}"
        await _deliver(
            runtime,
            earner,
            preference,
            "idle_draft",
            {"submission_id": str(submission.id), "credential": credential.title},
            f"Your {credential.title} packet is waiting for you",
            f"Hello {earner.name},\n\nYour draft for {credential.title} has not changed in "
            f"{settings.nudge_idle_days} days. Everything you added is saved; pick up where "
            f"you left off:\n{link}\n",
            sent,
        )
    await _pilot_spots(runtime, now, sent)
    await _waiting_work(runtime, now, sent)
    return sent


async def _pilot_spots(runtime: Runtime, now: datetime, sent: Sent) -> None:
    """Earners with an unsubmitted draft for a pilot whose last few spots are going: once."""
    settings = runtime.settings
    async with runtime.sessions() as session:
        drafts = (
            await session.exec(
                select(Submission, Credential, User)
                .join(Credential, col(Credential.id) == col(Submission.credential_id))
                .join(User, col(User.id) == col(Submission.earner_id))
                .where(Credential.status == CredentialStatus.pilot)
                .where(Submission.state == SubmissionState.draft)
            )
        ).all()
        left = {
            credential.id: (credential.pilot_spots or 0) - await spots_taken(session, credential.id)
            for _, credential, _ in drafts
        }
    for submission, credential, earner in drafts:
        spots = left[credential.id]
        if not 0 < spots <= settings.nudge_pilot_spots_left:
            continue
        async with runtime.sessions() as session:
            if (await latest_version(session, submission.id)).number > 1:
                continue  # a revision after "not yet" already had its spot
            preference = await preference_of(session, earner.id)
            if quiet(preference, now):
                sent.deferred += 1
                continue
            fresh = await _claim(
                session, earner.id, "pilot_spots", [str(submission.id)], _channels(preference)
            )
            await session.commit()
        if not fresh:
            continue
        sent.pilot_spots += 1
        await _deliver(
            runtime,
            earner,
            preference,
            "pilot_spots",
            {"submission_id": str(submission.id), "credential": credential.title, "left": spots},
            f"{spots} pilot spot(s) left for {credential.title}",
            f"Hello {earner.name},\n\nThe pilot of {credential.title} has {spots} spot(s) left; "
            f"a spot is yours when you submit your packet:\n"
            f"{settings.base_url}/submissions/{submission.id}\n",
            sent,
        )


async def _waiting_work(runtime: Runtime, now: datetime, sent: Sent) -> None:
    """Reviewers who may claim work that has waited past the target hear about it once."""
    settings = runtime.settings
    # Past the credential's own time target (the queue-health default when it has none).
    overdue = (
        col(ReviewTask.created_at)
        + func.coalesce(col(Credential.target_hours), DEFAULT_TARGET_HOURS)
        * literal_column("interval '1 hour'")
        < now
    )
    async with runtime.sessions() as session:
        orgs = (
            await session.exec(
                select(Credential.organisation_id)
                .join(Submission, col(Submission.credential_id) == col(Credential.id))
                .join(ReviewTask, col(ReviewTask.submission_id) == col(Submission.id))
                .where(ReviewTask.state == TaskState.open)
                .where(overdue)
                .distinct()
            )
        ).all()
        reviewers = (
            await session.exec(
                select(User)
                .where(
                    col(User.id).in_(
                        select(Membership.user_id)
                        .where(col(Membership.organisation_id).in_(orgs))
                        .where(col(Membership.role).in_([Role.reviewer, Role.expert]))
                        .where(col(Membership.suspended_at).is_(None))
                    )
                )
                .order_by(col(User.id))
            )
        ).all()
    for reviewer in reviewers:
        async with runtime.sessions() as session:
            preference = await preference_of(session, reviewer.id)
            rows = (await session.execute(access.eligible_tasks(reviewer).where(overdue))).all()
            if not rows:
                continue
            if quiet(preference, now):
                sent.deferred += 1
                continue
            subjects = [str(task.id) for task, _, _ in rows]
            fresh = await _claim(
                session, reviewer.id, "waiting_work", subjects, _channels(preference)
            )
            await session.commit()
        if not fresh:
            continue
        sent.waiting_work += 1
        titles = sorted({credential.title for task, _, credential in rows if str(task.id) in fresh})
        await _deliver(
            runtime,
            reviewer,
            preference,
            "waiting_work",
            {"tasks": len(fresh), "credentials": titles},
            f"{len(fresh)} packet(s) have waited past their time target",
            f"Hello {reviewer.name},\n\nEducators are waiting for feedback on: "
            f"{', '.join(titles)}. Claim one from your feed:\n{settings.base_url}/review\n",
            sent,
        )
