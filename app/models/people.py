"""Organisations, people, their roles in each organisation, their signed-in sessions and
their API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel

from app.models.base import check_in, created_field, id_field, new_id, when_field


class Role(StrEnum):
    earner = "earner"
    reviewer = "reviewer"
    expert = "expert"
    coordinator = "coordinator"
    recognizer = "recognizer"


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"

    id: uuid.UUID = id_field()
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    url: str | None = Field(default=None, max_length=500)
    email: str | None = Field(default=None, max_length=320)
    description: str = ""
    created_at: datetime = created_field()


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        # Emails are stored normalised; the index makes "one account per address" hold.
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
        CheckConstraint("live_claims >= 0", name="ck_user_live_claims"),
    )

    id: uuid.UUID = id_field()
    email: str = Field(max_length=320)
    name: str = Field(max_length=200)
    password_hash: str
    school: str | None = Field(default=None, max_length=200)
    is_active: bool = True
    # Bumped on log-out-everywhere and password change: older session cookies stop working.
    session_version: int = 1
    # The stable subject of this person's badges (urn:uuid), never their database id.
    subject_id: uuid.UUID = Field(default_factory=new_id, unique=True)
    created_at: datetime = created_field()
    last_login_at: datetime | None = when_field()
    # Tasks this person holds in state 'claimed', kept by a trigger on review_tasks (which
    # also refuses a claim past MCX_MAX_LIVE_CLAIMS); never written by the application.
    live_claims: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Membership(SQLModel, table=True):
    """One role of one person in one organisation; a person can hold many."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "organisation_id", "role", name="uq_membership"),
        check_in("role", Role, "ck_membership_role"),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", ondelete="CASCADE")
    role: str = Field(max_length=20)
    suspended_at: datetime | None = when_field()
    suspension_reason: str | None = None
    created_at: datetime = created_field()


class ApiToken(SQLModel, table=True):
    """A personal token for the JSON API; only its sha256 is stored."""

    __tablename__ = "api_tokens"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    # The first characters, shown in lists so people can tell tokens apart.
    prefix: str = Field(max_length=16)
    created_at: datetime = created_field()
    last_used_at: datetime | None = when_field()
    revoked_at: datetime | None = when_field()


class CookieSession(SQLModel, table=True):
    """One signed-in session: the session cookie names this row's id, and only while the row
    exists does the cookie name a signed-in person. Log-out deletes it, so a copy of the
    cookie stops working too; rows unseen for the cookie's whole age are pruned."""

    __tablename__ = "cookie_sessions"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    created_at: datetime = created_field()
    # Last used, to the hour, written in batches off the request path (app.auth).
    seen_at: datetime = created_field()
