"""The earner's journey (issue 10): self-assessments, study groups with their comments,
coaching requests, nudge preferences and the nudges sent, evidence flags, growth goals."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Float, Index, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.models.base import check_in, created_field, id_field, when_field


class SelfAssessment(SQLModel, table=True):
    """The earner's own level per rubric criterion for one version; reviewers see it only
    when `shared` (the earner opted in)."""

    __tablename__ = "self_assessments"
    __table_args__ = (
        UniqueConstraint("version_id", "criterion_id", name="uq_self_assessment_criterion"),
    )

    id: uuid.UUID = id_field()
    version_id: uuid.UUID = Field(
        foreign_key="submission_versions.id", ondelete="CASCADE", index=True
    )
    criterion_id: uuid.UUID = Field(foreign_key="rubric_criteria.id", ondelete="CASCADE")
    level_id: uuid.UUID = Field(foreign_key="rubric_levels.id", ondelete="CASCADE")
    shared: bool = False
    updated_at: datetime = created_field()


class StudyGroup(SQLModel, table=True):
    """Earners pursuing one credential or stack together. A coordinator's cohort names its
    organisation; anyone holding the invite code may join."""

    __tablename__ = "study_groups"
    __table_args__ = (
        CheckConstraint(
            "(credential_id IS NULL) <> (stack_id IS NULL)", name="ck_study_group_target"
        ),
    )

    id: uuid.UUID = id_field()
    name: str = Field(max_length=120)
    credential_id: uuid.UUID | None = Field(
        default=None, foreign_key="credentials.id", ondelete="CASCADE", index=True
    )
    stack_id: uuid.UUID | None = Field(default=None, foreign_key="stacks.id", ondelete="CASCADE")
    cohort_organisation_id: uuid.UUID | None = Field(
        default=None, foreign_key="organisations.id", ondelete="CASCADE"
    )
    invite_code: str = Field(max_length=40, unique=True)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = created_field()


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "user_id", name="uq_group_member"),)

    id: uuid.UUID = id_field()
    group_id: uuid.UUID = Field(foreign_key="study_groups.id", ondelete="CASCADE", index=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    joined_at: datetime = created_field()


class GroupComment(SQLModel, table=True):
    """Informal feedback from a group member on one criterion's artifact of a draft. It is
    never a review: nothing in the review flow reads this table."""

    __tablename__ = "group_comments"
    __table_args__ = (Index("ix_group_comment_submission", "submission_id", "created_at"),)

    id: uuid.UUID = id_field()
    group_id: uuid.UUID = Field(foreign_key="study_groups.id", ondelete="CASCADE")
    submission_id: uuid.UUID = Field(foreign_key="submissions.id", ondelete="CASCADE")
    criterion_id: uuid.UUID = Field(foreign_key="submission_criteria.id", ondelete="CASCADE")
    author_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    body: str = Field(max_length=4000)
    created_at: datetime = created_field()


class CoachingState(StrEnum):
    open = "open"
    closed = "closed"


class CoachingRequest(SQLModel, table=True):
    """After the last allowed "not yet": the earner asks the issuer for a conversation."""

    __tablename__ = "coaching_requests"
    __table_args__ = (
        check_in("state", CoachingState, "ck_coaching_state"),
        Index(
            "uq_coaching_open",
            "submission_id",
            unique=True,
            postgresql_where="state = 'open'",
        ),
    )

    id: uuid.UUID = id_field()
    submission_id: uuid.UUID = Field(foreign_key="submissions.id", ondelete="CASCADE", index=True)
    earner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    message: str = Field(default="", max_length=4000)
    state: str = Field(default=CoachingState.open, max_length=10)
    created_at: datetime = created_field()
    closed_at: datetime | None = when_field()
    closed_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    note: str = Field(default="", max_length=4000)


class NudgePreference(SQLModel, table=True):
    """How and when one person wants reminders. No row: in-app only, no quiet hours."""

    __tablename__ = "nudge_preferences"
    __table_args__ = (
        CheckConstraint("quiet_start BETWEEN 0 AND 23", name="ck_nudge_quiet_start"),
        CheckConstraint("quiet_end BETWEEN 0 AND 23", name="ck_nudge_quiet_end"),
    )

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    in_app: bool = True
    email: bool = False
    # Local hours [start, end) in `timezone` when nothing is sent; equal hours: none.
    quiet_start: int = 0
    quiet_end: int = 0
    timezone: str = Field(default="UTC", max_length=64)
    updated_at: datetime = created_field()


class NudgeSent(SQLModel, table=True):
    """One reminder given; the unique key is what makes every nudge fire once."""

    __tablename__ = "nudges_sent"
    __table_args__ = (UniqueConstraint("user_id", "kind", "subject", name="uq_nudge_once"),)

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=30)
    subject: str = Field(max_length=200)
    channels: str = Field(default="", max_length=30)
    sent_at: datetime = created_field()


class FlagKind(StrEnum):
    same_file = "same_file"
    similar_reflection = "similar_reflection"


class FlagState(StrEnum):
    open = "open"
    cleared = "cleared"
    misconduct = "misconduct"


class EvidenceFlag(SQLModel, table=True):
    """Two earners' artifacts that look copied: the same bytes, or near-duplicate reflections
    (with the matching passages). A flag only informs; a coordinator decides."""

    __tablename__ = "evidence_flags"
    __table_args__ = (
        check_in("kind", FlagKind, "ck_evidence_flag_kind"),
        check_in("state", FlagState, "ck_evidence_flag_state"),
        UniqueConstraint("artifact_id", "other_artifact_id", name="uq_evidence_flag_pair"),
    )

    id: uuid.UUID = id_field()
    kind: str = Field(max_length=30)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", ondelete="CASCADE")
    artifact_id: uuid.UUID = Field(foreign_key="artifacts.id", ondelete="CASCADE", index=True)
    other_artifact_id: uuid.UUID = Field(foreign_key="artifacts.id", ondelete="CASCADE")
    submission_id: uuid.UUID = Field(foreign_key="submissions.id", ondelete="CASCADE")
    other_submission_id: uuid.UUID = Field(foreign_key="submissions.id", ondelete="CASCADE")
    similarity: float = Field(default=1.0, sa_type=Float)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    state: str = Field(default=FlagState.open, max_length=20)
    created_at: datetime = created_field()
    decided_at: datetime | None = when_field()
    decided_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    note: str = Field(default="", max_length=4000)


class GrowthGoal(SQLModel, table=True):
    """A standard (framework + code) or a stack an earner is working toward."""

    __tablename__ = "growth_goals"
    __table_args__ = (
        CheckConstraint("(code IS NULL) <> (stack_id IS NULL)", name="ck_growth_goal_target"),
        UniqueConstraint("user_id", "framework", "code", name="uq_growth_goal_standard"),
        UniqueConstraint("user_id", "stack_id", name="uq_growth_goal_stack"),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    framework: str | None = Field(default=None, max_length=100)
    code: str | None = Field(default=None, max_length=50)
    stack_id: uuid.UUID | None = Field(default=None, foreign_key="stacks.id", ondelete="CASCADE")
    created_at: datetime = created_field()
