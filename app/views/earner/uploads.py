"""Resumable upload sessions over HTTP, for earner.js (protocol notes in app/uploads.py).

    POST   /uploads        {submission_id, criterion_id, filename, size}
                           -> 201 {id, url, offset, chunk_size}
    HEAD   /uploads/{id}   -> Upload-Offset header;  GET: the same as JSON
    PATCH  /uploads/{id}   Upload-Offset: N (or Content-Range: bytes N-M/SIZE), body = the bytes
                           -> 200 {offset}; the last one -> 201 {complete: true, artifact}
    DELETE /uploads/{id}   cancel

Wrong offset: 409 with the right `offset`. Errors are JSON. Session cookie + X-CSRF-Token, or
a bearer token, as for the JSON API.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from app import evidence, uploads
from app.actions import uploads as upload_actions
from app.bodies import upload_slot
from app.errors import ActionError
from app.models import Artifact
from app.views.apikit import body, caller
from app.views.earner.artifacts import attach_stored
from app.views.earner.packet import ArtifactView
from app.views.earner.responses import json_errors

_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    submission_id: uuid.UUID
    criterion_id: uuid.UUID
    filename: str = Field(default="", max_length=1000)
    size: int = Field(ge=0)


def _answer(session: uploads.UploadSession, status_code: int = 200) -> JSONResponse:
    return JSONResponse(
        uploads.status(session),
        status_code=status_code,
        headers={
            "Upload-Offset": str(uploads.offset(session)),
            "Upload-Length": str(session.size),
            "Cache-Control": "no-store",
        },
    )


@json_errors
async def open_session(request: Request) -> Response:
    """POST /uploads: a session for one file of one criterion of my packet in preparation."""
    runtime, user = await caller(request)
    data = await body(request, OpenIn)
    # X-Filename is percent-encoded by earner.js: headers cannot carry most non-Latin names.
    filename = data.filename or unquote(request.headers.get("x-filename", ""))
    session = await upload_actions.open_upload(
        runtime, user, data.submission_id, data.criterion_id, filename=filename, size=data.size
    )
    response = _answer(session, 201)
    response.headers["Location"] = f"/uploads/{session.id}"
    return response


@json_errors
async def show(request: Request) -> Response:
    """GET or HEAD /uploads/{id}: how many bytes arrived (resume from there), or the result."""
    runtime, user = await caller(request)
    session = await uploads.load(
        runtime.settings.uploads_dir, user.id, request.path_params["upload_id"]
    )
    return _answer(session)


def _start(request: Request, session: uploads.UploadSession) -> int:
    """Where this chunk starts: Upload-Offset, or the first byte of Content-Range."""
    raw = request.headers.get("upload-offset")
    if raw is not None:
        if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
            raise ActionError("bad_offset", "Upload-Offset must be a number of bytes.", 400)
        return int(raw)
    match = _RANGE.fullmatch(request.headers.get("content-range", "").strip())
    if match is None:
        raise ActionError(
            "bad_offset", "Send Upload-Offset: N or Content-Range: bytes N-M/SIZE.", 400
        )
    first, last, total = (int(g) for g in match.groups())
    if total != session.size or last < first:
        raise ActionError("bad_range", f"Content-Range must be within 0-{session.size - 1}.", 400)
    return first


def _artifact_json(artifact: Artifact) -> dict[str, Any]:
    view = ArtifactView.of(artifact)
    return {
        "artifact_id": str(artifact.id),
        "criterion_id": str(artifact.criterion_id),
        "kind": artifact.kind,
        "filename": view.filename,
        "size": view.size,
        "size_bytes": artifact.size_bytes,
        "type_name": view.type_name,
        "href": view.href,
    }


@json_errors
async def write_chunk(request: Request) -> Response:
    """PATCH or PUT /uploads/{id}: the next bytes. The last ones assemble the file, which is
    then checked and attached exactly like any upload; a refused file leaves nothing."""
    runtime, user = await caller(request)
    settings = runtime.settings
    session = await uploads.load(settings.uploads_dir, user.id, request.path_params["upload_id"])
    start = _start(request, session)
    if session.result is not None and start == session.size:
        return _answer(session, 201)  # the last chunk again: its answer was lost on the way
    try:
        async with upload_slot(runtime.redis, settings, user.id):
            offset = await uploads.append(session, start, request.stream())
    except ClientDisconnect:
        # No one is listening; what arrived is kept and the phone will ask for the offset.
        return Response(status_code=400)
    if offset < session.size:
        return _answer(session)
    async with uploads.assembling(session) as path:
        stored = await evidence.store_stream(
            uploads.read_chunks(path),
            uploads_dir=settings.uploads_dir,
            max_bytes=settings.upload_max_file_bytes,
            filename=session.filename,
        )
        artifact = await attach_stored(
            runtime, user, session.submission_id, session.criterion_id, stored
        )
    return _answer(await uploads.complete(session, _artifact_json(artifact)), 201)


@json_errors
async def cancel(request: Request) -> Response:
    """DELETE /uploads/{id}: give up on this file; its bytes are deleted."""
    runtime, user = await caller(request)
    session = await uploads.load(
        runtime.settings.uploads_dir, user.id, request.path_params["upload_id"]
    )
    await uploads.discard(session)
    return Response(status_code=204)
