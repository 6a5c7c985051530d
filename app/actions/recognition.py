"""Recognizers keep their organisation's list of recognised credentials: the credit each
counts for (PD hours, CEUs or licence-renewal hours), from and until when, and a note.
Every change is audited (read side: app/recognition.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access
from app.actions import catalog
from app.errors import ActionError, not_found
from app.models import AuditEntry, Credential, CreditType, Organisation, Recognition, Role, User
from app.runtime import Runtime

MAX_AMOUNT = Decimal("9999.99")


@dataclass(frozen=True)
class Rule:
    credit_type: str
    amount: Decimal
    effective_from: date
    effective_to: date | None = None
    note: str = ""


async def recognizing_organisation(session: AsyncSession, user: User, slug: str) -> Organisation:
    """An organisation this person recognizes for (role recognizer); anyone else: 404."""
    organisation = await catalog.organisation_by_slug(session, slug)
    if organisation is None or not await access.has_role(
        session, user, Role.recognizer, organisation.id
    ):
        raise not_found("That organisation")
    return organisation


def _check(rule: Rule) -> Rule:
    if rule.credit_type not in {c.value for c in CreditType}:
        raise ActionError("bad_credit", "Credit: PD hours, CEUs or licence-renewal hours.", 422)
    if not (Decimal(0) <= rule.amount <= MAX_AMOUNT) or rule.amount != round(rule.amount, 2):
        raise ActionError("bad_amount", "Amount: 0 to 9999.99, at most two decimals.", 422)
    if rule.effective_to is not None and rule.effective_to < rule.effective_from:
        raise ActionError("bad_dates", "Until: on or after the start date.", 422)
    note = rule.note.replace("\x00", " ").strip()
    if len(note) > 500:
        raise ActionError("too_long", "Keep the note under 500 characters.", 422)
    return Rule(rule.credit_type, rule.amount, rule.effective_from, rule.effective_to, note)


async def recognise(
    runtime: Runtime, recognizer: User, organisation_slug: str, credential_id: uuid.UUID, rule: Rule
) -> Recognition:
    """Add a credential to the list, or change its rule (one rule per credential)."""
    rule = _check(rule)
    async with runtime.sessions() as session:
        organisation = await recognizing_organisation(session, recognizer, organisation_slug)
        credential = await session.get(Credential, credential_id)
        if credential is None or credential.status == "draft":
            raise not_found("That credential")
        found = (
            await session.exec(
                select(Recognition)
                .where(Recognition.organisation_id == organisation.id)
                .where(Recognition.credential_id == credential.id)
                .with_for_update()
            )
        ).first()
        entry = found or Recognition(
            organisation_id=organisation.id,
            credential_id=credential.id,
            credit_type=rule.credit_type,
            amount=rule.amount,
            effective_from=rule.effective_from,
        )
        entry.credit_type = rule.credit_type
        entry.amount = rule.amount
        entry.effective_from = rule.effective_from
        entry.effective_to = rule.effective_to
        entry.note = rule.note
        entry.updated_at = datetime.now(UTC)
        entry.updated_by_id = recognizer.id
        session.add(entry)
        session.add(
            AuditEntry(
                actor_id=recognizer.id,
                action="recognition.changed" if found else "recognition.added",
                subject_type="credential",
                subject_id=str(credential.id),
                data={
                    "organisation": organisation.slug,
                    "credit_type": rule.credit_type,
                    "amount": str(rule.amount),
                    "from": rule.effective_from.isoformat(),
                    "to": rule.effective_to.isoformat() if rule.effective_to else None,
                },
            )
        )
        try:
            await session.commit()
        except IntegrityError:
            # Another request added the same credential in between (the unique constraint
            # decided): nothing of this one was written.
            raise ActionError(
                "conflict", "The list changed at the same moment; try again.", 409
            ) from None
        await session.refresh(entry)
    return entry


async def withdraw(
    runtime: Runtime, recognizer: User, organisation_slug: str, credential_id: uuid.UUID
) -> None:
    """Take a credential off the list (past reports then no longer count it)."""
    async with runtime.sessions() as session:
        organisation = await recognizing_organisation(session, recognizer, organisation_slug)
        entry = (
            await session.exec(
                select(Recognition)
                .where(Recognition.organisation_id == organisation.id)
                .where(Recognition.credential_id == credential_id)
            )
        ).first()
        if entry is None:
            raise not_found("That recognition")
        await session.delete(entry)
        session.add(
            AuditEntry(
                actor_id=recognizer.id,
                action="recognition.withdrawn",
                subject_type="credential",
                subject_id=str(credential_id),
                data={"organisation": organisation.slug},
            )
        )
        await session.commit()
