"""pair holds: a fast pass of a fellow reviewer's packet holds the pair off each other's work
until a second review confirms it as a flag or lifts it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 23:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "reviewer_pairs",
        sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("reviewer_pairs", "held")
