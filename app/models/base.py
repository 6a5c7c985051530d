"""Shared pieces of the tables: ids, UTC timestamps and enum check constraints."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def id_field() -> uuid.UUID:
    return Field(default_factory=new_id, primary_key=True)


def created_field() -> datetime:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


def when_field(*, index: bool = False) -> datetime | None:
    """A nullable moment in time, always timezone-aware."""
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=True, index=index)


def check_in(column: str, values: type[StrEnum], name: str) -> CheckConstraint:
    """A CHECK that `column` holds one of the enum's values, so the database guards states too."""
    listed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)
