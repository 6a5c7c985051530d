"""Review work: tasks in a pool (leased claims), reviews with per-criterion scores, outcomes."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.base import check_in, created_field, id_field, when_field


class Pool(StrEnum):
    peer = "peer"
    expert = "expert"


class TaskState(StrEnum):
    open = "open"
    claimed = "claimed"
    completed = "completed"
    cancelled = "cancelled"


class TaskReason(StrEnum):
    initial = "initial"
    escalation = "escalation"
    appeal = "appeal"
    tiebreak = "tiebreak"  # a third, trusted peer when the first two disagree


class ReviewState(StrEnum):
    draft = "draft"
    submitted = "submitted"


class Decision(StrEnum):
    passed = "pass"
    not_yet = "not_yet"


class AppealState(StrEnum):
    open = "open"
    upheld = "upheld"
    overturned = "overturned"


class ReviewTask(SQLModel, table=True):
    """One slot of review work. PostgreSQL decides who holds it; lease_version fences writes."""

    __tablename__ = "review_tasks"
    __table_args__ = (
        check_in("pool", Pool, "ck_task_pool"),
        check_in("state", TaskState, "ck_task_state"),
        check_in("reason", TaskReason, "ck_task_reason"),
        CheckConstraint(
            "state <> 'claimed' OR (reviewer_id IS NOT NULL AND lease_expires_at IS NOT NULL)",
            name="ck_task_claim_has_lease",
        ),
        CheckConstraint("state <> 'open' OR reviewer_id IS NULL", name="ck_task_open_unheld"),
        CheckConstraint("lease_version >= 0", name="ck_task_lease_version"),
        # Never the same reviewer twice on one submission.
        Index(
            "uq_task_submission_reviewer",
            "submission_id",
            "reviewer_id",
            unique=True,
            postgresql_where=text("reviewer_id IS NOT NULL"),
        ),
        Index("ix_task_pool_state", "pool", "state"),
        # Open work in queue order: "the first N open tasks" walks this index.
        Index("ix_task_open_priority", "priority", "id", postgresql_where=text("state = 'open'")),
    )

    id: uuid.UUID = id_field()
    submission_id: uuid.UUID = Field(foreign_key="submissions.id", ondelete="CASCADE", index=True)
    version_id: uuid.UUID = Field(foreign_key="submission_versions.id", ondelete="CASCADE")
    pool: str = Field(max_length=10)
    state: str = Field(default=TaskState.open, max_length=20)
    reason: str = Field(default=TaskReason.initial, max_length=20)
    reviewer_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    lease_version: int = 0
    lease_expires_at: datetime | None = when_field()
    extended: bool = False
    claimed_at: datetime | None = when_field()
    completed_at: datetime | None = when_field()
    created_at: datetime = created_field()
    # Queue order (epoch seconds, escalations and appeals a day ahead): set by a trigger from
    # created_at and reason, whatever the application sends.
    priority: float = 0.0
    # Only reviewers with at least this trust on the credential may take it (a tie-break).
    min_trust: float | None = None


class PastClaim(SQLModel, table=True):
    """A reviewer whose claim on a task ended without a review (released, or its lease ran
    out), written by the statement that ended it. A write under a claim that is not the
    caller's answers 409 claim_gone to them, and 404 to anyone who never held it."""

    __tablename__ = "past_claims"

    task_id: uuid.UUID = Field(foreign_key="review_tasks.id", ondelete="CASCADE", primary_key=True)
    reviewer_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)


class Review(SQLModel, table=True):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("submission_id", "reviewer_id", name="uq_review_submission_reviewer"),
        check_in("state", ReviewState, "ck_review_state"),
        CheckConstraint(
            "recommendation IS NULL OR recommendation IN ('pass', 'not_yet')",
            name="ck_review_recommendation",
        ),
        CheckConstraint(
            "state <> 'submitted' OR (recommendation IS NOT NULL AND submitted_at IS NOT NULL)",
            name="ck_review_submitted_complete",
        ),
    )

    id: uuid.UUID = id_field()
    task_id: uuid.UUID = Field(foreign_key="review_tasks.id", ondelete="CASCADE", unique=True)
    submission_id: uuid.UUID = Field(foreign_key="submissions.id", ondelete="CASCADE", index=True)
    version_id: uuid.UUID = Field(foreign_key="submission_versions.id", ondelete="CASCADE")
    reviewer_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    rubric_id: uuid.UUID = Field(foreign_key="rubrics.id")
    # The claim's lease_version this review was written under.
    lease_version: int
    state: str = Field(default=ReviewState.draft, max_length=20)
    recommendation: str | None = Field(default=None, max_length=10)
    feedback: str = ""
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    submitted_at: datetime | None = when_field()


class ReviewScore(SQLModel, table=True):
    __tablename__ = "review_scores"
    __table_args__ = (UniqueConstraint("review_id", "criterion_id", name="uq_review_score"),)

    id: uuid.UUID = id_field()
    review_id: uuid.UUID = Field(foreign_key="reviews.id", ondelete="CASCADE", index=True)
    criterion_id: uuid.UUID = Field(foreign_key="rubric_criteria.id")
    level_id: uuid.UUID = Field(foreign_key="rubric_levels.id")
    comment: str = ""


class Outcome(SQLModel, table=True):
    """The decision on one submitted version, and the rule that produced it."""

    __tablename__ = "outcomes"
    __table_args__ = (
        CheckConstraint("decision IN ('pass', 'not_yet')", name="ck_outcome_decision"),
    )

    id: uuid.UUID = id_field()
    submission_id: uuid.UUID = Field(foreign_key="submissions.id", ondelete="CASCADE", index=True)
    version_id: uuid.UUID = Field(
        foreign_key="submission_versions.id", ondelete="CASCADE", unique=True
    )
    decision: str = Field(max_length=10)
    rule: str
    decided_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime = created_field()


class Appeal(SQLModel, table=True):
    __tablename__ = "appeals"
    __table_args__ = (check_in("state", AppealState, "ck_appeal_state"),)

    id: uuid.UUID = id_field()
    outcome_id: uuid.UUID = Field(foreign_key="outcomes.id", ondelete="CASCADE", unique=True)
    earner_id: uuid.UUID = Field(foreign_key="users.id")
    reason: str
    state: str = Field(default=AppealState.open, max_length=20)
    ruling: str | None = None
    ruled_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = created_field()
    ruled_at: datetime | None = when_field()
