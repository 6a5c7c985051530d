"""Classroom media: what the worker learnt about a video or audio file (probe, renditions,
measurements), and reviewers' comments pinned to a moment of it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.models.base import check_in, created_field, id_field


class MediaState(StrEnum):
    pending = "pending"  # waiting for the worker
    working = "working"  # being transcoded and measured
    ready = "ready"  # rendition, poster and measurements stored
    failed = "failed"  # did not decode, or ran out of time; `error` says why


class MediaFile(SQLModel, table=True):
    """One stored video or audio file (by its sha256), prepared once however many artifacts
    point at it. Renditions live under uploads/media/<sha256>/."""

    __tablename__ = "media_files"
    __table_args__ = (
        check_in("state", MediaState, "ck_media_state"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="ck_media_progress"),
        CheckConstraint("kind IN ('video', 'audio')", name="ck_media_kind"),
    )

    sha256: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=10)
    state: str = Field(default=MediaState.pending, max_length=10)
    progress: int = 0
    # Container, codecs, duration, resolution, frame rate, audio present (app.media.probe).
    probe: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    # Speech spans, loudness, black and frozen stretches (app.media.observations).
    measures: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    error: str | None = None
    rendition: str | None = Field(default=None, max_length=40)  # file name in the media folder
    rendition_bytes: int | None = None
    poster: bool = False
    thumbnails: int = 0
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class ReviewMoment(SQLModel, table=True):
    """A reviewer's comment on one moment of a video or audio artifact, part of their review
    (written under the claim's lease, like scores; the earner sees it with the feedback)."""

    __tablename__ = "review_moments"
    __table_args__ = (
        CheckConstraint("at_ms >= 0", name="ck_moment_at"),
        CheckConstraint("char_length(comment) BETWEEN 1 AND 2000", name="ck_moment_comment"),
    )

    id: uuid.UUID = id_field()
    review_id: uuid.UUID = Field(foreign_key="reviews.id", ondelete="CASCADE", index=True)
    artifact_id: uuid.UUID = Field(foreign_key="artifacts.id", ondelete="CASCADE")
    at_ms: int
    # The rubric criterion the moment speaks to (optional).
    criterion_id: uuid.UUID | None = Field(
        default=None, foreign_key="rubric_criteria.id", ondelete="SET NULL"
    )
    comment: str
    created_at: datetime = created_field()
