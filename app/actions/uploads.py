"""Opening a resumable upload session (app.uploads) for one file of an earner's packet.

Everything that can be known before the first byte is checked here, so a phone does not send
300 MB to be told the packet is locked, the criterion takes a link, or the file is too big.
The type is still read from the bytes once they are all in (evidence.check_type, through
attach_artifact), exactly as for every other upload.
"""

from __future__ import annotations

import uuid

from app import evidence, uploads
from app.actions.submissions import criterion_of, editable_packet
from app.errors import ActionError
from app.models import User
from app.runtime import Runtime


def _megabytes(size: int) -> str:
    return f"{round(size / 1024**2, 1):g} MB"


async def open_upload(
    runtime: Runtime,
    earner: User,
    submission_id: uuid.UUID,
    criterion_id: uuid.UUID,
    *,
    filename: str,
    size: int,
) -> uploads.UploadSession:
    """A session for `size` bytes of `filename`, for a file criterion of the earner's own
    packet in preparation. Refusals: not_found (404), not_editable (409), unknown_criterion
    (422), wrong_type (415: a link or reflection), empty_file (400), too_large (413)."""
    name = evidence.clean_filename(filename)
    async with runtime.sessions() as session:
        submission, _ = await editable_packet(session, earner, submission_id)
        criterion = await criterion_of(session, submission, criterion_id)
    if criterion.kind not in evidence.KIND_TYPES:
        raise ActionError(
            "wrong_type", f"'{criterion.title}' takes a {criterion.kind}, not a file.", 415
        )
    if size <= 0:
        raise ActionError("empty_file", f"'{name}' is empty.", 400)
    limit = runtime.settings.upload_max_file_bytes
    if criterion.max_bytes is not None:
        limit = min(limit, criterion.max_bytes)
    if size > limit:
        raise ActionError(
            "too_large",
            f"'{name}' is {_megabytes(size)}; '{criterion.title}' accepts files up to "
            f"{_megabytes(limit)}.",
            413,
        )
    return await uploads.create(
        runtime.settings.uploads_dir,
        owner_id=earner.id,
        submission_id=submission.id,
        criterion_id=criterion.id,
        filename=name,
        size=size,
    )
