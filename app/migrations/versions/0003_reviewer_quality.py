"""calibration, known-answer checks, trust and escalation policy (issue 7)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quality_policies",
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("calibration_required", sa.Integer(), nullable=False),
        sa.Column("calibration_tolerance", sa.Integer(), nullable=False),
        sa.Column("calibration_pass_percent", sa.Integer(), nullable=False),
        sa.Column("known_answer_percent", sa.Integer(), nullable=False),
        sa.Column("trust_floor", sa.Integer(), nullable=False),
        sa.Column("escalate_on_disagreement", sa.Boolean(), nullable=False),
        sa.Column("escalate_level_gap", sa.Integer(), nullable=True),
        sa.Column("escalate_pass_margin", sa.Integer(), nullable=True),
        sa.Column("escalate_on_appeal", sa.Boolean(), nullable=False),
        sa.Column("reviewer_pd_hours", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("calibration_pass_percent BETWEEN 1 AND 100", name="ck_quality_pass"),
        sa.CheckConstraint("calibration_required BETWEEN 0 AND 20", name="ck_quality_calibration"),
        sa.CheckConstraint("calibration_tolerance BETWEEN 0 AND 5", name="ck_quality_tolerance"),
        sa.CheckConstraint(
            "escalate_level_gap IS NULL OR escalate_level_gap BETWEEN 1 AND 10",
            name="ck_quality_gap",
        ),
        sa.CheckConstraint(
            "escalate_pass_margin IS NULL OR escalate_pass_margin BETWEEN 0 AND 100",
            name="ck_quality_margin",
        ),
        sa.CheckConstraint("known_answer_percent BETWEEN 0 AND 50", name="ck_quality_known"),
        sa.CheckConstraint("reviewer_pd_hours >= 0", name="ck_quality_pd_hours"),
        sa.CheckConstraint("trust_floor BETWEEN 0 AND 100", name="ck_quality_floor"),
        sa.ForeignKeyConstraint(["credential_id"], ["credentials.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("credential_id"),
    )
    op.create_table(
        "reviewer_standings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("trust", sa.Float(), nullable=False),
        sa.Column("components", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("calibrated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspension_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("override_by_id", sa.Uuid(), nullable=True),
        sa.Column("override_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("trust >= 0 AND trust <= 100", name="ck_standing_trust"),
        sa.ForeignKeyConstraint(["credential_id"], ["credentials.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["override_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reviewer_id", "credential_id", name="uq_standing"),
    )
    op.create_index(
        op.f("ix_reviewer_standings_credential_id"),
        "reviewer_standings",
        ["credential_id"],
        unique=False,
    )
    op.create_table(
        "calibration_examples",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("rubric_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["credential_id"], ["credentials.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["rubric_id"],
            ["rubrics.id"],
        ),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["submission_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("submission_id"),
    )
    op.create_index(
        op.f("ix_calibration_examples_credential_id"),
        "calibration_examples",
        ["credential_id"],
        unique=False,
    )
    op.create_table(
        "calibration_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("example_id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("levels", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("credit", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('calibration', 'known_answer')", name="ck_attempt_kind"),
        sa.CheckConstraint("credit >= 0 AND credit <= 1", name="ck_attempt_credit"),
        sa.ForeignKeyConstraint(["credential_id"], ["credentials.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["example_id"], ["calibration_examples.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["review_tasks.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("example_id", "reviewer_id", "kind", name="uq_attempt_once"),
    )
    op.create_index(
        op.f("ix_calibration_attempts_reviewer_id"),
        "calibration_attempts",
        ["reviewer_id"],
        unique=False,
    )
    op.create_table(
        "calibration_references",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("example_id", sa.Uuid(), nullable=False),
        sa.Column("criterion_id", sa.Uuid(), nullable=False),
        sa.Column("level_id", sa.Uuid(), nullable=False),
        sa.Column("explanation", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["criterion_id"], ["rubric_criteria.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["example_id"], ["calibration_examples.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["level_id"], ["rubric_levels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("example_id", "criterion_id", name="uq_calibration_reference"),
    )
    op.create_index(
        op.f("ix_calibration_references_example_id"),
        "calibration_references",
        ["example_id"],
        unique=False,
    )
    op.create_table(
        "escalations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("triggers", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["review_tasks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["submission_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
    )
    op.create_index(
        op.f("ix_escalations_submission_id"), "escalations", ["submission_id"], unique=False
    )
    op.create_table(
        "feedback_ratings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("earner_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("helpfulness", sa.Integer(), nullable=False),
        sa.Column("inappropriate", sa.Boolean(), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("helpfulness BETWEEN 1 AND 5", name="ck_rating_helpfulness"),
        sa.ForeignKeyConstraint(["credential_id"], ["credentials.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["earner_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resolved_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id"),
    )
    op.create_index(
        op.f("ix_feedback_ratings_reviewer_id"), "feedback_ratings", ["reviewer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_ratings_reviewer_id"), table_name="feedback_ratings")
    op.drop_table("feedback_ratings")
    op.drop_index(op.f("ix_escalations_submission_id"), table_name="escalations")
    op.drop_table("escalations")
    op.drop_index(op.f("ix_calibration_references_example_id"), table_name="calibration_references")
    op.drop_table("calibration_references")
    op.drop_index(op.f("ix_calibration_attempts_reviewer_id"), table_name="calibration_attempts")
    op.drop_table("calibration_attempts")
    op.drop_index(op.f("ix_calibration_examples_credential_id"), table_name="calibration_examples")
    op.drop_table("calibration_examples")
    op.drop_index(op.f("ix_reviewer_standings_credential_id"), table_name="reviewer_standings")
    op.drop_table("reviewer_standings")
    op.drop_table("quality_policies")
