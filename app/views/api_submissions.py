"""JSON API for earners: credentials, submissions, evidence upload, and their lifecycle."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from app import access, evidence
from app.actions import media, submissions
from app.actions.catalog import criteria_of
from app.auth import current_user
from app.bodies import upload_slot
from app.errors import ActionError, not_found
from app.models import (
    Artifact,
    Credential,
    CredentialStatus,
    Outcome,
    Privacy,
    Review,
    ReviewScore,
    ReviewState,
    SubmissionVersion,
)
from app.views.apikit import body, caller, file_chunks, limited_body, path_id

CHUNK = 256 * 1024


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential_id: uuid.UUID
    privacy: Privacy = Privacy.reviewers


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, max_length=2000)
    text: str | None = Field(default=None, max_length=20000)


async def list_credentials(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        rows = (
            await session.exec(
                select(Credential)
                .where(
                    col(Credential.status).in_([CredentialStatus.published, CredentialStatus.pilot])
                )
                .order_by(col(Credential.title))
            )
        ).all()
    return JSONResponse({"credentials": [credential_json(c) for c in rows]})


def credential_json(credential: Credential) -> dict[str, Any]:
    return {
        "id": str(credential.id),
        "slug": credential.slug,
        "title": credential.title,
        "summary": credential.summary,
        "status": credential.status,
        "stakes": credential.stakes,
        "pd_hours": float(credential.pd_hours),
        "pilot_spots": credential.pilot_spots,
    }


async def show_credential(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        credential = await session.get(Credential, path_id(request, "credential_id"))
        if credential is None or credential.status not in (
            CredentialStatus.published,
            CredentialStatus.pilot,
        ):
            raise not_found("That credential")
        criteria = await criteria_of(session, credential.id)
    data = credential_json(credential)
    data.update(
        competency=credential.competency,
        key_method=credential.key_method,
        method_components=credential.method_components,
        research_resources=credential.research_resources,
        submission_criteria=[
            {
                "criterion_id": str(c.id),
                "title": c.title,
                "description": c.description,
                "kind": c.kind,
                "required": c.required,
                "min_words": c.min_words,
                "max_words": c.max_words,
            }
            for c in criteria
        ],
    )
    return JSONResponse(data)


async def start(request: Request) -> JSONResponse:
    runtime, user = await caller(request)
    data = await body(request, StartIn)
    async with runtime.sessions() as session:
        submission = await submissions.start_submission(
            session, user, data.credential_id, data.privacy
        )
    return JSONResponse(await _submission_json(request, submission.id), status_code=201)


async def _submission_json(request: Request, submission_id: uuid.UUID) -> dict[str, Any]:
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        submission, credential = await access.access_submission(session, user, submission_id)
        versions = (
            await session.exec(
                select(SubmissionVersion)
                .where(SubmissionVersion.submission_id == submission.id)
                .order_by(col(SubmissionVersion.number))
            )
        ).all()
        version_ids = [v.id for v in versions]
        artifacts = (
            await session.exec(select(Artifact).where(col(Artifact.version_id).in_(version_ids)))
        ).all()
        outcomes = (
            await session.exec(select(Outcome).where(col(Outcome.version_id).in_(version_ids)))
        ).all()
        done = (
            await session.exec(
                select(Review)
                .where(col(Review.version_id).in_(version_ids))
                .where(Review.state == ReviewState.submitted)
            )
        ).all()
        scores = (
            await session.exec(
                select(ReviewScore).where(col(ReviewScore.review_id).in_([r.id for r in done]))
            )
        ).all()
    outcome_by = {o.version_id: o for o in outcomes}
    return {
        "id": str(submission.id),
        "credential_id": str(credential.id),
        "credential": credential.title,
        "state": submission.state,
        "privacy": submission.privacy,
        "versions": [
            {
                "number": v.number,
                "submitted_at": v.submitted_at.isoformat() if v.submitted_at else None,
                "check_error": v.check_error,
                "artifacts": [
                    {
                        "artifact_id": str(a.id),
                        "criterion_id": str(a.criterion_id),
                        "kind": a.kind,
                        "filename": a.filename,
                        "media_type": a.media_type,
                        "size_bytes": a.size_bytes,
                        "url": a.url,
                        "text": a.body,
                    }
                    for a in artifacts
                    if a.version_id == v.id
                ],
                # Feedback without reviewer names: reviews are blind both ways.
                "feedback": [
                    {
                        "recommendation": r.recommendation,
                        "feedback": r.feedback,
                        "scores": [
                            {
                                "criterion_id": str(s.criterion_id),
                                "level_id": str(s.level_id),
                                "comment": s.comment,
                            }
                            for s in scores
                            if s.review_id == r.id
                        ],
                    }
                    for r in done
                    if r.version_id == v.id
                ],
                "outcome": {"decision": outcome_by[v.id].decision, "rule": outcome_by[v.id].rule}
                if v.id in outcome_by
                else None,
            }
            for v in versions
        ],
    }


async def show(request: Request) -> JSONResponse:
    return JSONResponse(await _submission_json(request, path_id(request, "submission_id")))


async def upload(request: Request) -> JSONResponse:
    """Attach evidence to one criterion: a raw file body, a multipart `file`, or JSON url/text."""
    runtime, user = await caller(request)
    submission_id, criterion_id = (
        path_id(request, "submission_id"),
        path_id(request, "criterion_id"),
    )
    settings = runtime.settings
    content_type = request.headers.get("content-type", "")
    stored: evidence.StoredFile | None = None
    text_in = TextIn()
    declared = request.headers.get("content-length")
    if (
        declared
        and declared.isdigit()
        and int(declared) > settings.upload_max_file_bytes + 64 * 1024
    ):
        raise ActionError(
            "too_large",
            f"Uploads are limited to {settings.upload_max_file_bytes // (1024 * 1024)} MB.",
            413,
        )
    if content_type.startswith("application/json"):
        text_in = await body(request, TextIn)
    elif content_type.startswith("multipart/form-data"):
        limited = limited_body(request, settings.upload_max_file_bytes + 64 * 1024)
        async with (
            upload_slot(runtime.redis, settings, user.id),
            limited.form(max_files=1, max_fields=5) as form,
        ):
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise ActionError("file_required", "Send the file in a field named 'file'.", 422)
            stored = await evidence.store_stream(
                file_chunks(file),
                uploads_dir=settings.uploads_dir,
                max_bytes=settings.upload_max_file_bytes,
                filename=file.filename,
            )
    else:
        async with upload_slot(runtime.redis, settings, user.id):
            stored = await evidence.store_stream(
                request.stream(),
                uploads_dir=settings.uploads_dir,
                max_bytes=settings.upload_max_file_bytes,
                filename=request.headers.get("x-filename") or request.query_params.get("filename"),
            )
    try:
        async with runtime.sessions() as session:
            artifact = await submissions.attach_artifact(
                session,
                user,
                submission_id,
                criterion_id,
                stored=stored,
                url=text_in.url,
                body=text_in.text,
            )
    except ActionError:
        if stored is not None:
            await submissions.discard_unreferenced(runtime, stored)
        raise
    await media.request_media(runtime, [artifact])
    return JSONResponse(
        {
            "artifact_id": str(artifact.id),
            "kind": artifact.kind,
            "filename": artifact.filename,
            "media_type": artifact.media_type,
            "size_bytes": artifact.size_bytes,
            "sha256": artifact.sha256,
        },
        status_code=201,
    )


async def submit(request: Request) -> JSONResponse:
    runtime, user = await caller(request)
    submission = await submissions.submit_evidence(runtime, user, path_id(request, "submission_id"))
    return JSONResponse(await _submission_json(request, submission.id), status_code=202)


async def withdraw(request: Request) -> JSONResponse:
    runtime, user = await caller(request)
    submission = await submissions.withdraw_submission(
        runtime, user, path_id(request, "submission_id")
    )
    return JSONResponse({"id": str(submission.id), "state": submission.state})


async def edit(request: Request) -> JSONResponse:
    runtime, user = await caller(request)
    submission = await submissions.edit_submission(runtime, user, path_id(request, "submission_id"))
    return JSONResponse({"id": str(submission.id), "state": submission.state})


async def revise(request: Request) -> JSONResponse:
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        await submissions.resubmit(session, user, path_id(request, "submission_id"))
    return JSONResponse(
        await _submission_json(request, path_id(request, "submission_id")), status_code=201
    )


async def download(request: Request) -> Response:
    """An evidence file, to whoever access.py allows; 404 to everyone else."""
    runtime = request.app.state.runtime
    user = await current_user(request)
    async with runtime.sessions() as session:
        artifact = await access.access_artifact(session, user, path_id(request, "artifact_id"))
    if artifact.sha256 is None:
        raise not_found("That file")
    return FileResponse(
        evidence.path_for(runtime.settings.uploads_dir, artifact.sha256),
        # Never let Starlette guess from the name: x.html must not go out as text/html.
        media_type=artifact.media_type or "application/octet-stream",
        filename=artifact.filename or "evidence",
        content_disposition_type="inline",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )


routes = [
    Route("/api/v1/credentials", list_credentials),
    Route("/api/v1/credentials/{credential_id}", show_credential),
    Route("/api/v1/submissions", start, methods=["POST"]),
    Route("/api/v1/submissions/{submission_id}", show),
    Route(
        "/api/v1/submissions/{submission_id}/artifacts/{criterion_id}",
        upload,
        methods=["POST", "PUT"],
    ),
    Route("/api/v1/submissions/{submission_id}/submit", submit, methods=["POST"]),
    Route("/api/v1/submissions/{submission_id}/withdraw", withdraw, methods=["POST"]),
    Route("/api/v1/submissions/{submission_id}/edit", edit, methods=["POST"]),
    Route("/api/v1/submissions/{submission_id}/resubmit", revise, methods=["POST"]),
    Route("/api/v1/artifacts/{artifact_id}", download),
]
