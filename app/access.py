"""The only home of permission checks. Missing and forbidden look the same (404)."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import ActionError
from app.models import Membership, Role, User


async def roles_of(session: AsyncSession, user: User) -> set[tuple[uuid.UUID, str]]:
    """Every (organisation, role) the user holds and is not suspended from."""
    rows = await session.exec(
        select(Membership.organisation_id, Membership.role)
        .where(Membership.user_id == user.id)
        .where(col(Membership.suspended_at).is_(None))
    )
    return {(org, role) for org, role in rows.all()}


async def has_role(
    session: AsyncSession, user: User, role: Role, organisation_id: uuid.UUID | None = None
) -> bool:
    """Whether the user holds `role` (in `organisation_id`, or in any organisation)."""
    query = (
        select(Membership.id)
        .where(Membership.user_id == user.id)
        .where(Membership.role == role)
        .where(col(Membership.suspended_at).is_(None))
    )
    if organisation_id is not None:
        query = query.where(Membership.organisation_id == organisation_id)
    return (await session.exec(query.limit(1))).first() is not None


def require_user(user: User | None) -> User:
    if user is None:
        raise ActionError("unauthenticated", "Log in to continue.", 401)
    return user
