"""The catalogue's own quality: earners' ratings of credentials, review panels that certify a
credential's design against the quality rubric, and recognizers' lists of recognised
credentials with the credit each counts for."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import check_in, created_field, id_field, when_field


class CreditType(StrEnum):
    pd_hours = "pd_hours"
    ceu = "ceu"
    licence_renewal = "licence_renewal"


class CredentialRating(SQLModel, table=True):
    """One earner's 1-5 stars on a credential they finished, a short text, maybe the
    issuer's one public answer; abusive text can be flagged, and hidden by a coordinator."""

    __tablename__ = "credential_ratings"
    __table_args__ = (
        UniqueConstraint("credential_id", "earner_id", name="uq_credential_rating_earner"),
        CheckConstraint("clarity BETWEEN 1 AND 5", name="ck_credential_rating_clarity"),
        CheckConstraint("relevance BETWEEN 1 AND 5", name="ck_credential_rating_relevance"),
        CheckConstraint("workload BETWEEN 1 AND 5", name="ck_credential_rating_workload"),
        CheckConstraint("feedback BETWEEN 1 AND 5", name="ck_credential_rating_feedback"),
    )

    id: uuid.UUID = id_field()
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE", index=True)
    earner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    clarity: int
    relevance: int
    workload: int
    feedback: int
    text: str = Field(default="", max_length=1000)
    created_at: datetime = created_field()
    answer: str | None = Field(default=None, max_length=1000)
    answered_at: datetime | None = when_field()
    answered_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    flagged_at: datetime | None = when_field()
    flag_reason: str = Field(default="", max_length=300)
    flagged_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    # Moderation: a coordinator hid the text (stars still count) or kept it after a flag.
    hidden_at: datetime | None = when_field()
    moderated_at: datetime | None = when_field()
    moderated_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )


class CredentialPanel(SQLModel, table=True):
    """A panel an organisation convened to review one credential's design against a
    version of the quality rubric; decided once every panellist has scored."""

    __tablename__ = "credential_panels"
    __table_args__ = (CheckConstraint("quality_rubric_version >= 1", name="ck_panel_rubric"),)

    id: uuid.UUID = id_field()
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE", index=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", ondelete="CASCADE")
    name: str = Field(max_length=200)
    quality_rubric_version: int
    convened_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    created_at: datetime = created_field()
    decided_at: datetime | None = when_field()
    passed: bool | None = None
    alpha: float | None = None
    # sha256 of the credential's rubric and submission criteria when decided: the mark lasts
    # while they stay the same (app.panels.fingerprint).
    fingerprint: str = Field(default="", max_length=64)


class PanelMember(SQLModel, table=True):
    __tablename__ = "panel_members"
    __table_args__ = (UniqueConstraint("panel_id", "user_id", name="uq_panel_member"),)

    id: uuid.UUID = id_field()
    panel_id: uuid.UUID = Field(foreign_key="credential_panels.id", ondelete="CASCADE", index=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    submitted_at: datetime | None = when_field()


class PanelScore(SQLModel, table=True):
    """One panellist's level on one component of the quality rubric, with a comment."""

    __tablename__ = "panel_scores"
    __table_args__ = (
        UniqueConstraint("panel_id", "user_id", "component", name="uq_panel_score"),
        CheckConstraint("level BETWEEN 0 AND 3", name="ck_panel_score_level"),
    )

    id: uuid.UUID = id_field()
    panel_id: uuid.UUID = Field(foreign_key="credential_panels.id", ondelete="CASCADE", index=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    component: str = Field(max_length=40)
    level: int
    comment: str = Field(default="", max_length=2000)


class Recognition(SQLModel, table=True):
    """A recognizer organisation counts a credential for credit, within dates, with a note."""

    __tablename__ = "recognitions"
    __table_args__ = (
        UniqueConstraint("organisation_id", "credential_id", name="uq_recognition"),
        check_in("credit_type", CreditType, "ck_recognition_credit_type"),
        CheckConstraint("amount >= 0", name="ck_recognition_amount"),
        CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from", name="ck_recognition_dates"
        ),
    )

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", ondelete="CASCADE")
    credential_id: uuid.UUID = Field(foreign_key="credentials.id", ondelete="CASCADE", index=True)
    credit_type: str = Field(max_length=20)
    amount: Decimal = Field(sa_type=Numeric(6, 2))
    effective_from: date
    effective_to: date | None = None
    note: str = Field(default="", max_length=500)
    updated_at: datetime = created_field()
    updated_by_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
