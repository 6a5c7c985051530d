"""The coordinator's overview of their credentials, each one's settings form and its
live queue (rendered with the page, then polled as queue.json by static/coordinator.js)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app import access
from app.actions import pilots
from app.actions import settings as credential_settings
from app.actions.submissions import spots_taken
from app.auth import current_user
from app.errors import ActionError, not_found
from app.models import (
    Credential,
    CredentialStatus,
    Organisation,
    ReviewTask,
    Role,
    Stakes,
    Submission,
    SubmissionCriterion,
    TaskState,
    User,
)
from app.templating import templates
from app.views import form_fields
from app.views.apikit import path_id

LIVE = (TaskState.open, TaskState.claimed)
STATUS_CHOICES = [
    (CredentialStatus.draft, "Draft: only coordinators see it"),
    (CredentialStatus.pilot, "Pilot: open to a number of earners"),
    (CredentialStatus.published, "Published: open to every earner"),
    (CredentialStatus.retired, "Retired: closed to new earners"),
]


def duration(seconds: float) -> str:
    """A short human duration: "under a minute", "7 min", "2 h 5 min", "3 d 4 h"."""
    minutes = int(max(seconds, 0) // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


async def _coordinated_organisations(session: AsyncSession, user: User) -> set[uuid.UUID]:
    return {org for org, role in await access.roles_of(session, user) if role == Role.coordinator}


async def _managed(session: AsyncSession, user: User, credential_id: uuid.UUID) -> Credential:
    """The credential, if this person coordinates its issuer; 404 otherwise (as if missing)."""
    credential = await session.get(Credential, credential_id)
    if credential is None or not await access.is_coordinator_of(
        session, user, credential.organisation_id
    ):
        raise not_found("That credential")
    return credential


def _review_policy(credential: Credential) -> str:
    if credential.stakes == Stakes.high:
        return f"{credential.expert_reviews} expert"
    return f"{credential.peer_reviews} peer"


async def overview(request: Request) -> Response:
    """GET /coordinate: every credential of my organisations with its status, policy and
    open/claimed work. 404 for anyone who coordinates nothing."""
    user = access.require_user(await current_user(request))
    async with request.app.state.runtime.sessions() as session:
        organisations = await _coordinated_organisations(session, user)
        if not organisations:
            raise not_found("That page")
        work = (
            select(
                col(Submission.credential_id).label("credential_id"),
                func.count().filter(col(ReviewTask.state) == TaskState.open).label("open"),
                func.count().filter(col(ReviewTask.state) == TaskState.claimed).label("claimed"),
            )
            .select_from(ReviewTask)
            .join(Submission, col(Submission.id) == col(ReviewTask.submission_id))
            .where(col(ReviewTask.state).in_(LIVE))
            .group_by(col(Submission.credential_id))
            .subquery()
        )
        rows = (
            await session.exec(
                select(
                    Credential,
                    Organisation,
                    func.coalesce(work.c.open, 0),
                    func.coalesce(work.c.claimed, 0),
                )
                .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
                .outerjoin(work, work.c.credential_id == col(Credential.id))
                .where(col(Credential.organisation_id).in_(organisations))
                .order_by(col(Organisation.name), col(Credential.title))
            )
        ).all()
    credentials = [
        {
            "credential": credential,
            "organisation": organisation.name,
            "reviews": _review_policy(credential),
            "open": open_count,
            "claimed": claimed_count,
        }
        for credential, organisation, open_count, claimed_count in rows
    ]
    return templates.TemplateResponse(
        request,
        "coordinator/index.html",
        {
            "credentials": credentials,
            "organisations": await _organisation_rows(request, organisations),
            "flash": request.session.pop("flash", None),
        },
    )


async def _organisation_rows(request: Request, ids: set[uuid.UUID]) -> list[Organisation]:
    async with request.app.state.runtime.sessions() as session:
        rows = await session.exec(
            select(Organisation)
            .where(col(Organisation.id).in_(ids))
            .order_by(col(Organisation.name))
        )
        return list(rows.all())


async def queue_snapshot(session: AsyncSession, credential_id: uuid.UUID) -> dict[str, Any]:
    """Open and claimed tasks of one credential in the order reviewers are offered them, with
    waiting times; coordinators may see who holds each claim."""
    rows = (
        await session.exec(
            access.by_priority(
                select(ReviewTask, User.name)
                .join(Submission, col(Submission.id) == col(ReviewTask.submission_id))
                .outerjoin(User, col(User.id) == col(ReviewTask.reviewer_id))
                .where(col(Submission.credential_id) == credential_id)
                .where(col(ReviewTask.state).in_(LIVE))
            )
        )
    ).all()
    now = datetime.now(UTC)
    open_tasks, claimed = [], []
    for task, reviewer in rows:
        waited = (now - task.created_at).total_seconds()
        entry: dict[str, Any] = {
            "task_id": str(task.id),
            "submission_id": str(task.submission_id),
            "pool": task.pool,
            "reason": task.reason,
            "waiting_since": task.created_at.isoformat(),
            "waiting_seconds": int(waited),
            "waiting": duration(waited),
        }
        if task.state == TaskState.open:
            open_tasks.append(entry)
            continue
        lease_left = (task.lease_expires_at - now).total_seconds() if task.lease_expires_at else 0
        entry.update(
            reviewer=reviewer,
            claimed_at=task.claimed_at.isoformat() if task.claimed_at else None,
            lease_expires_at=task.lease_expires_at.isoformat() if task.lease_expires_at else None,
            lease_left=f"{duration(lease_left)} left" if lease_left > 0 else "expired",
        )
        claimed.append(entry)
    return {
        "credential_id": str(credential_id),
        "as_of": now.isoformat(),
        "open": open_tasks,
        "claimed": claimed,
    }


def _form_values(credential: Credential) -> dict[str, str]:
    """The credential's settings as the form shows them (strings, blank for none)."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    return {
        "stakes": credential.stakes,
        "peer_reviews": text(credential.peer_reviews),
        "expert_reviews": text(credential.expert_reviews),
        "required_badge_credential_id": text(credential.required_badge_credential_id),
        "exclude_same_school": "1" if credential.exclude_same_school else "0",
        "blind_review": "1" if credential.blind_review else "0",
        "lease_minutes": text(credential.lease_minutes),
        "pilot_spots": text(credential.pilot_spots),
        "status": credential.status,
        "target_hours": text(credential.target_hours),
    }


async def pilots_waiting(request: Request, credential_id: uuid.UUID) -> int:
    async with request.app.state.runtime.sessions() as session:
        return await pilots.waiting_count(session, credential_id)


async def _settings_page(
    request: Request,
    user: User,
    credential_id: uuid.UUID,
    *,
    submitted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    async with request.app.state.runtime.sessions() as session:
        credential = await _managed(session, user, credential_id)
        organisation = await session.get(Organisation, credential.organisation_id)
        assert organisation is not None
        badges = (
            await session.exec(
                select(Credential.id, Credential.title)
                .where(Credential.organisation_id == credential.organisation_id)
                .order_by(col(Credential.title))
            )
        ).all()
        ready = await credential_settings.ready_to_open(session, credential)
        taken = await spots_taken(session, credential.id)
        snapshot = await queue_snapshot(session, credential.id)
        # Video and audio items: each has its automated observations page.
        recorded = (
            await session.exec(
                select(SubmissionCriterion.id, SubmissionCriterion.title)
                .where(SubmissionCriterion.credential_id == credential.id)
                .where(col(SubmissionCriterion.kind).in_(["video", "audio"]))
                .order_by(col(SubmissionCriterion.position))
            )
        ).all()
    values = {**_form_values(credential), **(submitted or {})}
    return templates.TemplateResponse(
        request,
        "coordinator/credential.html",
        {
            "credential": credential,
            "organisation": organisation,
            "recorded": recorded,
            "values": values,
            "errors": errors or {},
            "badges": [(str(badge_id), title) for badge_id, title in badges],
            "statuses": STATUS_CHOICES,
            "ready": ready,
            "spots_taken": taken,
            "default_lease": request.app.state.runtime.settings.lease_minutes,
            "queue": snapshot,
            "waiting": await pilots_waiting(request, credential.id),
            "flash": request.session.pop("flash", None),
        },
        status_code=422 if errors else 200,
    )


async def credential_page(request: Request) -> Response:
    """GET /coordinate/credentials/{id}: the settings form and the live queue.
    POST: save the settings; on a refused field the form comes back with every message."""
    user = access.require_user(await current_user(request))
    credential_id = path_id(request, "credential_id")
    if request.method == "GET":
        return await _settings_page(request, user, credential_id)
    form = await form_fields(request)
    form.pop("csrf_token", None)
    try:
        async with request.app.state.runtime.sessions() as session:
            changes = await credential_settings.update_credential_settings(
                session, user, credential_id, form
            )
        await credential_settings.after_settings(request.app.state.runtime, credential_id, changes)
    except credential_settings.InvalidSettings as refused:
        return await _settings_page(
            request, user, credential_id, submitted=form, errors=refused.errors
        )
    changed = [credential_settings.LABELS[field] for field in changes]
    request.session["flash"] = (
        "Saved: " + ", ".join(changed) + "." if changed else "Nothing changed."
    )
    return RedirectResponse(f"/coordinate/credentials/{credential_id}", status_code=303)


async def queue_json(request: Request) -> JSONResponse:
    """GET /coordinate/credentials/{id}/queue.json: the live queue, for the page's polling.
    Errors are JSON too (401 logged out, 404 not a coordinator of the issuer)."""
    try:
        user = access.require_user(await current_user(request))
        async with request.app.state.runtime.sessions() as session:
            credential = await _managed(session, user, path_id(request, "credential_id"))
            snapshot = await queue_snapshot(session, credential.id)
    except ActionError as error:
        return JSONResponse({"error": error.code, "detail": error.detail}, status_code=error.status)
    return JSONResponse(snapshot, headers={"Cache-Control": "no-store"})


routes = [
    Route("/coordinate", overview),
    Route("/coordinate/credentials/{credential_id}", credential_page, methods=["GET", "POST"]),
    Route("/coordinate/credentials/{credential_id}/queue.json", queue_json),
]
