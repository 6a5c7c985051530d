"""JSON API for recordings: a recording's preparation, observations and moments; reviewers'
timestamped comments under their claim; coordinators' observation switches per criterion."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse

from app import access
from app.actions import media, moments
from app.actions.moments import MomentView
from app.auth import current_user
from app.errors import not_found
from app.models import Submission, SubmissionCriterion, SubmissionVersion
from app.views.api_shapes import text_at_least
from app.views.api_tasks import ClaimRef
from app.views.apikit import body, caller, path_id
from app.views.media.player import media_views


class MomentIn(ClaimRef):
    artifact_id: uuid.UUID
    at_seconds: float = Field(ge=0, le=moments.MAX_AT_MS / 1000, strict=True)  # not true
    criterion_id: uuid.UUID | None = None
    comment: str = Field(
        min_length=1,
        max_length=moments.MAX_COMMENT,
        json_schema_extra={"pattern": text_at_least(1)},
    )


class CriterionMediaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # strict: numbers (or null), not false or "60", as the document says
    min_seconds: int | None = Field(default=None, ge=0, le=6 * 3600, strict=True)
    max_seconds: int | None = Field(default=None, ge=0, le=6 * 3600, strict=True)
    observations_off: list[str] = Field(default_factory=list, max_length=20)


async def show_media(request: Request) -> JSONResponse:
    """GET /api/v1/artifacts/{id}/media: whoever may see the artifact. Moments: a reviewer
    holding the claim sees their own; the earner sees those of submitted reviews."""
    runtime = request.app.state.runtime
    user = await current_user(request)
    artifact_id = path_id(request, "artifact_id")
    async with runtime.sessions() as session:
        artifact = await access.access_artifact(session, user, artifact_id)
        found: list[MomentView] = []
        if user is not None:
            claim = await access.live_claim_on(session, user, artifact.version_id)
            version = await session.get(SubmissionVersion, artifact.version_id)
            assert version is not None
            if claim is not None:
                found = await moments.moments_of_task(session, claim.id)
            elif await _is_earner(session, user.id, version.submission_id):
                found = await moments.moments_for_earner(session, version.id)
        views = await media_views(session, artifact.version_id, found, artifact_id=artifact.id)
    if not views:
        raise not_found("That recording")
    return JSONResponse(views[0].json())


async def _is_earner(session: AsyncSession, user_id: uuid.UUID, submission_id: uuid.UUID) -> bool:
    submission = await session.get(Submission, submission_id)
    return submission is not None and submission.earner_id == user_id


async def list_moments(request: Request) -> JSONResponse:
    """GET /api/v1/tasks/{id}/moments: the moments of my review under this claim."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        task, _version, _credential = await access.access_claim(
            session, user, path_id(request, "task_id")
        )
        found = await moments.moments_of_task(session, task.id)
    return JSONResponse({"moments": [m.json() for m in found]})


async def add_moment(request: Request) -> JSONResponse:
    """POST /api/v1/tasks/{id}/moments: pin a comment to a moment, under the live claim."""
    runtime, user = await caller(request)
    data = await body(request, MomentIn)
    made = await moments.add_moment(
        runtime,
        user,
        path_id(request, "task_id"),
        data.lease_version,
        artifact_id=data.artifact_id,
        at_seconds=data.at_seconds,
        criterion_id=data.criterion_id,
        comment=data.comment,
    )
    return JSONResponse(made.json(), status_code=201)


async def delete_moment(request: Request) -> JSONResponse:
    """DELETE /api/v1/tasks/{id}/moments/{moment_id} {lease_version}."""
    runtime, user = await caller(request)
    ref = await body(request, ClaimRef)
    await moments.delete_moment(
        runtime,
        user,
        path_id(request, "task_id"),
        ref.lease_version,
        path_id(request, "moment_id"),
    )
    return JSONResponse({"deleted": True})


async def criterion_media(request: Request) -> JSONResponse:
    """PUT /api/v1/criteria/{id}/media: the stated length and observations turned off."""
    runtime, user = await caller(request)
    criterion_id = path_id(request, "criterion_id")
    data = await body(request, CriterionMediaIn)
    async with runtime.sessions() as session:
        criterion = await session.get(SubmissionCriterion, criterion_id)
        if criterion is None:
            raise not_found("That criterion")
        await access.managed_credential(session, user, criterion.credential_id)
    saved = await media.set_criterion_media(
        runtime,
        criterion_id,
        min_seconds=data.min_seconds,
        max_seconds=data.max_seconds,
        observations_off=data.observations_off,
        actor_id=user.id,
    )
    return JSONResponse(
        {
            "criterion_id": str(saved.id),
            "min_seconds": saved.min_seconds,
            "max_seconds": saved.max_seconds,
            "observations_off": saved.observations_off,
        }
    )
