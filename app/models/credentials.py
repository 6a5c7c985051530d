"""Micro-credentials with their six components, standards alignments, rubrics and stacks."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ARRAY, CheckConstraint, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import check_in, created_field, id_field


class CredentialStatus(StrEnum):
    draft = "draft"
    pilot = "pilot"
    published = "published"
    retired = "retired"


class Stakes(StrEnum):
    low = "low"
    high = "high"


class ArtifactKind(StrEnum):
    video = "video"
    audio = "audio"
    image = "image"
    document = "document"
    link = "link"
    reflection = "reflection"


class Credential(SQLModel, table=True):
    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("organisation_id", "slug", name="uq_credential_slug"),
        check_in("status", CredentialStatus, "ck_credential_status"),
        check_in("stakes", Stakes, "ck_credential_stakes"),
        CheckConstraint("pilot_spots IS NULL OR pilot_spots >= 0", name="ck_credential_spots"),
        CheckConstraint("peer_reviews BETWEEN 1 AND 9", name="ck_credential_peer_reviews"),
        CheckConstraint("expert_reviews BETWEEN 1 AND 5", name="ck_credential_expert_reviews"),
        CheckConstraint(
            "lease_minutes IS NULL OR lease_minutes BETWEEN 1 AND 1440",
            name="ck_credential_lease",
        ),
        CheckConstraint("pd_hours >= 0", name="ck_credential_pd_hours"),
        CheckConstraint(
            "target_hours IS NULL OR target_hours BETWEEN 1 AND 2160",
            name="ck_credential_target_hours",
        ),
        CheckConstraint("max_attempts BETWEEN 1 AND 20", name="ck_credential_max_attempts"),
        CheckConstraint(
            "validity_months IS NULL OR validity_months BETWEEN 1 AND 240",
            name="ck_credential_validity_months",
        ),
    )

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    slug: str = Field(max_length=100)
    title: str = Field(max_length=200)
    summary: str = ""
    topic: str = Field(default="", max_length=100)
    status: str = Field(default=CredentialStatus.draft, max_length=20)
    pilot_spots: int | None = None
    # The six components, as issuers publish them (criteria and rubric are tables).
    competency: str = ""
    key_method: str = ""
    method_components: str = ""
    research_resources: str = ""
    pd_hours: Decimal = Field(default=Decimal(0), sa_type=Numeric(6, 2))
    # A badge of this credential expires this many months after its award (None: never).
    validity_months: int | None = None
    badge_image: str | None = Field(default=None, max_length=500)
    # Review policy.
    stakes: str = Field(default=Stakes.low, max_length=10)
    peer_reviews: int = 2
    expert_reviews: int = 1
    lease_minutes: int | None = None
    blind_review: bool = True
    exclude_same_school: bool = False
    # How long work may wait from submission to outcome before it is overdue (None: 72 h).
    target_hours: int | None = None
    # "Earn it to assess it": reviewers must hold this credential's badge.
    required_badge_credential_id: uuid.UUID | None = Field(
        default=None, foreign_key="credentials.id", ondelete="SET NULL"
    )
    # Versions an earner may submit; after the last "not yet", coaching is offered.
    max_attempts: int = Field(default=3, sa_column_kwargs={"server_default": "3"})
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class Alignment(SQLModel, table=True):
    """A published standard the credential aligns to (PSEL, INTASC, ISTE, a state's)."""

    __tablename__ = "alignments"

    id: uuid.UUID = id_field()
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE", index=True)
    framework: str = Field(max_length=100)
    code: str = Field(max_length=50)
    title: str = Field(default="", max_length=300)
    url: str | None = Field(default=None, max_length=500)


class SubmissionCriterion(SQLModel, table=True):
    """One artifact an earner must (or may) submit."""

    __tablename__ = "submission_criteria"
    __table_args__ = (
        UniqueConstraint("credential_id", "position", name="uq_submission_criterion_position"),
        check_in("kind", ArtifactKind, "ck_submission_criterion_kind"),
        CheckConstraint("max_bytes IS NULL OR max_bytes > 0", name="ck_submission_criterion_max"),
        CheckConstraint(
            "min_seconds IS NULL OR max_seconds IS NULL OR min_seconds <= max_seconds",
            name="ck_submission_criterion_seconds",
        ),
    )

    id: uuid.UUID = id_field()
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE", index=True)
    position: int
    title: str = Field(max_length=200)
    description: str = ""
    kind: str = Field(max_length=20)
    required: bool = True
    # Media types accepted (empty: every type of the kind).
    accepted_types: list[str] = Field(default_factory=list, sa_type=ARRAY(Text))
    max_bytes: int | None = None
    # A written reflection's word range, enforced by the self-check and at submit (None: no
    # floor / no ceiling).
    min_words: int | None = None
    max_words: int | None = None
    # Video and audio: the stated length ("5-15 minutes"), shown as an observation.
    min_seconds: int | None = None
    max_seconds: int | None = None
    # Automated observations a coordinator turned off for this criterion (app.media keys).
    observations_off: list[str] = Field(
        default_factory=list, sa_type=ARRAY(Text), sa_column_kwargs={"server_default": "{}"}
    )


class Rubric(SQLModel, table=True):
    """A version of a credential's scoring rubric; reviews keep the version they used."""

    __tablename__ = "rubrics"
    __table_args__ = (
        UniqueConstraint("credential_id", "version", name="uq_rubric_version"),
        CheckConstraint("version >= 1", name="ck_rubric_version"),
        CheckConstraint("min_level >= 0", name="ck_rubric_min_level"),
        CheckConstraint("min_points IS NULL OR min_points >= 0", name="ck_rubric_min_points"),
    )

    id: uuid.UUID = id_field()
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE", index=True)
    version: int = 1
    # Passing rule: every criterion at or above the level at this position, and/or a total.
    min_level: int = 0
    min_points: int | None = None
    created_at: datetime = created_field()


class RubricCriterion(SQLModel, table=True):
    __tablename__ = "rubric_criteria"
    __table_args__ = (
        UniqueConstraint("rubric_id", "position", name="uq_rubric_criterion_position"),
    )

    id: uuid.UUID = id_field()
    rubric_id: uuid.UUID = Field(foreign_key="rubrics.id", ondelete="CASCADE", index=True)
    position: int
    title: str = Field(max_length=200)
    description: str = ""


class RubricLevel(SQLModel, table=True):
    __tablename__ = "rubric_levels"
    __table_args__ = (
        UniqueConstraint("criterion_id", "position", name="uq_rubric_level_position"),
        CheckConstraint("points >= 0", name="ck_rubric_level_points"),
    )

    id: uuid.UUID = id_field()
    criterion_id: uuid.UUID = Field(
        foreign_key="rubric_criteria.id", ondelete="CASCADE", index=True
    )
    position: int
    label: str = Field(max_length=100)
    points: int = 0
    descriptor: str = ""


class Stack(SQLModel, table=True):
    """An ordered set of credentials that together earn a stack badge."""

    __tablename__ = "stacks"
    __table_args__ = (UniqueConstraint("organisation_id", "slug", name="uq_stack_slug"),)

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    slug: str = Field(max_length=100)
    title: str = Field(max_length=200)
    description: str = ""
    badge_image: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_field()


class StackItem(SQLModel, table=True):
    __tablename__ = "stack_items"
    __table_args__ = (
        UniqueConstraint("stack_id", "position", name="uq_stack_item_position"),
        UniqueConstraint("stack_id", "credential_id", name="uq_stack_item_credential"),
    )

    id: uuid.UUID = id_field()
    stack_id: uuid.UUID = Field(foreign_key="stacks.id", ondelete="CASCADE", index=True)
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE")
    position: int
