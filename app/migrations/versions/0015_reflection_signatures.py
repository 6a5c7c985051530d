"""reflection signatures: each reflection's MinHash kept on its artifact, so that the integrity
scan compares stored signatures instead of hashing every other earner's text again

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09 10:04:31.502117
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and filled lazily: the first scan that compares a reflection computes it.
    op.add_column("artifacts", sa.Column("minhash", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("artifacts", "minhash")
