"""Recognition lists, the read side: which organisations (a state, a district) recognise a
credential and for what credit, each list as rows for its page and its CSV / JSON export, and
the credit an award earns under a list's rules (for app/reports.py). Writes live in
app/actions/recognition.py."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Credential, CreditType, Organisation, Recognition

CREDIT_LABEL = {
    CreditType.pd_hours: "PD hours",
    CreditType.ceu: "CEUs",
    CreditType.licence_renewal: "licence-renewal hours",
}
EXPORT_COLUMNS = [
    "credential_id",
    "credential",
    "issuer",
    "credit_type",
    "amount",
    "effective_from",
    "effective_to",
    "note",
]


def credit_text(credit_type: str, amount: Decimal) -> str:
    return f"{format(amount.normalize(), 'f')} {CREDIT_LABEL.get(CreditType(credit_type))}"


def applies(rule: Recognition, day: date) -> bool:
    """Whether the rule counts an award issued on `day` (both ends inclusive)."""
    return rule.effective_from <= day and (rule.effective_to is None or day <= rule.effective_to)


async def of_credential(session: AsyncSession, credential_id: uuid.UUID) -> list[dict[str, Any]]:
    """Who recognises this credential and for what, for its page (current and past rules)."""
    rows = (
        await session.exec(
            select(Recognition, Organisation)
            .join(Organisation, col(Organisation.id) == col(Recognition.organisation_id))
            .where(Recognition.credential_id == credential_id)
            .order_by(col(Organisation.name))
        )
    ).all()
    today = datetime.now(UTC).date()
    return [
        {
            "organisation": organisation.name,
            "organisation_slug": organisation.slug,
            "credit": credit_text(rule.credit_type, rule.amount),
            "credit_type": rule.credit_type,
            "amount": str(rule.amount),
            "effective_from": rule.effective_from.isoformat(),
            "effective_to": rule.effective_to.isoformat() if rule.effective_to else None,
            "note": rule.note,
            "current": applies(rule, today),
        }
        for rule, organisation in rows
    ]


async def list_rows(session: AsyncSession, organisation_id: uuid.UUID) -> list[dict[str, Any]]:
    """An organisation's list, in EXPORT_COLUMNS, by credential title."""
    rows = (
        await session.exec(
            select(Recognition, Credential, Organisation.name)
            .join(Credential, col(Credential.id) == col(Recognition.credential_id))
            .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
            .where(Recognition.organisation_id == organisation_id)
            .order_by(col(Credential.title), col(Credential.id))
        )
    ).all()
    return [
        {
            "credential_id": str(credential.id),
            "credential": credential.title,
            "issuer": issuer,
            "credit_type": rule.credit_type,
            "amount": str(rule.amount),
            "effective_from": rule.effective_from.isoformat(),
            "effective_to": rule.effective_to.isoformat() if rule.effective_to else "",
            "note": rule.note,
        }
        for rule, credential, issuer in rows
    ]


async def rules_for(
    session: AsyncSession, organisation_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[Recognition, str]]]:
    """Credential id -> the rules of these organisations' lists, with the list's name."""
    rows = (
        await session.exec(
            select(Recognition, Organisation.name)
            .join(Organisation, col(Organisation.id) == col(Recognition.organisation_id))
            .where(col(Recognition.organisation_id).in_(organisation_ids))
        )
    ).all()
    rules: dict[uuid.UUID, list[tuple[Recognition, str]]] = {}
    for rule, name in rows:
        rules.setdefault(rule.credential_id, []).append((rule, name))
    return rules
