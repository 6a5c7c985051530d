"""People in a coordinator's organisations: invite reviewers and experts (an email list or a
CSV of email, name, school, roles) with a report of rows accepted and refused; accept an
invitation; certify an expert; suspend and reinstate a reviewer, with a reason.

There is no mail server: an invitation is a link the coordinator passes on; only its sha256
is stored, it works once, and expires after INVITE_DAYS.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access
from app.actions import accounts
from app.auth import forget, hash_password
from app.errors import ActionError, not_found
from app.models import AuditEntry, Invitation, Membership, Organisation, Role, User

INVITE_DAYS = 14
MAX_ROWS = 1000
INVITABLE = {Role.reviewer.value, Role.expert.value}
REVIEWING = (Role.reviewer, Role.expert)
MAX_REASON = 2000


@dataclass
class InviteReport:
    accepted: list[dict[str, str]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_invites(raw: str, default_roles: str = "reviewer") -> list[dict[str, str]]:
    """Rows from a CSV with a header (email, name, school, roles) or from a plain list of
    emails (one a line, or separated by commas); each row keeps its line number."""
    text = raw.replace("\r\n", "\n").strip()
    if not text:
        return []
    first = text.split("\n", 1)[0].lower()
    if "email" in [cell.strip() for cell in first.split(",")]:
        reader = csv.DictReader(io.StringIO(text))
        rows = []
        for number, row in enumerate(reader, start=2):
            rows.append(
                {
                    "line": str(number),
                    "email": (row.get("email") or "").strip(),
                    "name": (row.get("name") or "").strip(),
                    "school": (row.get("school") or "").strip(),
                    "roles": (row.get("roles") or "").strip() or default_roles,
                }
            )
        return rows
    emails = [e.strip() for e in re.split(r"[,\n;]+", text) if e.strip()]
    return [
        {"line": str(n), "email": e, "name": "", "school": "", "roles": default_roles}
        for n, e in enumerate(emails, start=1)
    ]


def _roles(raw: str) -> list[str]:
    wanted = [r.strip().lower() for r in re.split(r"[;|/ ]+", raw) if r.strip()]
    if not wanted:
        raise ValueError("give the roles: reviewer and/or expert")
    unknown = [r for r in wanted if r not in INVITABLE]
    if unknown:
        raise ValueError(f"unknown role '{unknown[0]}' (reviewer or expert)")
    return sorted(set(wanted))


async def _coordinated(
    session: AsyncSession, coordinator: User, organisation_id: uuid.UUID
) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or not await access.is_coordinator_of(
        session, coordinator, organisation_id
    ):
        raise not_found("That organisation")
    return organisation


async def invite_people(
    session: AsyncSession,
    coordinator: User,
    organisation_id: uuid.UUID,
    rows: list[dict[str, str]],
    base_url: str,
) -> InviteReport:
    """Every valid row is invited (a new account with an invitation link, or roles added to
    an existing account); every other row is reported with its reason. One transaction."""
    organisation = await _coordinated(session, coordinator, organisation_id)
    if len(rows) > MAX_ROWS:
        raise ActionError("too_many", f"Invite at most {MAX_ROWS} people at a time.", 422)
    report = InviteReport()
    seen: set[str] = set()
    now = datetime.now(UTC)
    for row in rows:
        line, raw_email = row["line"], row["email"]
        try:
            email = accounts.clean_email(raw_email)
            if email in seen:
                raise ValueError("this email appears earlier in the list")
            roles = _roles(row["roles"])
            name = row["name"] or email.split("@")[0]
            name = accounts.clean_name(name)
            school = row["school"][:200] or None
            if len(row["school"]) > 200:
                raise ValueError("school: at most 200 characters")
        except (ValueError, ActionError) as exc:
            reason = exc.detail if isinstance(exc, ActionError) else str(exc)
            report.refused.append({"line": line, "email": raw_email, "reason": reason})
            continue
        seen.add(email)
        user = (await session.exec(select(User).where(func.lower(User.email) == email))).first()
        link = ""
        if user is None:
            user = User(
                email=email,
                name=name,
                school=school,
                # Nobody knows this password: the invitation link sets a real one.
                password_hash=hash_password(secrets.token_urlsafe(32)),
            )
            session.add(user)
            await session.flush()
            token = secrets.token_urlsafe(32)
            session.add(
                Invitation(
                    user_id=user.id,
                    organisation_id=organisation.id,
                    invited_by_id=coordinator.id,
                    token_hash=_digest(token),
                    expires_at=now + timedelta(days=INVITE_DAYS),
                )
            )
            link = f"{base_url}/invite/{token}"
        held = set(
            (
                await session.exec(
                    select(Membership.role)
                    .where(Membership.user_id == user.id)
                    .where(Membership.organisation_id == organisation.id)
                )
            ).all()
        )
        added = [role for role in roles if role not in held]
        for role in added:
            session.add(Membership(user_id=user.id, organisation_id=organisation.id, role=role))
        report.accepted.append(
            {
                "line": line,
                "email": email,
                "roles": ", ".join(roles),
                "outcome": "invited" if link else ("roles added" if added else "already a member"),
                "link": link,
            }
        )
    session.add(
        AuditEntry(
            actor_id=coordinator.id,
            action="people.invited",
            subject_type="organisation",
            subject_id=str(organisation.id),
            data={
                "accepted": [r["email"] for r in report.accepted],
                "refused": [{"line": r["line"], "reason": r["reason"]} for r in report.refused],
            },
        )
    )
    await session.commit()
    return report


async def invitation_for(session: AsyncSession, token: str) -> tuple[Invitation, User]:
    """The open, unexpired invitation for this link; 404 otherwise."""
    invitation = (
        await session.exec(select(Invitation).where(Invitation.token_hash == _digest(token)))
    ).first()
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.expires_at < datetime.now(UTC)
    ):
        raise not_found("That invitation")
    user = await session.get(User, invitation.user_id)
    assert user is not None
    return invitation, user


async def accept_invitation(session: AsyncSession, token: str, password: str) -> User:
    """Set the invited person's password; the link then stops working."""
    invitation, user = await invitation_for(session, token)
    user.password_hash = hash_password(accounts.clean_password(password))
    user.session_version += 1
    invitation.accepted_at = datetime.now(UTC)
    session.add_all([user, invitation])
    session.add(
        AuditEntry(
            actor_id=user.id,
            action="invitation.accepted",
            subject_type="user",
            subject_id=str(user.id),
        )
    )
    await session.commit()
    forget()
    return user


async def managed_person(
    session: AsyncSession, coordinator: User, user_id: uuid.UUID
) -> tuple[User, list[uuid.UUID]]:
    """The person and the organisations (coordinated by `coordinator`) they review in; 404
    for anyone else."""
    user = await session.get(User, user_id)
    if user is None:
        raise not_found("That person")
    mine = {
        o for o, role in await access.roles_of(session, coordinator) if role == Role.coordinator
    }
    theirs = (
        await session.exec(
            select(Membership.organisation_id)
            .where(Membership.user_id == user.id)
            .where(col(Membership.role).in_(REVIEWING))
        )
    ).all()
    shared = sorted(set(theirs) & mine)
    if not shared:
        raise not_found("That person")
    return user, shared


async def certify_expert(
    session: AsyncSession, coordinator: User, user_id: uuid.UUID, organisation_id: uuid.UUID
) -> bool:
    """Make a reviewer of this organisation one of its certified experts; False if already."""
    await _coordinated(session, coordinator, organisation_id)
    user, shared = await managed_person(session, coordinator, user_id)
    if organisation_id not in shared:
        raise not_found("That person")
    existing = (
        await session.exec(
            select(Membership)
            .where(Membership.user_id == user.id)
            .where(Membership.organisation_id == organisation_id)
            .where(Membership.role == Role.expert)
        )
    ).first()
    if existing is not None:
        return False
    session.add(Membership(user_id=user.id, organisation_id=organisation_id, role=Role.expert))
    session.add(
        AuditEntry(
            actor_id=coordinator.id,
            action="person.certified_expert",
            subject_type="user",
            subject_id=str(user.id),
            data={"organisation_id": str(organisation_id)},
        )
    )
    await session.commit()
    return True


async def set_suspension(
    session: AsyncSession,
    coordinator: User,
    user_id: uuid.UUID,
    organisation_id: uuid.UUID,
    *,
    suspend: bool,
    reason: str,
) -> int:
    """Suspend (or reinstate) the person's reviewer and expert roles in this organisation, with
    a reason; suspended reviewers see and claim nothing there. Returns roles changed."""
    reason = " ".join(reason.split())
    if not 3 <= len(reason) <= MAX_REASON:
        raise ActionError("bad_reason", "Give a reason (3 to 2000 characters).", 422)
    await _coordinated(session, coordinator, organisation_id)
    user, shared = await managed_person(session, coordinator, user_id)
    if organisation_id not in shared:
        raise not_found("That person")
    memberships = (
        await session.exec(
            select(Membership)
            .where(Membership.user_id == user.id)
            .where(Membership.organisation_id == organisation_id)
            .where(col(Membership.role).in_(REVIEWING))
            .with_for_update()
        )
    ).all()
    changed = 0
    now = datetime.now(UTC)
    for membership in memberships:
        if suspend and membership.suspended_at is None:
            membership.suspended_at, membership.suspension_reason = now, reason
        elif not suspend and membership.suspended_at is not None:
            membership.suspended_at, membership.suspension_reason = None, None
        else:
            continue
        changed += 1
        session.add(membership)
    if changed:
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="person.suspended" if suspend else "person.reinstated",
                subject_type="user",
                subject_id=str(user.id),
                data={"organisation_id": str(organisation_id), "reason": reason},
            )
        )
    await session.commit()
    return changed
