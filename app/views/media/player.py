"""One recording as its player shows it: the rendition (or the original while it is being
prepared), poster and thumbnails, the automated observations, and the timestamped comments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.actions.media import MEDIA_KINDS
from app.actions.moments import MomentView
from app.media import observations
from app.media.observations import Observation, Strip
from app.models import Artifact, MediaFile, MediaState, SubmissionCriterion

STATE_TEXT = {
    MediaState.pending: "Waiting to be prepared",
    MediaState.working: "Preparing",
    MediaState.failed: "Could not be prepared",
}


@dataclass(frozen=True)
class MediaView:
    artifact_id: uuid.UUID
    kind: str  # video or audio
    criterion: str
    filename: str | None
    media_type: str | None
    state: str  # a MediaState, or "none" before anything was asked for
    progress: int
    error: str | None
    probe: dict[str, Any]
    poster: bool
    thumbnails: int
    observations: list[Observation] = field(default_factory=list)
    strip: Strip | None = None
    moments: list[MomentView] = field(default_factory=list)
    stated_range: str = ""

    @property
    def base(self) -> str:
        return f"/api/v1/artifacts/{self.artifact_id}"

    @property
    def ready(self) -> bool:
        return self.state == MediaState.ready

    @property
    def src(self) -> str:
        """What the player streams: the rendition once ready, else the original."""
        return f"{self.base}/rendition" if self.ready else self.base

    @property
    def src_type(self) -> str:
        if self.ready:
            return "video/mp4" if self.kind == "video" else "audio/mp4"
        return self.media_type or ""

    @property
    def poster_url(self) -> str | None:
        return f"{self.base}/poster.jpg" if self.poster else None

    @property
    def thumbnail_urls(self) -> list[str]:
        return [f"{self.base}/thumbnails/{n}.jpg" for n in range(1, self.thumbnails + 1)]

    @property
    def duration(self) -> float | None:
        value = self.probe.get("duration")
        return float(value) if isinstance(value, int | float) else None

    @property
    def status_text(self) -> str:
        if self.state == MediaState.working:
            return f"Preparing your {self.kind}: {self.progress} %"
        if self.state == MediaState.failed:
            return f"This {self.kind} could not be prepared: {self.error or 'unknown reason'}."
        return STATE_TEXT.get(MediaState(self.state), "") if self.state != "none" else ""

    def json(self) -> dict[str, Any]:
        return {
            "artifact_id": str(self.artifact_id),
            "kind": self.kind,
            "state": self.state,
            "progress": self.progress,
            "status": self.status_text,
            "error": self.error,
            "probe": self.probe,
            "src": self.src,
            "src_type": self.src_type,
            "original": self.base,
            "poster": self.poster_url,
            "thumbnails": self.thumbnail_urls,
            "observations": [
                {
                    "key": o.key,
                    "title": o.title,
                    "finding": o.finding,
                    "how": o.how,
                    "limits": o.limits,
                    "notable": o.notable,
                    "spans": [[a, b] for a, b in o.spans],
                }
                for o in self.observations
            ],
            "speech": [[a, b] for a, b in self.strip.speech] if self.strip else None,
            "moments": [m.json() for m in self.moments],
        }


async def media_views(
    session: AsyncSession,
    version_id: uuid.UUID,
    moments: Sequence[MomentView] = (),
    *,
    artifact_id: uuid.UUID | None = None,
) -> list[MediaView]:
    """The video and audio artifacts of one version (or just `artifact_id`), in criterion
    order, each with its file's preparation and observations; `moments` are shared out."""
    query = (
        select(Artifact, SubmissionCriterion, MediaFile)
        .join(SubmissionCriterion, col(SubmissionCriterion.id) == col(Artifact.criterion_id))
        .outerjoin(MediaFile, col(MediaFile.sha256) == col(Artifact.sha256))
        .where(col(Artifact.version_id) == version_id)
        .where(col(Artifact.kind).in_(list(MEDIA_KINDS)))
        .where(col(Artifact.sha256).is_not(None))
        .order_by(col(SubmissionCriterion.position))
    )
    if artifact_id is not None:
        query = query.where(col(Artifact.id) == artifact_id)
    rows = (await session.exec(query)).all()
    out = []
    for artifact, criterion, media in rows:
        measures = media.measures if media is not None and media.state == MediaState.ready else {}
        found = observations.describe(
            measures,
            kind=artifact.kind,
            min_seconds=criterion.min_seconds,
            max_seconds=criterion.max_seconds,
            off=criterion.observations_off,
        )
        out.append(
            MediaView(
                artifact_id=artifact.id,
                kind=artifact.kind,
                criterion=criterion.title,
                filename=artifact.filename,
                media_type=artifact.media_type,
                state=media.state if media is not None else "none",
                progress=media.progress if media is not None else 0,
                error=media.error if media is not None else None,
                probe=media.probe if media is not None else {},
                poster=bool(media and media.state == MediaState.ready and media.poster),
                thumbnails=media.thumbnails if media and media.state == MediaState.ready else 0,
                observations=found,
                strip=observations.strip(measures)
                if "speech" not in criterion.observations_off
                else None,
                moments=[m for m in moments if m.artifact_id == artifact.id],
                stated_range=observations.range_text(criterion.min_seconds, criterion.max_seconds),
            )
        )
    return out
