"""calibration, known-answer checks, trust and escalation policy (issue 7)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 07:00:00
"""

from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reserved in the revision chain so that parallel work lands in a fixed order; filled by its issue.
    pass


def downgrade() -> None:
    pass
