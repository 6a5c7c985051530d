"""Evidence from the packet page's plain forms (no JavaScript needed): a file as multipart
(the CSRF token rides in the URL so the body streams), or a link / reflection as a form."""

from __future__ import annotations

import uuid

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from app import evidence
from app.actions import media, submissions
from app.actions.submissions import discard_unreferenced
from app.bodies import upload_slot
from app.errors import ActionError
from app.models import Artifact, User
from app.runtime import Runtime
from app.views import form_fields
from app.views.apikit import caller, file_chunks, limited_body, path_id
from app.views.earner.packets import render_packet
from app.views.earner.responses import see_other

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the few small fields around the file
# The form offers a picker ("file") and, for video and images, the camera ("recording").
FILE_FIELDS = ("file", "recording")


async def attach_stored(
    runtime: Runtime,
    earner: User,
    submission_id: uuid.UUID,
    criterion_id: uuid.UUID,
    stored: evidence.StoredFile,
) -> Artifact:
    """attach_artifact for a file already in the evidence store; a refused file is removed
    again (unless another artifact holds the same bytes), as the JSON API does."""
    try:
        async with runtime.sessions() as session:
            artifact = await submissions.attach_artifact(
                session, earner, submission_id, criterion_id, stored=stored
            )
    except ActionError:
        await discard_unreferenced(runtime, stored)
        raise
    # Video and audio start their rendition and observations now, while the earner drafts.
    await media.request_media(runtime, [artifact])
    return artifact


async def _store_form_file(request: Request, runtime: Runtime) -> evidence.StoredFile:
    """The multipart form's file, streamed into the evidence store under the size limit."""
    settings = runtime.settings
    limit = settings.upload_max_file_bytes + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    too_large = ActionError(
        "too_large", f"Uploads are limited to {settings.upload_max_file_bytes // 1024**2} MB.", 413
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large  # refused before a byte is read
    async with limited_body(request, limit).form(max_files=len(FILE_FIELDS), max_fields=5) as form:
        chosen = [form.get(name) for name in FILE_FIELDS]
        files = [f for f in chosen if isinstance(f, UploadFile) and f.filename]
        if not files:
            raise ActionError("file_required", "Choose a file first.", 422)
        return await evidence.store_stream(
            file_chunks(files[0]),
            uploads_dir=settings.uploads_dir,
            max_bytes=settings.upload_max_file_bytes,
            filename=files[0].filename,
        )


async def attach(request: Request) -> Response:
    """POST /submissions/{id}/artifacts/{criterion_id}: multipart `file` (or `recording`) with
    ?csrf_token=..., or a form with `url` or `text`. Back to the criterion on the page (303),
    or the page with the refusal next to the criterion (its status code)."""
    runtime, user = await caller(request)
    submission_id = path_id(request, "submission_id")
    criterion_id = path_id(request, "criterion_id")
    try:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            async with upload_slot(runtime.redis, runtime.settings, user.id):
                stored = await _store_form_file(request, runtime)
            await attach_stored(runtime, user, submission_id, criterion_id, stored)
        else:
            form = await form_fields(request)
            async with runtime.sessions() as session:
                await submissions.attach_artifact(
                    session,
                    user,
                    submission_id,
                    criterion_id,
                    url=form.get("url"),
                    body=form.get("text"),
                )
    except ActionError as error:
        if error.status in (401, 404):
            raise
        return await render_packet(request, submission_id, error=error, criterion_id=criterion_id)
    return see_other(f"/submissions/{submission_id}#criterion-{criterion_id}")
