"""classroom media: probes, renditions, observations, moments (issue 19)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 08:28:24
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_files",
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("probe", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("measures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("rendition", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("rendition_bytes", sa.Integer(), nullable=True),
        sa.Column("poster", sa.Boolean(), nullable=False),
        sa.Column("thumbnails", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('video', 'audio')", name="ck_media_kind"),
        sa.CheckConstraint(
            "state IN ('pending', 'working', 'ready', 'failed')", name="ck_media_state"
        ),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="ck_media_progress"),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "review_moments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("artifact_id", sa.Uuid(), nullable=False),
        sa.Column("at_ms", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Uuid(), nullable=True),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("at_ms >= 0", name="ck_moment_at"),
        sa.CheckConstraint("char_length(comment) BETWEEN 1 AND 2000", name="ck_moment_comment"),
        sa.ForeignKeyConstraint(["artifact_id"], ["artifacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["criterion_id"], ["rubric_criteria.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_review_moments_review_id"), "review_moments", ["review_id"], unique=False
    )
    op.add_column("submission_criteria", sa.Column("min_seconds", sa.Integer(), nullable=True))
    op.add_column("submission_criteria", sa.Column("max_seconds", sa.Integer(), nullable=True))
    op.add_column(
        "submission_criteria",
        sa.Column("observations_off", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
    )
    op.create_check_constraint(
        "ck_submission_criterion_seconds",
        "submission_criteria",
        "min_seconds IS NULL OR max_seconds IS NULL OR min_seconds <= max_seconds",
    )


def downgrade() -> None:
    op.drop_constraint("ck_submission_criterion_seconds", "submission_criteria")
    op.drop_column("submission_criteria", "observations_off")
    op.drop_column("submission_criteria", "max_seconds")
    op.drop_column("submission_criteria", "min_seconds")
    op.drop_index(op.f("ix_review_moments_review_id"), table_name="review_moments")
    op.drop_table("review_moments")
    op.drop_table("media_files")
