"""A recording's rendition, poster and thumbnails, to whoever may see the artifact (the same
check as the original: app.access.access_artifact). Range requests (206 with Content-Range)
let a phone seek without downloading everything."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from app import access
from app.actions.media import media_dir
from app.auth import current_user
from app.errors import not_found
from app.media import renditions
from app.models import MediaFile, MediaState
from app.views.apikit import path_id

HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}


async def _ready(request: Request) -> tuple[MediaFile, Path]:
    runtime = request.app.state.runtime
    user = await current_user(request)
    async with runtime.sessions() as session:
        artifact = await access.access_artifact(session, user, path_id(request, "artifact_id"))
        media = await session.get(MediaFile, artifact.sha256) if artifact.sha256 else None
    if media is None or media.state != MediaState.ready:
        raise not_found("That rendition")
    return media, media_dir(runtime.settings.uploads_dir, media.sha256)


async def rendition(request: Request) -> Response:
    """GET /api/v1/artifacts/{id}/rendition: H.264/AAC MP4 (video) or AAC .m4a (audio)."""
    media, folder = await _ready(request)
    if media.rendition is None:
        raise not_found("That rendition")
    kind = "video/mp4" if media.kind == "video" else "audio/mp4"
    return FileResponse(folder / media.rendition, media_type=kind, headers=HEADERS)


async def poster(request: Request) -> Response:
    media, folder = await _ready(request)
    if not media.poster:
        raise not_found("That poster")
    return FileResponse(folder / renditions.POSTER_NAME, media_type="image/jpeg", headers=HEADERS)


async def thumbnail(request: Request) -> Response:
    media, folder = await _ready(request)
    raw = request.path_params["n"]
    if not raw.isdigit() or not 1 <= int(raw) <= media.thumbnails:
        raise not_found("That thumbnail")
    name = renditions.thumb_name(int(raw))
    return FileResponse(folder / name, media_type="image/jpeg", headers=HEADERS)
