"""Badges outside the review flow: a coordinator revokes one (with a reason) or issues many."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.access import access_award_as_coordinator, is_coordinator_of
from app.actions.outcomes import complete_stacks
from app.badges import keys, validity
from app.errors import ActionError
from app.events import notify
from app.models import AuditEntry, Award, Credential, Stack, User
from app.runtime import Runtime

MAX_REASON = 500
MAX_ROWS = 500
MAX_NOTE = 2000
EXPIRY_NOTICE_DAYS = 30


async def issue_award(
    session: AsyncSession,
    *,
    earner: User,
    credential: Credential,
    issued_by: User | None = None,
    evidence_note: str | None = None,
    expires_at: datetime | None = None,
    issued_at: datetime | None = None,
) -> Award:
    """Add (not commit) an award of `credential` to `earner`, made outside a review; it
    expires at `expires_at`, else after the credential's validity period, if it has one."""
    issued_at = issued_at or datetime.now(UTC)
    award = Award(
        user_id=earner.id,
        credential_id=credential.id,
        recipient_salt=secrets.token_hex(16),
        issued_at=issued_at,
        expires_at=expires_at or validity.expires_at(credential.validity_months, issued_at),
        evidence_note=evidence_note,
        issued_by_id=issued_by.id if issued_by else None,
    )
    session.add(award)
    session.add(
        AuditEntry(
            actor_id=issued_by.id if issued_by else None,
            action="award.issued",
            subject_type="award",
            subject_id=str(award.id),
        )
    )
    return award


async def revoke_award(
    runtime: Runtime, coordinator: User, award_id: uuid.UUID, reason: str
) -> Award:
    """Revoke a badge for a stated reason; its assertion answers 410 and its status bit is set."""
    reason = " ".join(reason.split())
    if not 1 <= len(reason) <= MAX_REASON:
        raise ActionError(
            "invalid_reason", f"Say why the badge is revoked (1 to {MAX_REASON} characters)."
        )
    async with runtime.sessions() as session:
        award = await access_award_as_coordinator(session, coordinator, award_id)
        if award.revoked_at is not None:
            raise ActionError("already_revoked", "This badge was already revoked.", 409)
        award.revoked_at = datetime.now(UTC)
        award.revocation_reason = reason
        award.revoked_by_id = coordinator.id
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="award.revoked",
                subject_type="award",
                subject_id=str(award.id),
                data={"reason": reason},
            )
        )
        await session.commit()
    # After commit: tell the earner, in words, that the badge was revoked and why.
    await notify(
        runtime.engine,
        runtime.redis,
        runtime.settings,
        award.user_id,
        "badge.revoked",
        {"award_id": str(award.id), "reason": award.revocation_reason or ""},
    )
    return award


async def rotate_issuer_keys(runtime: Runtime, organisation_id: uuid.UUID) -> list[str]:
    """New signing keys (ES256 and Ed25519); the old ones stay published so earlier badges
    still verify. Returns the new key ids."""
    async with runtime.sessions() as session:
        made = await keys.rotate_keys(session, runtime.settings.secret_key, organisation_id)
        session.add(
            AuditEntry(
                action="issuer_key.rotated",
                subject_type="organisation",
                subject_id=str(organisation_id),
                data={"kids": [key.kid for key in made]},
            )
        )
        await session.commit()
        return [key.kid for key in made]


@dataclass
class RowReport:
    line: int
    email: str
    credential: str
    ok: bool
    message: str
    award_id: uuid.UUID | None = None


async def bulk_issue(runtime: Runtime, coordinator: User, text: str) -> list[RowReport]:
    """Issue badges for work done outside MCX from CSV rows `email,credential,evidence note
    [,expires YYYY-MM-DD]` (a header row is allowed). Every row is reported; good rows are
    issued together, bad rows change nothing."""
    rows = list(csv.reader(io.StringIO(text.replace("\x00", ""))))
    if rows and rows[0] and rows[0][0].strip().lower() == "email":
        rows = rows[1:]
        first_line = 2
    else:
        first_line = 1
    if not rows:
        raise ActionError("empty_csv", "The CSV has no rows: one line per badge, email first.")
    if len(rows) > MAX_ROWS:
        raise ActionError("too_many_rows", f"Issue at most {MAX_ROWS} badges at a time.")
    reports: list[RowReport] = []
    issued: list[tuple[Award, str]] = []
    async with runtime.sessions() as session:
        seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
        for offset, row in enumerate(rows):
            line = first_line + offset
            if not any(cell.strip() for cell in row):
                continue
            report, made = await _issue_row(session, coordinator, line, row, seen)
            reports.append(report)
            issued.extend(made)
        await session.commit()
    for award, title in issued:
        await notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            award.user_id,
            "badge.awarded",
            {"award_id": str(award.id), "title": title},
        )
    return reports


async def _issue_row(
    session: AsyncSession,
    coordinator: User,
    line: int,
    row: list[str],
    seen: set[tuple[uuid.UUID, uuid.UUID]],
) -> tuple[RowReport, list[tuple[Award, str]]]:
    cells = [cell.strip() for cell in row] + ["", "", "", ""]
    email, slug, note, expires = cells[0], cells[1], cells[2], cells[3]

    def refuse(message: str) -> tuple[RowReport, list[tuple[Award, str]]]:
        return RowReport(line, email, slug, False, message), []

    if len(row) > 4:
        return refuse("Too many columns: email, credential, evidence note, expires.")
    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return refuse("Not an email address.")
    if not note or len(note) > MAX_NOTE:
        return refuse(f"Describe the evidence (1 to {MAX_NOTE} characters).")
    expires_at = None
    if expires:
        try:
            expires_at = datetime.combine(date.fromisoformat(expires), time(), tzinfo=UTC)
        except ValueError:
            return refuse("The expiry date is not a date (YYYY-MM-DD).")
        if expires_at <= datetime.now(UTC):
            return refuse("The expiry date has already passed.")
    credentials = (
        await session.exec(
            select(Credential).where(Credential.slug == slug).where(Credential.status != "draft")
        )
    ).all()
    credential = None
    for candidate in credentials:
        if await is_coordinator_of(session, coordinator, candidate.organisation_id):
            credential = candidate
    if credential is None:
        return refuse(f"No published credential '{slug}' of an organisation you coordinate.")
    earner = (await session.exec(select(User).where(func.lower(User.email) == email))).first()
    if earner is None:
        return refuse("Nobody has an MCX account with this email; ask them to sign up first.")
    held = (
        await session.exec(
            select(Award.id)
            .where(Award.user_id == earner.id)
            .where(Award.credential_id == credential.id)
            .where(col(Award.revoked_at).is_(None))
        )
    ).first()
    if held is not None or (earner.id, credential.id) in seen:
        return refuse("This person already holds this badge.")
    seen.add((earner.id, credential.id))
    award = await issue_award(
        session,
        earner=earner,
        credential=credential,
        issued_by=coordinator,
        evidence_note=note,
        expires_at=expires_at,
    )
    await session.flush()
    report = RowReport(line, email, slug, True, f"Issued {credential.title}.", award.id)
    stacks = await complete_stacks(session, earner.id, credential.id, award.issued_at)
    if stacks:
        await session.flush()
        report.message += " Completes: " + ", ".join(title for _, title in stacks) + "."
    return report, [(award, credential.title), *stacks]


async def send_expiry_notices(runtime: Runtime) -> int:
    """Tell each earner once, 30 days ahead, that a badge will expire (re-licensure)."""
    now = datetime.now(UTC)
    async with runtime.sessions() as session:
        due = (
            await session.exec(
                select(Award)
                .where(col(Award.revoked_at).is_(None))
                .where(col(Award.expiry_notified_at).is_(None))
                .where(col(Award.expires_at) > now)
                .where(col(Award.expires_at) <= now + timedelta(days=EXPIRY_NOTICE_DAYS))
                .with_for_update(skip_locked=True)
            )
        ).all()
        titles: dict[uuid.UUID, str] = {}
        for award in due:
            award.expiry_notified_at = now
            achievement = (
                await session.get(Credential, award.credential_id)
                if award.credential_id
                else await session.get(Stack, award.stack_id)
            )
            titles[award.id] = achievement.title if achievement else "your"
        await session.commit()
    for award in due:
        await notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            award.user_id,
            "badge.expiring",
            {
                "award_id": str(award.id),
                "title": titles[award.id],
                "expires_at": award.expires_at.isoformat() if award.expires_at else "",
            },
        )
    return len(due)
