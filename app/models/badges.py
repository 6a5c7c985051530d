"""Awards (a badge issued to a person for a credential or a completed stack) and issuer keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Integer, LargeBinary, text
from sqlalchemy import UniqueConstraint as Unique
from sqlmodel import Field, SQLModel

from app.models.base import created_field, id_field, when_field

# Every award gets its own bit in its issuer's Bitstring Status List (OB 3.0 revocation), at a
# position drawn by mcx_status_index() (migration 0009): award_status_index_seq's next value,
# moved to a keyed pseudo-random place in its block, so positions never repeat nor reveal the
# order badges were issued in.


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
        Unique("status_index", name="uq_award_status_index"),
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
    revoked_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    # Position in the issuer's status list: random within its block, never repeated.
    status_index: int | None = Field(
        default=None,
        sa_column=Column(Integer, server_default=text("mcx_status_index()"), nullable=False),
    )
    # Awards issued by a coordinator for work done outside MCX (bulk issue) say so here.
    evidence_note: str | None = None
    issued_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    # The 30-days-ahead expiry notice went out (the job is idempotent on this).
    expiry_notified_at: datetime | None = when_field()


class IssuerKey(SQLModel, table=True):
    """One signing key pair of an organisation; the private half is encrypted at rest.

    Rotation retires a key (retired_at) but keeps it published, so badges signed with it
    still verify.
    """

    __tablename__ = "issuer_keys"
    __table_args__ = (
        CheckConstraint("alg IN ('ES256', 'Ed25519')", name="ck_issuer_key_alg"),
        Index(
            "uq_issuer_key_active",
            "organisation_id",
            "alg",
            unique=True,
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    alg: str = Field(max_length=10)
    # The RFC 7638 thumbprint of the public key: stable and unique.
    kid: str = Field(max_length=100, unique=True)
    public_jwk: str
    private_encrypted: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = created_field()
    retired_at: datetime | None = when_field()
