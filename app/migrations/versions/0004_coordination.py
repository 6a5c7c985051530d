"""authoring, pilots, people and queue health (issue 5)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 07:00:00
"""

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reserved in the revision chain so that parallel work lands in a fixed order; filled by its issue.
    pass


def downgrade() -> None:
    pass
