"""Who is asking: password hashes, session cookies (with a version) and personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_
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


# Who a token or session cookie names is remembered in this process for this long, so a
# request (and above all a losing tap) costs no PostgreSQL. A revoked token, log-out
# everywhere, a changed password or a deactivated account takes effect at once in the
# process that made the change (`forget`) and within this bound in every other one.
CACHE_SECONDS = 5.0
_CACHE_SIZE = 50_000


@dataclass
class _Known:
    """One cached identity: the user (a detached, read-only snapshot shared by the requests
    of this process: load it in your own session to change it) and their navigation roles."""

    until: float
    user: User | None
    roles: frozenset[str] = frozenset()
    token_id: uuid.UUID | None = None


_tokens: dict[str, _Known] = {}
_users: dict[uuid.UUID, _Known] = {}
# api_tokens.last_used_at, written in batches off the request path (flush_last_used).
_used: dict[uuid.UUID, datetime] = {}


def forget() -> None:
    """Drop every cached identity in this process (after revoking, logging out everywhere,
    changing a password or deactivating someone)."""
    _tokens.clear()
    _users.clear()


def _remember(cache: dict[Any, _Known], key: Any, known: _Known) -> _Known:
    if len(cache) >= _CACHE_SIZE:
        cache.clear()  # rare: a burst of distinct identities; everything reloads once
    cache[key] = known
    return known


async def user_from_token(session: AsyncSession, token: str) -> User | None:
    """The active owner of an unrevoked token (cached for CACHE_SECONDS)."""
    digest = token_digest(token)
    now = time.monotonic()
    known = _tokens.get(digest)
    if known is None or known.until < now:
        row = (
            await session.exec(
                select(User, ApiToken.id)
                .join(ApiToken, col(ApiToken.user_id) == col(User.id))
                .where(ApiToken.token_hash == digest)
                .where(col(ApiToken.revoked_at).is_(None))
                .where(User.is_active)
            )
        ).first()
        user, token_id = row if row is not None else (None, None)
        if user is not None:
            session.expunge(user)
        known = _remember(_tokens, digest, _Known(now + CACHE_SECONDS, user, token_id=token_id))
    if known.token_id is not None:
        _used[known.token_id] = datetime.now(UTC)
    return known.user


async def flush_last_used(sessions: Any) -> int:
    """Write the tokens used since the last flush (to the minute is enough); the count."""
    if not _used:
        return 0
    batch = dict(_used)
    _used.clear()
    async with sessions() as session:
        for token_id, when in batch.items():
            await session.exec(
                update(ApiToken)
                .where(col(ApiToken.id) == token_id)
                .where(
                    or_(
                        col(ApiToken.last_used_at).is_(None),
                        col(ApiToken.last_used_at) < when - LAST_USED_GRANULARITY,
                    )
                )
                .values(last_used_at=when)
            )
        await session.commit()
    return len(batch)


async def user_from_session(session: AsyncSession, conn: HTTPConnection) -> User | None:
    """The signed-in user, if the cookie names an active one at the current session version."""
    raw_id, version = conn.session.get("uid"), conn.session.get("sv")
    if not raw_id or not isinstance(version, int):
        return None
    try:
        user_id = uuid.UUID(str(raw_id))
    except ValueError:
        return None
    known = await _known_user(session, user_id)
    if known.user is not None and known.user.session_version < version:
        # A newer cookie than the cached snapshot (a log-in elsewhere): look again.
        _users.pop(user_id, None)
        known = await _known_user(session, user_id)
    user = known.user
    if user is None or not user.is_active or user.session_version != version:
        return None
    return user


async def _known_user(session: AsyncSession, user_id: uuid.UUID) -> _Known:
    now = time.monotonic()
    known = _users.get(user_id)
    if known is None or known.until < now:
        user = await session.get(User, user_id)
        roles: frozenset[str] = frozenset()
        if user is not None:
            roles = await _role_names(session, user)
            session.expunge(user)
        known = _remember(_users, user_id, _Known(now + CACHE_SECONDS, user, roles))
    return known


async def current_user(conn: HTTPConnection) -> User | None:
    """Resolve once per request: a bearer token wins over the cookie. Cached identities cost
    no PostgreSQL; a session is opened only on a miss."""
    if hasattr(conn.state, "user"):
        return conn.state.user
    runtime = conn.app.state.runtime
    token = bearer_token(conn)
    user = _cached(conn, token)
    if user is _MISS:
        async with runtime.sessions() as session:
            if token:
                user = await user_from_token(session, token)
            else:
                user = await user_from_session(session, conn)
            wants_roles = user is not None and not conn.url.path.startswith(("/api/", "/ws"))
            conn.state.roles = (
                (await _known_user(session, user.id)).roles if wants_roles and user else frozenset()
            )
    assert not isinstance(user, _Miss)
    conn.state.user = user
    conn.state.via_token = token is not None and user is not None
    return user


class _Miss:
    pass


_MISS = _Miss()


def _cached(conn: HTTPConnection, token: str | None) -> User | None | _Miss:
    """The user from the caches alone, or _MISS when PostgreSQL must be asked."""
    now = time.monotonic()
    if token:
        known = _tokens.get(token_digest(token))
        if known is None or known.until < now:
            return _MISS
        if known.token_id is not None:
            _used[known.token_id] = datetime.now(UTC)
        user = known.user
    else:
        raw_id, version = conn.session.get("uid"), conn.session.get("sv")
        if not raw_id or not isinstance(version, int):
            conn.state.roles = frozenset()
            return None
        try:
            known = _users.get(uuid.UUID(str(raw_id)))
        except ValueError:
            conn.state.roles = frozenset()
            return None
        if known is None or known.until < now:
            return _MISS
        user = known.user
        if user is not None and user.session_version < version:
            return _MISS  # a newer cookie than the cached snapshot (a log-in elsewhere)
        if user is None or not user.is_active or user.session_version != version:
            user = None
    if user is None:
        conn.state.roles = frozenset()
        return None
    if conn.url.path.startswith(("/api/", "/ws")):
        conn.state.roles = frozenset()
    else:
        roles = _users.get(user.id)
        if roles is None or roles.until < now:
            return _MISS
        conn.state.roles = roles.roles
    return user


async def _role_names(session: AsyncSession, user: User) -> frozenset[str]:
    """The roles this person holds anywhere (for navigation; access.py decides per object)."""
    rows = await session.exec(
        select(Membership.role)
        .where(Membership.user_id == user.id)
        .where(col(Membership.suspended_at).is_(None))
    )
    return frozenset(rows.all())
