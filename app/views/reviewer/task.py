"""The claimed task: its page, extend, release, save a draft, submit, and the thank-you page."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.access import require_user
from app.actions import moments, reviews, tasks
from app.actions.submissions.selfcheck import self_assessment_of
from app.actions.tasks import GONE
from app.auth import current_user
from app.errors import ActionError, not_found
from app.models import (
    Credential,
    Escalation,
    Pool,
    Review,
    ReviewState,
    Submission,
    TaskReason,
    User,
)
from app.templating import templates
from app.views import form_fields
from app.views.apikit import path_id
from app.views.media.pages import MOMENT_ERRORS
from app.views.media.player import media_views
from app.views.reviewer.cards import POOL_LABELS, REASON_LABELS, RECOMMENDATIONS, left_text
from app.views.reviewer.feed import forget_page
from app.views.reviewer.sheet import (
    Values,
    lease_version_of,
    load_sheet,
    read_review_form,
    read_values,
)

# Outcomes announced on the task page after a redirect; only known codes, never echoed text.
NOTICES = {
    "saved": "Draft saved.",
    "partial": "Draft saved. A comment is kept once its criterion has a level.",
    "extended": "Extended: you have more time for this review.",
}


def _gone(request: Request, status: int, feedback: str = "") -> Response:
    """The claim is over: say so, and hand back any unsent feedback to copy."""
    return templates.TemplateResponse(
        request, "reviewer/gone.html", {"message": GONE, "feedback": feedback}, status_code=status
    )


async def _render(
    request: Request,
    user: User,
    task_id: uuid.UUID,
    *,
    values: Values | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The task page; `values` (what was just posted) win over the saved draft."""
    now = datetime.now(UTC)
    async with request.app.state.runtime.sessions() as session:
        sheet = await load_sheet(session, user, task_id)
        # The earner's own rating, only when they chose to share it (issue 10).
        self_rating = await self_assessment_of(session, sheet.task.version_id, shared_only=True)
        # Video and audio: the rendition, observations and my timestamped comments.
        marked = await moments.moments_of_task(session, sheet.task.id)
        recordings = {
            view.artifact_id: view
            for view in await media_views(session, sheet.task.version_id, marked)
        }
    expires = sheet.task.lease_expires_at
    if expires is None or expires <= now:
        # The sweeper has not run yet, but the lease is over: evidence is no longer served.
        return _gone(request, 410, values.feedback if values else "")
    if values is not None:
        sheet = replace(sheet, values=values)
    escalated_because = None
    if sheet.task.reason != TaskReason.initial:
        async with request.app.state.runtime.sessions() as session:
            escalated_because = (
                await session.exec(
                    select(Escalation.detail).where(Escalation.task_id == sheet.task.id)
                )
            ).first()
    return templates.TemplateResponse(
        request,
        "reviewer/task.html",
        {
            "sheet": sheet,
            "now": now,
            "left": left_text((expires - now).total_seconds()),
            "extend_minutes": sheet.credential.lease_minutes
            or request.app.state.runtime.settings.lease_minutes,
            "pool_label": POOL_LABELS.get(Pool(sheet.task.pool), sheet.task.pool),
            "reason_label": REASON_LABELS.get(TaskReason(sheet.task.reason)),
            "escalated_because": escalated_because,
            "error": error,
            "notice": NOTICES.get(request.query_params.get("done", "")),
            "self_rating": self_rating,
            "recordings": recordings,
            "mark": {
                "task_id": sheet.task.id,
                "lease_version": sheet.task.lease_version,
                "criteria": sheet.criteria,
            },
            "moment_error": MOMENT_ERRORS.get(request.query_params.get("moment_error", "")),
        },
        status_code=status,
    )


async def task_page(request: Request) -> Response:
    """GET /review/tasks/{id}: 404 unless it is my claim; the evidence and the rubric."""
    user = require_user(await current_user(request))
    return await _render(request, user, path_id(request, "task_id"))


async def extend(request: Request) -> Response:
    """POST /review/tasks/{id}/extend {lease_version}: once per claim, while it is live."""
    user = require_user(await current_user(request))
    task_id = path_id(request, "task_id")
    form = await form_fields(request)
    try:
        await tasks.extend_claim(request.app.state.runtime, user, task_id, lease_version_of(form))
    except ActionError as error:
        if error.code == "already_extended":
            return await _render(request, user, task_id, error=error.detail, status=error.status)
        if error.code == "claim_gone":
            return _gone(request, error.status)
        raise
    return RedirectResponse(f"/review/tasks/{task_id}?done=extended", status_code=303)


async def release(request: Request) -> Response:
    """POST /review/tasks/{id}/release {lease_version}: back to the queue, draft discarded."""
    user = require_user(await current_user(request))
    task_id = path_id(request, "task_id")
    form = await form_fields(request)
    forget_page(user)
    try:
        await tasks.release_claim(request.app.state.runtime, user, task_id, lease_version_of(form))
    except ActionError as error:
        if error.code == "claim_gone":
            return _gone(request, error.status)
        raise
    return RedirectResponse("/review?done=released", status_code=303)


async def _write(request: Request, *, final: bool) -> Response:
    user = require_user(await current_user(request))
    task_id = path_id(request, "task_id")
    form = await form_fields(request)
    try:
        posted = read_review_form(form)
        await reviews.write_review(
            request.app.state.runtime,
            user,
            task_id,
            posted.lease_version,
            posted.scores,
            posted.feedback,
            final=final,
        )
    except ActionError as error:
        if error.code == "claim_gone":
            return _gone(request, error.status, form.get("feedback", ""))
        if error.code == "not_found":
            raise  # not this reviewer's task, nor ever was: as if there were none
        # Refused as it stands (incomplete, too long, a forged id): show it again, as typed.
        values = read_values(form)
        return await _render(
            request, user, task_id, values=values, error=error.detail, status=error.status
        )
    if final:
        return RedirectResponse(f"/review/tasks/{task_id}/done", status_code=303)
    done = "partial" if posted.unsaved_comments else "saved"
    return RedirectResponse(f"/review/tasks/{task_id}?done={done}", status_code=303)


async def save_draft(request: Request) -> Response:
    """POST /review/tasks/{id}/draft: the no-JavaScript "Save draft" (reviewer.js autosaves)."""
    return await _write(request, final=False)


async def submit(request: Request) -> Response:
    """POST /review/tasks/{id}/submit: final, within the live lease; a double tap is absorbed
    by the action (the second one finds the review it just submitted)."""
    forget_page(require_user(await current_user(request)))
    return await _write(request, final=True)


async def done_page(request: Request) -> Response:
    """GET /review/tasks/{id}/done: the thank-you page, for the reviewer who submitted it."""
    user = require_user(await current_user(request))
    task_id = path_id(request, "task_id")
    async with request.app.state.runtime.sessions() as session:
        row = (
            await session.exec(
                select(Review, Credential)
                .join(Submission, col(Submission.id) == col(Review.submission_id))
                .join(Credential, col(Credential.id) == col(Submission.credential_id))
                .where(col(Review.task_id) == task_id)
                .where(col(Review.reviewer_id) == user.id)
                .where(col(Review.state) == ReviewState.submitted)
            )
        ).first()
    if row is None:
        raise not_found("That review")
    review, credential = row
    return templates.TemplateResponse(
        request,
        "reviewer/done.html",
        {
            "review": review,
            "credential": credential,
            "recommendation": RECOMMENDATIONS.get(review.recommendation or "", ""),
        },
    )
