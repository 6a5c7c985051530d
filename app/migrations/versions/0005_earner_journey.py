"""drafts, study groups, coaching, nudges and evidence flags (issue 10)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 07:00:00
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reserved in the revision chain so that parallel work lands in a fixed order; filled by its issue.
    pass


def downgrade() -> None:
    pass
