"""The self-check page: the packet's checklist, the earner's own rating against the rubric
(shared with reviewers only on opt-in), and the submit button once nothing blocks it."""

from __future__ import annotations

import uuid

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response

from app import access
from app.actions import catalog
from app.actions.submissions import latest_version
from app.actions.submissions.selfcheck import save_self_assessment, self_check
from app.errors import ActionError
from app.models import SelfAssessment
from app.templating import templates
from app.views import form_fields
from app.views.apikit import caller, path_id
from app.views.earner.responses import see_other
from app.views.media.player import media_views


async def page(request: Request, *, error: ActionError | None = None) -> Response:
    """GET /submissions/{id}/check: every criterion checked (files opened, links tried)."""
    runtime, user = await caller(request)
    submission_id = path_id(request, "submission_id")
    # The checklist first: it is the owner's alone (404 for anyone else, as if missing).
    checklist = await self_check(runtime, user, submission_id)
    async with runtime.sessions() as session:
        submission, credential = await access.access_submission(session, user, submission_id)
        version = await latest_version(session, submission.id)
        scale = await catalog.rubric_scale(session, version.rubric_id)
        rated = (
            await session.exec(
                select(SelfAssessment).where(SelfAssessment.version_id == version.id)
            )
        ).all()
        recordings = await media_views(session, version.id)
    return templates.TemplateResponse(
        request,
        "earner/selfcheck.html",
        {
            "submission": submission,
            "credential": credential,
            "checklist": checklist,
            "rubric": scale,
            "rated": {r.criterion_id: r.level_id for r in rated},
            "shared": any(r.shared for r in rated),
            "recordings": recordings,
            "error": error.detail if error else None,
        },
        status_code=error.status if error else 200,
    )


async def show(request: Request) -> Response:
    return await page(request)


async def assess(request: Request) -> Response:
    """POST /submissions/{id}/self-assessment: fields `level-<criterion id>` and `share`."""
    runtime, user = await caller(request)
    submission_id = path_id(request, "submission_id")
    form = await form_fields(request)
    levels: dict[uuid.UUID, uuid.UUID] = {}
    try:
        for key, value in form.items():
            if key.startswith("level-") and value:
                levels[uuid.UUID(key.removeprefix("level-"))] = uuid.UUID(value)
    except ValueError:
        return await page(
            request, error=ActionError("bad_level", "Pick one of the rubric's levels.", 422)
        )
    try:
        async with runtime.sessions() as session:
            await save_self_assessment(
                session, user, submission_id, levels, shared=form.get("share") == "yes"
            )
    except ActionError as error:
        if error.status in (401, 404):
            raise
        return await page(request, error=error)
    return see_other(f"/submissions/{submission_id}/check#self-assessment")
