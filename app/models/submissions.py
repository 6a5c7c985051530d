"""Evidence packets: a submission, its versions (resubmissions keep history) and artifacts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.base import check_in, created_field, id_field, when_field
from app.models.credentials import ArtifactKind


class SubmissionState(StrEnum):
    draft = "draft"  # being put together, not yet submitted
    checking = "checking"  # submitted; the evidence check runs before it enters the queue
    returned = "returned"  # the check failed; back with the earner, with the reason
    in_review = "in_review"  # review tasks open or claimed
    not_yet = "not_yet"  # decided: not yet; the earner may revise and resubmit
    passed = "passed"  # decided: pass; a badge is awarded
    withdrawn = "withdrawn"


class Privacy(StrEnum):
    reviewers = "reviewers"
    organisation = "organisation"
    public = "public"


class Submission(SQLModel, table=True):
    """One earner's pursuit of one credential, across its versions."""

    __tablename__ = "submissions"
    __table_args__ = (
        check_in("state", SubmissionState, "ck_submission_state"),
        check_in("privacy", Privacy, "ck_submission_privacy"),
        # One live pursuit per earner and credential.
        Index(
            "uq_submission_live",
            "earner_id",
            "credential_id",
            unique=True,
            postgresql_where=text("state <> 'withdrawn'"),
        ),
    )

    id: uuid.UUID = id_field()
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", index=True)
    earner_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    state: str = Field(default=SubmissionState.draft, max_length=20)
    privacy: str = Field(default=Privacy.reviewers, max_length=20)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class SubmissionVersion(SQLModel, table=True):
    """One submitted packet; "not yet" followed by a resubmission makes the next number."""

    __tablename__ = "submission_versions"
    __table_args__ = (
        UniqueConstraint("submission_id", "number", name="uq_submission_version_number"),
        CheckConstraint("number >= 1", name="ck_submission_version_number"),
    )

    id: uuid.UUID = id_field()
    submission_id: uuid.UUID = Field(foreign_key="submissions.id", ondelete="CASCADE", index=True)
    number: int = 1
    rubric_id: uuid.UUID | None = Field(default=None, foreign_key="rubrics.id")
    created_at: datetime = created_field()
    submitted_at: datetime | None = when_field()
    check_error: str | None = None


class Artifact(SQLModel, table=True):
    """One piece of evidence, matched to a submission criterion."""

    __tablename__ = "artifacts"
    __table_args__ = (
        check_in("kind", ArtifactKind, "ck_artifact_kind"),
        CheckConstraint("kind <> 'link' OR url IS NOT NULL", name="ck_artifact_link_url"),
        CheckConstraint(
            "kind <> 'reflection' OR body IS NOT NULL", name="ck_artifact_reflection_body"
        ),
        CheckConstraint(
            "kind IN ('link', 'reflection') OR (sha256 IS NOT NULL AND size_bytes > 0)",
            name="ck_artifact_file",
        ),
    )

    id: uuid.UUID = id_field()
    version_id: uuid.UUID = Field(
        foreign_key="submission_versions.id", ondelete="CASCADE", index=True
    )
    criterion_id: uuid.UUID = Field(foreign_key="submission_criteria.id")
    kind: str = Field(max_length=20)
    filename: str | None = Field(default=None, max_length=255)
    media_type: str | None = Field(default=None, max_length=100)
    # Files are stored content-addressed under the uploads folder by this hash.
    sha256: str | None = Field(default=None, max_length=64)
    size_bytes: int | None = None
    url: str | None = Field(default=None, max_length=2000)
    body: str | None = None
    # A reflection's MinHash signature (app.actions.integrity.signature), kept so that a scan
    # compares stored signatures instead of hashing every other earner's text again; made on
    # the first scan that needs it, cleared when the text changes.
    minhash: bytes | None = Field(default=None, sa_type=LargeBinary)
    created_at: datetime = created_field()
