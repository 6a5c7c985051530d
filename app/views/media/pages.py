"""Pages for recordings: the earner's own recording (preparation, observations, reviewers'
moments on its timeline), the reviewer's moment form (no JavaScript needed; static/media.js
enhances it), and a coordinator's observation switches for one criterion."""

from __future__ import annotations

import re
import uuid

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app import access
from app.actions import media, moments
from app.auth import current_user
from app.errors import ActionError, not_found
from app.media import observations
from app.models import Artifact, Credential, SubmissionCriterion, SubmissionVersion
from app.templating import templates
from app.views import form_fields
from app.views.apikit import path_id
from app.views.media.player import media_views

MAX_LEASE_VERSION = 2**31 - 1
# Refusals of the moment form, shown on the task page by code (never echoed text).
MOMENT_ERRORS = {
    "bad_moment": "That moment could not be added: check the time and write a comment.",
    "too_many": f"A review holds at most {moments.MAX_MOMENTS} moments.",
}


def parse_time(text: str) -> float | None:
    """Seconds from "75", "75.5", "1:15" or "1:02:03"; None if unreadable."""
    value = text.strip()
    if re.fullmatch(r"\d{1,5}(\.\d{1,3})?", value):
        return float(value)
    match = re.fullmatch(r"(?:(\d{1,2}):)?(\d{1,3}):(\d{2})(\.\d{1,3})?", value)
    if match is None:
        return None
    hours, minutes, seconds, fraction = match.groups()
    if int(seconds) >= 60:
        return None
    total = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    return total + float(fraction or 0)


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text or "")
    except ValueError:
        return None


def _lease(form: dict[str, str]) -> int:
    raw = form.get("lease_version", "")
    value = int(raw) if raw.isdigit() and len(raw) <= 10 else -1
    return value if 0 < value <= MAX_LEASE_VERSION else -1


async def add_moment_form(request: Request) -> Response:
    """POST /review/tasks/{id}/moments: the task page's "mark this moment" form."""
    user = access.require_user(await current_user(request))
    task_id = path_id(request, "task_id")
    form = await form_fields(request)
    artifact_id = _uuid(form.get("artifact_id"))
    at = parse_time(form.get("at", ""))
    criterion = form.get("criterion_id", "")
    try:
        if artifact_id is None or at is None or (criterion and _uuid(criterion) is None):
            raise ActionError("bad_moment", "bad form", 422)
        await moments.add_moment(
            request.app.state.runtime,
            user,
            task_id,
            _lease(form),
            artifact_id=artifact_id,
            at_seconds=at,
            criterion_id=_uuid(criterion) if criterion else None,
            comment=form.get("comment", ""),
        )
    except ActionError as error:
        if error.code == "claim_gone":
            return RedirectResponse(f"/review/tasks/{task_id}", status_code=303)
        if error.code == "not_found":
            raise  # not this reviewer's task, nor ever was: as if there were none
        code = error.code if error.code in MOMENT_ERRORS else "bad_moment"
        return RedirectResponse(
            f"/review/tasks/{task_id}?moment_error={code}#moments-{artifact_id}", status_code=303
        )
    return RedirectResponse(f"/review/tasks/{task_id}#moments-{artifact_id}", status_code=303)


async def delete_moment_form(request: Request) -> Response:
    """POST /review/tasks/{id}/moments/{moment_id}/delete."""
    user = access.require_user(await current_user(request))
    task_id = path_id(request, "task_id")
    form = await form_fields(request)
    try:
        await moments.delete_moment(
            request.app.state.runtime, user, task_id, _lease(form), path_id(request, "moment_id")
        )
    except ActionError as error:
        if error.status != 409:
            raise
    return RedirectResponse(f"/review/tasks/{task_id}#evidence-title", status_code=303)


async def earner_recording(request: Request) -> Response:
    """GET /submissions/{id}/recordings/{artifact_id}: the earner's recording as reviewers
    see it, its observations, and the moments reviewers marked (tap one to jump there)."""
    user = access.require_user(await current_user(request))
    submission_id = path_id(request, "submission_id")
    artifact_id = path_id(request, "artifact_id")
    async with request.app.state.runtime.sessions() as session:
        submission, credential = await access.access_submission(session, user, submission_id)
        artifact = await session.get(Artifact, artifact_id)
        version = await session.get(SubmissionVersion, artifact.version_id) if artifact else None
        if version is None or version.submission_id != submission.id:
            raise not_found("That recording")
        found = await moments.moments_for_earner(session, version.id)
        views = await media_views(session, version.id, found, artifact_id=artifact_id)
    if not views:
        raise not_found("That recording")
    return templates.TemplateResponse(
        request,
        "media/recording.html",
        {"m": views[0], "submission": submission, "credential": credential, "version": version},
    )


async def criterion_settings(request: Request) -> Response:
    """GET/POST /coordinate/criteria/{id}/observations: a coordinator's switches."""
    user = access.require_user(await current_user(request))
    criterion_id = path_id(request, "criterion_id")
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        criterion = await session.get(SubmissionCriterion, criterion_id)
        if criterion is None or criterion.kind not in media.MEDIA_KINDS:
            raise not_found("That criterion")
        credential: Credential = await access.managed_credential(
            session, user, criterion.credential_id
        )
    error = None
    form: dict[str, str] = {}
    if request.method == "POST":
        form = await form_fields(request)
        try:
            low = _minutes(form.get("min_minutes", ""))
            high = _minutes(form.get("max_minutes", ""))
            off = [key for key, _ in observations.KINDS if form.get(f"on-{key}") != "on"]
            criterion = await media.set_criterion_media(
                runtime,
                criterion_id,
                min_seconds=low,
                max_seconds=high,
                observations_off=off,
                actor_id=user.id,
            )
            return RedirectResponse(
                f"/coordinate/criteria/{criterion_id}/observations?done=1", status_code=303
            )
        except ActionError as refused:
            if refused.status == 404:
                raise
            error = refused.detail
    return templates.TemplateResponse(
        request,
        "media/criterion.html",
        {
            "criterion": criterion,
            "credential": credential,
            "kinds": observations.KINDS,
            "error": error,
            "form": form,
            "saved": request.query_params.get("done") == "1",
        },
        status_code=422 if error else 200,
    )


def _minutes(text: str) -> int | None:
    value = text.strip()
    if not value:
        return None
    try:
        minutes = float(value)
    except ValueError:
        raise ActionError("bad_range", "Give lengths in minutes, e.g. 5 or 12.5.", 422) from None
    if not 0 <= minutes <= 360:
        raise ActionError("bad_range", "A length is between 0 and 360 minutes.", 422)
    return round(minutes * 60)
