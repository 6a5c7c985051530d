"""A written reflection's word range: submission_criteria.max_words (min_words exists).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("submission_criteria", sa.Column("max_words", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("submission_criteria", "max_words")
