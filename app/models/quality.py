"""Reviewer quality: each credential's quality policy, calibration examples with expert
reference scores, reviewers' attempts at them, their standing (trust, calibration,
suspension), escalations with their reasons, and earners' ratings of feedback."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ARRAY, CheckConstraint, Numeric, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.models.base import check_in, created_field, id_field, when_field


class AttemptKind(StrEnum):
    calibration = "calibration"  # scored on the calibration page, before (re)joining a pool
    known_answer = "known_answer"  # served as a normal-looking task from the live queue


class QualityPolicy(SQLModel, table=True):
    """A credential's quality settings. No row means the defaults below (no calibration
    required, no known-answer checks, escalation on peer disagreement only)."""

    __tablename__ = "quality_policies"
    __table_args__ = (
        CheckConstraint("calibration_required BETWEEN 0 AND 20", name="ck_quality_calibration"),
        CheckConstraint("calibration_tolerance BETWEEN 0 AND 5", name="ck_quality_tolerance"),
        CheckConstraint("calibration_pass_percent BETWEEN 1 AND 100", name="ck_quality_pass"),
        CheckConstraint("known_answer_percent BETWEEN 0 AND 50", name="ck_quality_known"),
        CheckConstraint("trust_floor BETWEEN 0 AND 100", name="ck_quality_floor"),
        CheckConstraint(
            "escalate_level_gap IS NULL OR escalate_level_gap BETWEEN 1 AND 10",
            name="ck_quality_gap",
        ),
        CheckConstraint(
            "escalate_pass_margin IS NULL OR escalate_pass_margin BETWEEN 0 AND 100",
            name="ck_quality_margin",
        ),
        CheckConstraint("reviewer_pd_hours >= 0", name="ck_quality_pd_hours"),
        CheckConstraint("tiebreak_min_trust BETWEEN 0 AND 100", name="ck_quality_tiebreak"),
    )

    credential_id: uuid.UUID = Field(
        foreign_key="credentials.id", ondelete="CASCADE", primary_key=True
    )
    # Calibration: K examples passed, each criterion within `tolerance` levels of the
    # reference, an example passing when at least `pass_percent` of its criteria do.
    calibration_required: int = 0
    calibration_tolerance: int = 0
    calibration_pass_percent: int = 75
    # Percent of claim-next answers that are a known-answer check instead of real work.
    known_answer_percent: int = 0
    # Trust (0-100) below which claiming for this credential is suspended.
    trust_floor: int = 40
    # Escalation triggers.
    escalate_on_disagreement: bool = True
    escalate_level_gap: int | None = None
    escalate_pass_margin: int | None = None
    escalate_on_appeal: bool = False
    # Before an expert, a split between peers goes to a third peer trusted (at least
    # `tiebreak_min_trust`) on this credential (app.actions.tiebreak).
    tiebreak_peer: bool = False
    tiebreak_min_trust: int = 80
    # Each criterion's level: the reviewers' levels weighted by their known-answer accuracy
    # (app.agreement.weighted_level) instead of the plain median.
    trust_weighted: bool = False
    # Watch reviewer pairs for collusion; a flagged pair no longer gets each other's work.
    collusion_guard: bool = True
    # PD hours a reviewer earns for each completed review of this credential.
    reviewer_pd_hours: Decimal = Field(default=Decimal(0), sa_type=Numeric(6, 2))
    updated_at: datetime = created_field()


class CalibrationExample(SQLModel, table=True):
    """Sample evidence with an expert's reference scores. Its evidence lives in a hidden
    submission (so a known-answer check renders exactly like real work)."""

    __tablename__ = "calibration_examples"

    id: uuid.UUID = id_field()
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE", index=True)
    rubric_id: uuid.UUID = Field(foreign_key="rubrics.id")
    submission_id: uuid.UUID = Field(foreign_key="submissions.id", ondelete="CASCADE", unique=True)
    version_id: uuid.UUID = Field(foreign_key="submission_versions.id", ondelete="CASCADE")
    title: str = Field(max_length=200)
    created_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    created_at: datetime = created_field()
    retired_at: datetime | None = when_field()


class CalibrationReference(SQLModel, table=True):
    """The expert's level for one criterion of an example, and why."""

    __tablename__ = "calibration_references"
    __table_args__ = (
        UniqueConstraint("example_id", "criterion_id", name="uq_calibration_reference"),
    )

    id: uuid.UUID = id_field()
    example_id: uuid.UUID = Field(
        foreign_key="calibration_examples.id", ondelete="CASCADE", index=True
    )
    criterion_id: uuid.UUID = Field(foreign_key="rubric_criteria.id", ondelete="CASCADE")
    level_id: uuid.UUID = Field(foreign_key="rubric_levels.id", ondelete="CASCADE")
    explanation: str


class CalibrationAttempt(SQLModel, table=True):
    """A reviewer's scoring of an example: credit is the share of criteria within tolerance."""

    __tablename__ = "calibration_attempts"
    __table_args__ = (
        check_in("kind", AttemptKind, "ck_attempt_kind"),
        CheckConstraint("credit >= 0 AND credit <= 1", name="ck_attempt_credit"),
        UniqueConstraint("example_id", "reviewer_id", "kind", name="uq_attempt_once"),
    )

    id: uuid.UUID = id_field()
    example_id: uuid.UUID = Field(foreign_key="calibration_examples.id", ondelete="CASCADE")
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE")
    reviewer_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=20)
    task_id: uuid.UUID | None = Field(
        default=None, foreign_key="review_tasks.id", ondelete="SET NULL"
    )
    # {criterion_id: {"level": position, "reference": position, "hit": bool}}
    levels: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    credit: float
    passed: bool
    created_at: datetime = created_field()


class ReviewerStanding(SQLModel, table=True):
    """One reviewer's standing for one credential: read by the claim gate in the same query."""

    __tablename__ = "reviewer_standings"
    __table_args__ = (
        UniqueConstraint("reviewer_id", "credential_id", name="uq_standing"),
        CheckConstraint("trust >= 0 AND trust <= 100", name="ck_standing_trust"),
    )

    id: uuid.UUID = id_field()
    reviewer_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE", index=True)
    trust: float = 75.0
    # The parts trust was computed from (0-1 each, null: no evidence yet) and their counts.
    components: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    calibrated_at: datetime | None = when_field()
    suspended_at: datetime | None = when_field()
    suspension_reason: str | None = None
    # A coordinator let this reviewer claim despite low trust; trust changes keep it.
    override_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    override_at: datetime | None = when_field()
    updated_at: datetime = created_field()


class Escalation(SQLModel, table=True):
    """Why an expert task was opened: one row per expert task, naming every trigger."""

    __tablename__ = "escalations"

    id: uuid.UUID = id_field()
    task_id: uuid.UUID = Field(foreign_key="review_tasks.id", ondelete="CASCADE", unique=True)
    submission_id: uuid.UUID = Field(foreign_key="submissions.id", ondelete="CASCADE", index=True)
    version_id: uuid.UUID = Field(foreign_key="submission_versions.id", ondelete="CASCADE")
    triggers: list[str] = Field(default_factory=list, sa_type=ARRAY(Text))
    detail: str
    created_at: datetime = created_field()


class FeedbackRating(SQLModel, table=True):
    """An earner's 1-5 rating of how helpful a review's feedback was, maybe flagged."""

    __tablename__ = "feedback_ratings"
    __table_args__ = (CheckConstraint("helpfulness BETWEEN 1 AND 5", name="ck_rating_helpfulness"),)

    id: uuid.UUID = id_field()
    review_id: uuid.UUID = Field(foreign_key="reviews.id", ondelete="CASCADE", unique=True)
    earner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    reviewer_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE")
    helpfulness: int
    inappropriate: bool = False
    comment: str = ""
    resolved_at: datetime | None = when_field()
    resolved_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    created_at: datetime = created_field()


class ReviewerPair(SQLModel, table=True):
    """Two reviewers of one organisation flagged as a likely colluding pair, with the evidence
    (app.actions.collusion). While `blocked`, neither is routed the other's work. A `held` row
    is not a flag yet: the first review of a fellow reviewer's packet was a fast pass, and the
    pair is kept off each other's work until a second review confirms it as a flag or lifts it
    (the row goes)."""

    __tablename__ = "reviewer_pairs"
    __table_args__ = (
        UniqueConstraint("organisation_id", "reviewer_id", "partner_id", name="uq_reviewer_pair"),
        # One row per unordered pair: the smaller id first.
        CheckConstraint("reviewer_id < partner_id", name="ck_pair_ordered"),
    )

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(
        foreign_key="organisations.id", ondelete="CASCADE", index=True
    )
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE")
    reviewer_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    partner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    score: float
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    blocked: bool = True
    held: bool = False
    flagged_at: datetime = created_field()  # for a confirmed hold: when the hold began
    cleared_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    cleared_at: datetime | None = when_field()


class SubmissionExclusion(SQLModel, table=True):
    """A reviewer kept off one submission's work beyond the standing rules: for a tie-break,
    either first reviewer's school, their frequent partners and flagged partners."""

    __tablename__ = "submission_exclusions"

    submission_id: uuid.UUID = Field(
        foreign_key="submissions.id", ondelete="CASCADE", primary_key=True
    )
    reviewer_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    reason: str = Field(max_length=40)
