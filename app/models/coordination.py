"""What coordinators run besides the catalogue: pilot waitlists and invitations to review."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.base import created_field, id_field, when_field


class WaitlistEntry(SQLModel, table=True):
    """An earner waiting for a spot in a full pilot, in the order they joined."""

    __tablename__ = "pilot_waitlist"
    __table_args__ = (
        UniqueConstraint("credential_id", "user_id", name="uq_waitlist_person"),
        Index("ix_waitlist_order", "credential_id", "created_at"),
    )

    id: uuid.UUID = id_field()
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    created_at: datetime = created_field()
    # Told that a spot is free (once); spots stay first come, first served.
    notified_at: datetime | None = when_field()


class Invitation(SQLModel, table=True):
    """A link that lets an invited person set their password; only its sha256 is stored."""

    __tablename__ = "invitations"
    __table_args__ = (
        Index(
            "uq_invitation_open",
            "user_id",
            unique=True,
            postgresql_where=text("accepted_at IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", ondelete="CASCADE")
    invited_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = created_field()
    expires_at: datetime = created_field()
    accepted_at: datetime | None = when_field()
