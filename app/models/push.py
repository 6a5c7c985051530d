"""Web Push: the server's VAPID keys, people's subscribed devices, their choices, and every
push MCX queued or sent (the record)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, LargeBinary, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.models.base import check_in, created_field, id_field, when_field


class VapidKey(SQLModel, table=True):
    """One P-256 key pair the push services know MCX by (RFC 8292). The private half is sealed
    under MCX_SECRET_KEY; a retired key still signs for the devices that subscribed with it."""

    __tablename__ = "push_vapid_keys"
    __table_args__ = (
        # At most one current key: two processes making the first key at once agree on one.
        Index(
            "uq_push_vapid_current",
            text("(retired_at IS NULL)"),
            unique=True,
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    # The uncompressed public point, base64url without padding: the applicationServerKey.
    public_key: str = Field(max_length=100, unique=True)
    private_encrypted: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = created_field()
    retired_at: datetime | None = when_field()


class PushSubscription(SQLModel, table=True):
    """One device of one person, as its browser's PushManager gave it."""

    __tablename__ = "push_subscriptions"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    endpoint: str = Field(max_length=1000, unique=True)
    p256dh: str = Field(max_length=120)
    auth: str = Field(max_length=40)
    # The key the browser subscribed with: the push service accepts only that key's signature.
    vapid_key_id: uuid.UUID = Field(foreign_key="push_vapid_keys.id", ondelete="CASCADE")
    browser: str = Field(default="", max_length=100)
    created_at: datetime = created_field()
    last_sent_at: datetime | None = when_field()


class PushChoice(SQLModel, table=True):
    """One person's answer for one kind of push; no row means the kind's default."""

    __tablename__ = "push_choices"

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    category: str = Field(max_length=30, primary_key=True)
    enabled: bool


class PushState(StrEnum):
    queued = "queued"  # waiting for the worker (or its next retry)
    held = "held"  # made in the person's quiet hours; sent when they end, if still fresh
    sent = "sent"  # the push service took it (201)
    gone = "gone"  # the push service said the subscription no longer exists (404/410)
    failed = "failed"  # refused, or still failing after the last retry
    expired = "expired"  # stale before it could go (held past its time to live)


class PushMessage(SQLModel, table=True):
    """One push to one device: what was said, why (`key`), and what became of it."""

    __tablename__ = "push_messages"
    __table_args__ = (
        check_in("state", PushState, "ck_push_message_state"),
        # Each reason reaches each device once, however often the scan sees it.
        UniqueConstraint("subscription_id", "key", name="uq_push_message_once"),
        Index("ix_push_message_user", "user_id", "created_at"),
        Index("ix_push_message_held", "state", postgresql_where=text("state = 'held'")),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    subscription_id: uuid.UUID | None = Field(
        default=None, foreign_key="push_subscriptions.id", ondelete="SET NULL"
    )
    kind: str = Field(max_length=40)
    key: str = Field(max_length=200)
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=500)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    ttl: int
    urgency: str = Field(max_length=10)
    topic: str | None = Field(default=None, max_length=32)
    state: str = Field(default=PushState.queued, max_length=10)
    attempts: int = 0
    last_status: int | None = None
    error: str = Field(default="", max_length=500)
    created_at: datetime = created_field()
    sent_at: datetime | None = when_field()
    opened_at: datetime | None = when_field()


class PushPoolBatch(SQLModel, table=True):
    """When the open work of one (credential, pool) was last announced, and up to which task."""

    __tablename__ = "push_pool_batches"

    credential_id: uuid.UUID = Field(
        foreign_key="credentials.id", ondelete="CASCADE", primary_key=True
    )
    pool: str = Field(max_length=10, primary_key=True)
    pushed_at: datetime = created_field()
    seen_until: datetime = created_field()


class PushCursor(SQLModel, table=True):
    """How far a scan has read a growing table (the notifications' ids)."""

    __tablename__ = "push_cursors"

    name: str = Field(max_length=30, primary_key=True)
    position: int = Field(default=0, sa_type=BigInteger)
