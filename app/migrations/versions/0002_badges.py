"""issuer keys, status lists and badge documents (issue 6)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE award_status_index_seq MINVALUE 0 START 0")
    op.add_column(
        "awards",
        sa.Column(
            "status_index",
            sa.Integer(),
            server_default=sa.text("nextval('award_status_index_seq')"),
            nullable=False,
        ),
    )
    op.create_unique_constraint("uq_award_status_index", "awards", ["status_index"])
    op.add_column("awards", sa.Column("revoked_by_id", sa.Uuid(), nullable=True))
    op.add_column(
        "awards", sa.Column("evidence_note", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
    )
    op.add_column("awards", sa.Column("issued_by_id", sa.Uuid(), nullable=True))
    op.add_column(
        "awards", sa.Column("expiry_notified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_foreign_key("awards_revoked_by_id_fkey", "awards", "users", ["revoked_by_id"], ["id"])
    op.create_foreign_key("awards_issued_by_id_fkey", "awards", "users", ["issued_by_id"], ["id"])
    op.create_table(
        "issuer_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("alg", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("public_jwk", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("private_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("alg IN ('ES256', 'Ed25519')", name="ck_issuer_key_alg"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kid"),
    )
    op.create_index(
        op.f("ix_issuer_keys_organisation_id"), "issuer_keys", ["organisation_id"], unique=False
    )
    op.create_index(
        "uq_issuer_key_active",
        "issuer_keys",
        ["organisation_id", "alg"],
        unique=True,
        postgresql_where=sa.text("retired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_issuer_key_active", table_name="issuer_keys")
    op.drop_index(op.f("ix_issuer_keys_organisation_id"), table_name="issuer_keys")
    op.drop_table("issuer_keys")
    op.drop_constraint("awards_issued_by_id_fkey", "awards", type_="foreignkey")
    op.drop_constraint("awards_revoked_by_id_fkey", "awards", type_="foreignkey")
    op.drop_column("awards", "expiry_notified_at")
    op.drop_column("awards", "issued_by_id")
    op.drop_column("awards", "evidence_note")
    op.drop_column("awards", "revoked_by_id")
    op.drop_constraint("uq_award_status_index", "awards", type_="unique")
    op.drop_column("awards", "status_index")
    op.execute("DROP SEQUENCE award_status_index_seq")
