"""Who is asking: password hashes, session cookies (with a version) and personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection

from app.models import ApiToken, Membership, User

LAST_USED_GRANULARITY = timedelta(minutes=1)
TOKEN_PREFIX = "mcx_"  # noqa: S105  (a public marker, not a secret)
_hasher = PasswordHasher()
# Verifying against this keeps a log-in for an unknown email as slow as for a known one.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def new_api_token() -> tuple[str, str]:
    """A fresh token and the sha256 hex that is stored in its place."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def user_from_token(session: AsyncSession, token: str) -> User | None:
    row = (
        await session.exec(
            select(User, ApiToken)
            .join(ApiToken, col(ApiToken.user_id) == col(User.id))
            .where(ApiToken.token_hash == token_digest(token))
            .where(col(ApiToken.revoked_at).is_(None))
            .where(User.is_active)
        )
    ).first()
    if row is None:
        return None
    user, api_token = row
    now = datetime.now(UTC)
    # "Last used" to the minute is enough; writing it on every call would double the cost of
    # every API request (a phone polls, a script loops).
    if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_GRANULARITY:
        await session.exec(
            update(ApiToken).where(col(ApiToken.id) == api_token.id).values(last_used_at=now)
        )
        await session.commit()
    return user


async def user_from_session(session: AsyncSession, conn: HTTPConnection) -> User | None:
    """The signed-in user, if the cookie names an active one at the current session version."""
    raw_id, version = conn.session.get("uid"), conn.session.get("sv")
    if not raw_id or not isinstance(version, int):
        return None
    try:
        user_id = uuid.UUID(str(raw_id))
    except ValueError:
        return None
    user = await session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != version:
        return None
    return user


async def current_user(conn: HTTPConnection) -> User | None:
    """Resolve once per request: a bearer token wins over the cookie."""
    if hasattr(conn.state, "user"):
        return conn.state.user
    runtime = conn.app.state.runtime
    async with runtime.sessions() as session:
        token = bearer_token(conn)
        if token:
            user = await user_from_token(session, token)
        else:
            user = await user_from_session(session, conn)
        # Roles only feed the page navigation; the JSON API and websocket never need them.
        wants_roles = user is not None and not conn.url.path.startswith(("/api/", "/ws"))
        conn.state.roles = await _role_names(session, user) if wants_roles else frozenset()
    conn.state.user = user
    conn.state.via_token = token is not None and user is not None
    return user


async def _role_names(session: AsyncSession, user: User | None) -> frozenset[str]:
    """The roles this person holds anywhere (for navigation; access.py decides per object)."""
    assert user is not None
    rows = await session.exec(
        select(Membership.role)
        .where(Membership.user_id == user.id)
        .where(col(Membership.suspended_at).is_(None))
    )
    return frozenset(rows.all())
