"""rigour without burning experts: the tie-break peer, trust-weighted consensus, reviewer
pairs flagged for collusion, per-submission exclusions (issue 21)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 09:12:05.113407
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "quality_policies",
        sa.Column("tiebreak_peer", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "quality_policies",
        sa.Column("tiebreak_min_trust", sa.Integer(), nullable=False, server_default="80"),
    )
    op.add_column(
        "quality_policies",
        sa.Column("trust_weighted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "quality_policies",
        sa.Column("collusion_guard", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_check_constraint(
        "ck_quality_tiebreak", "quality_policies", "tiebreak_min_trust BETWEEN 0 AND 100"
    )
    op.add_column("review_tasks", sa.Column("min_trust", sa.Float(), nullable=True))
    op.drop_constraint("ck_task_reason", "review_tasks", type_="check")
    op.create_check_constraint(
        "ck_task_reason",
        "review_tasks",
        "reason IN ('initial', 'escalation', 'appeal', 'tiebreak')",
    )
    op.create_table(
        "reviewer_pairs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_by_id", sa.Uuid(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("reviewer_id < partner_id", name="ck_pair_ordered"),
        sa.ForeignKeyConstraint(["cleared_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["credential_id"], ["credentials.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["partner_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "organisation_id", "reviewer_id", "partner_id", name="uq_reviewer_pair"
        ),
    )
    op.create_index(
        op.f("ix_reviewer_pairs_organisation_id"),
        "reviewer_pairs",
        ["organisation_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reviewer_pairs_reviewer_id"), "reviewer_pairs", ["reviewer_id"], unique=False
    )
    op.create_index(
        op.f("ix_reviewer_pairs_partner_id"), "reviewer_pairs", ["partner_id"], unique=False
    )
    op.create_table(
        "submission_exclusions",
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("submission_id", "reviewer_id"),
    )


def downgrade() -> None:
    op.drop_table("submission_exclusions")
    op.drop_index(op.f("ix_reviewer_pairs_partner_id"), table_name="reviewer_pairs")
    op.drop_index(op.f("ix_reviewer_pairs_reviewer_id"), table_name="reviewer_pairs")
    op.drop_index(op.f("ix_reviewer_pairs_organisation_id"), table_name="reviewer_pairs")
    op.drop_table("reviewer_pairs")
    op.drop_constraint("ck_task_reason", "review_tasks", type_="check")
    op.create_check_constraint(
        "ck_task_reason", "review_tasks", "reason IN ('initial', 'escalation', 'appeal')"
    )
    op.drop_column("review_tasks", "min_trust")
    op.drop_constraint("ck_quality_tiebreak", "quality_policies", type_="check")
    op.drop_column("quality_policies", "collusion_guard")
    op.drop_column("quality_policies", "trust_weighted")
    op.drop_column("quality_policies", "tiebreak_min_trust")
    op.drop_column("quality_policies", "tiebreak_peer")
