"""authoring, pilots, people and queue health (issue 5)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every change of a submission's state lands in the audit log, whichever code path made it
# (earner, worker, reviewer, appeal ruling, or a hand-written UPDATE): the database records it.
AUDIT_FUNCTION = """
CREATE OR REPLACE FUNCTION mcx_audit_submission_state() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (actor_id, action, subject_type, subject_id, data, created_at)
        VALUES (NULL, 'submission.state', 'submission', NEW.id::text,
                jsonb_build_object('from', NULL, 'to', NEW.state), now());
    ELSIF NEW.state IS DISTINCT FROM OLD.state THEN
        INSERT INTO audit_log (actor_id, action, subject_type, subject_id, data, created_at)
        VALUES (NULL, 'submission.state', 'submission', NEW.id::text,
                jsonb_build_object('from', OLD.state, 'to', NEW.state), now());
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
AUDIT_TRIGGER = """
CREATE TRIGGER tr_submission_state_audit
AFTER INSERT OR UPDATE OF state ON submissions
FOR EACH ROW EXECUTE FUNCTION mcx_audit_submission_state()
"""


def upgrade() -> None:
    op.add_column("credentials", sa.Column("target_hours", sa.Integer(), nullable=True))
    op.create_check_constraint(
        "ck_credential_target_hours",
        "credentials",
        "target_hours IS NULL OR target_hours BETWEEN 1 AND 2160",
    )
    op.create_table(
        "pilot_waitlist",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["credential_id"], ["credentials.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id", "user_id", name="uq_waitlist_person"),
    )
    op.create_index(
        "ix_waitlist_order", "pilot_waitlist", ["credential_id", "created_at"], unique=False
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=True),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        "uq_invitation_open",
        "invitations",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("accepted_at IS NULL"),
    )
    op.execute(AUDIT_FUNCTION)
    op.execute(AUDIT_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS tr_submission_state_audit ON submissions")
    op.execute("DROP FUNCTION IF EXISTS mcx_audit_submission_state()")
    op.drop_index("uq_invitation_open", table_name="invitations")
    op.drop_table("invitations")
    op.drop_index("ix_waitlist_order", table_name="pilot_waitlist")
    op.drop_table("pilot_waitlist")
    op.drop_constraint("ck_credential_target_hours", "credentials", type_="check")
    op.drop_column("credentials", "target_hours")
