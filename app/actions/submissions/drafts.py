"""Drafts that never lose work: each change to a reflection or link is saved on the server as
it is typed (earner.js sends it after a short pause), so a reload, a closed browser or another
device finds it. Files are saved by their upload already, once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import evidence
from app.actions.submissions.packet import criterion_of, editable_packet
from app.errors import ActionError
from app.models import Artifact, ArtifactKind, User


@dataclass(frozen=True)
class Saved:
    """What the page shows after a save: whether anything is kept, and when."""

    criterion_id: uuid.UUID
    kept: bool
    saved_at: datetime
    words: int


def word_count(text: str) -> int:
    return len(text.split())


async def save_draft(
    session: AsyncSession,
    earner: User,
    submission_id: uuid.UUID,
    criterion_id: uuid.UUID,
    *,
    text: str | None = None,
    url: str | None = None,
) -> Saved:
    """Keep the reflection's text or the link as typed so far. Emptying it removes the draft
    artifact; a refused value (a link that is not one yet) changes nothing."""
    submission, version = await editable_packet(session, earner, submission_id)
    criterion = await criterion_of(session, submission, criterion_id)
    if criterion.kind == ArtifactKind.reflection:
        raw = text if text is not None else ""
        value = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
        if value:
            value = evidence.validate_reflection(raw)
    elif criterion.kind == ArtifactKind.link:
        raw = (url if url is not None else "").strip()
        value = evidence.validate_link(raw) if raw else ""
    else:
        raise ActionError(
            "file_required", f"'{criterion.title}' is a file: it is saved when uploaded.", 422
        )
    artifact = (
        await session.exec(
            select(Artifact)
            .where(Artifact.version_id == version.id)
            .where(Artifact.criterion_id == criterion.id)
            .with_for_update()
        )
    ).first()
    now = datetime.now(UTC)
    if not value:
        if artifact is not None:
            await session.delete(artifact)
    else:
        if artifact is None:
            artifact = Artifact(
                version_id=version.id, criterion_id=criterion.id, kind=criterion.kind
            )
        if criterion.kind == ArtifactKind.reflection:
            if artifact.body != value:
                # A packet returned or taken back is edited in place: its signature is stale.
                artifact.minhash = None
            artifact.body = value
        else:
            artifact.url = value
        session.add(artifact)
    submission.updated_at = now
    session.add(submission)
    await session.commit()
    return Saved(criterion.id, bool(value), now, word_count(value) if value else 0)
