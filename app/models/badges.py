"""Awards: a badge issued to a person for a credential or a completed stack."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from app.models.base import created_field, id_field, when_field


class Award(SQLModel, table=True):
    __tablename__ = "awards"
    __table_args__ = (
        CheckConstraint(
            "(credential_id IS NULL) <> (stack_id IS NULL)", name="ck_award_one_achievement"
        ),
        CheckConstraint(
            "revoked_at IS NULL OR revocation_reason IS NOT NULL", name="ck_award_revocation"
        ),
        Index(
            "uq_award_credential_live",
            "user_id",
            "credential_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL AND credential_id IS NOT NULL"),
        ),
        Index(
            "uq_award_stack_live",
            "user_id",
            "stack_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL AND stack_id IS NOT NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    credential_id: uuid.UUID | None = Field(default=None, foreign_key="credentials.id")
    stack_id: uuid.UUID | None = Field(default=None, foreign_key="stacks.id")
    outcome_id: uuid.UUID | None = Field(default=None, foreign_key="outcomes.id")
    # Salt for the hashed recipient identity in the Open Badges assertion.
    recipient_salt: str = Field(max_length=64)
    issued_at: datetime = created_field()
    expires_at: datetime | None = when_field()
    revoked_at: datetime | None = when_field()
    revocation_reason: str | None = None
