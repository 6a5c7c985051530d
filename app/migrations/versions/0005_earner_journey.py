"""drafts, study groups, coaching, nudges and evidence flags (issue 10)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nudge_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("quiet_start", sa.Integer(), nullable=False),
        sa.Column("quiet_end", sa.Integer(), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quiet_end BETWEEN 0 AND 23", name="ck_nudge_quiet_end"),
        sa.CheckConstraint("quiet_start BETWEEN 0 AND 23", name="ck_nudge_quiet_start"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "nudges_sent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("channels", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "kind", "subject", name="uq_nudge_once"),
    )
    op.create_index(op.f("ix_nudges_sent_user_id"), "nudges_sent", ["user_id"], unique=False)
    op.create_table(
        "growth_goals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("framework", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("stack_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(code IS NULL) <> (stack_id IS NULL)", name="ck_growth_goal_target"),
        sa.ForeignKeyConstraint(["stack_id"], ["stacks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "framework", "code", name="uq_growth_goal_standard"),
        sa.UniqueConstraint("user_id", "stack_id", name="uq_growth_goal_stack"),
    )
    op.create_index(op.f("ix_growth_goals_user_id"), "growth_goals", ["user_id"], unique=False)
    op.create_table(
        "study_groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=True),
        sa.Column("stack_id", sa.Uuid(), nullable=True),
        sa.Column("cohort_organisation_id", sa.Uuid(), nullable=True),
        sa.Column("invite_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(credential_id IS NULL) <> (stack_id IS NULL)", name="ck_study_group_target"
        ),
        sa.ForeignKeyConstraint(
            ["cohort_organisation_id"], ["organisations.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["credential_id"], ["credentials.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["stack_id"], ["stacks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invite_code"),
    )
    op.create_index(
        op.f("ix_study_groups_credential_id"), "study_groups", ["credential_id"], unique=False
    )
    op.create_table(
        "coaching_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("earner_id", sa.Uuid(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Uuid(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.CheckConstraint("state IN ('open', 'closed')", name="ck_coaching_state"),
        sa.ForeignKeyConstraint(["closed_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["earner_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_coaching_requests_submission_id"),
        "coaching_requests",
        ["submission_id"],
        unique=False,
    )
    op.create_index(
        "uq_coaching_open",
        "coaching_requests",
        ["submission_id"],
        unique=True,
        postgresql_where="state = 'open'",
    )
    op.create_table(
        "group_comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("criterion_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["criterion_id"], ["submission_criteria.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["study_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_group_comment_submission",
        "group_comments",
        ["submission_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "group_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["study_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "user_id", name="uq_group_member"),
    )
    op.create_index(op.f("ix_group_members_group_id"), "group_members", ["group_id"], unique=False)
    op.create_index(op.f("ix_group_members_user_id"), "group_members", ["user_id"], unique=False)
    op.create_table(
        "evidence_flags",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("artifact_id", sa.Uuid(), nullable=False),
        sa.Column("other_artifact_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("other_submission_id", sa.Uuid(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.CheckConstraint(
            "kind IN ('same_file', 'similar_reflection')", name="ck_evidence_flag_kind"
        ),
        sa.CheckConstraint(
            "state IN ('open', 'cleared', 'misconduct')", name="ck_evidence_flag_state"
        ),
        sa.ForeignKeyConstraint(["artifact_id"], ["artifacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_artifact_id"], ["artifacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("artifact_id", "other_artifact_id", name="uq_evidence_flag_pair"),
    )
    op.create_index(
        op.f("ix_evidence_flags_artifact_id"), "evidence_flags", ["artifact_id"], unique=False
    )
    op.create_table(
        "self_assessments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("criterion_id", sa.Uuid(), nullable=False),
        sa.Column("level_id", sa.Uuid(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["criterion_id"], ["rubric_criteria.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["level_id"], ["rubric_levels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["submission_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "criterion_id", name="uq_self_assessment_criterion"),
    )
    op.create_index(
        op.f("ix_self_assessments_version_id"), "self_assessments", ["version_id"], unique=False
    )
    op.add_column(
        "credentials", sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="3")
    )
    op.create_check_constraint(
        "ck_credential_max_attempts", "credentials", "max_attempts BETWEEN 1 AND 20"
    )
    op.add_column("submission_criteria", sa.Column("min_words", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("submission_criteria", "min_words")
    op.drop_constraint("ck_credential_max_attempts", "credentials", type_="check")
    op.drop_column("credentials", "max_attempts")
    op.drop_index(op.f("ix_self_assessments_version_id"), table_name="self_assessments")
    op.drop_table("self_assessments")
    op.drop_index(op.f("ix_evidence_flags_artifact_id"), table_name="evidence_flags")
    op.drop_table("evidence_flags")
    op.drop_index(op.f("ix_group_members_user_id"), table_name="group_members")
    op.drop_index(op.f("ix_group_members_group_id"), table_name="group_members")
    op.drop_table("group_members")
    op.drop_index("ix_group_comment_submission", table_name="group_comments")
    op.drop_table("group_comments")
    op.drop_index(
        "uq_coaching_open", table_name="coaching_requests", postgresql_where="state = 'open'"
    )
    op.drop_index(op.f("ix_coaching_requests_submission_id"), table_name="coaching_requests")
    op.drop_table("coaching_requests")
    op.drop_index(op.f("ix_study_groups_credential_id"), table_name="study_groups")
    op.drop_table("study_groups")
    op.drop_index(op.f("ix_growth_goals_user_id"), table_name="growth_goals")
    op.drop_table("growth_goals")
    op.drop_index(op.f("ix_nudges_sent_user_id"), table_name="nudges_sent")
    op.drop_table("nudges_sent")
    op.drop_table("nudge_preferences")
