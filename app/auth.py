"""Who is asking: password hashes, session cookies (each naming a session row, with a version)
and personal API tokens."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection

from app.autopipe import autopipeline
from app.models import CookieSession, Membership, User
from app.settings import Settings

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger(__name__)

LAST_USED_GRANULARITY = timedelta(minutes=1)
# A session cookie is signed again with every answer, so it lasts this long after its last
# use; the row it names is kept (seen_at, to the hour) at least as long.
SESSION_AGE = timedelta(days=14)
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
# request (and above all a losing tap) costs no PostgreSQL; so is whether a cookie's session
# row still exists. A revoked token, a log-out, log-out everywhere, a changed password or a
# deactivated account takes effect at once in the process that made the change (`forget`,
# `forget_sessions`) and within this bound in every other one.
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


@dataclass
class _Session:
    """Whose session row a cookie's session id names (None: no row, it was ended)."""

    until: float
    owner: uuid.UUID | None


_tokens: dict[str, _Known] = {}
# Snapshots built from the shared copies in Redis, by the copy's exact text.
_built: dict[str, tuple[User | None, uuid.UUID | None]] = {}
_users: dict[uuid.UUID, _Known] = {}
_sessions: dict[uuid.UUID, _Session] = {}
# api_tokens.last_used_at and cookie_sessions.seen_at, written in batches off the request
# path (flush_last_used).
_used: dict[uuid.UUID, datetime] = {}
_seen: dict[uuid.UUID, datetime] = {}


def forget() -> None:
    """Drop every cached identity in this process (after revoking, logging out everywhere,
    changing a password or deactivating someone)."""
    _tokens.clear()
    _users.clear()
    _built.clear()
    _sessions.clear()


def forget_sessions(session_ids: set[uuid.UUID]) -> None:
    """Drop what this process knows of these sessions (after ending them): the next request
    bearing one asks PostgreSQL, which no longer has it."""
    for session_id in session_ids:
        _sessions.pop(session_id, None)
        _seen.pop(session_id, None)


# Off while a websocket is let in: a socket asks who it is once, so keeping the answer would
# only hold memory for every open socket's person.
_keeping: contextvars.ContextVar[bool] = contextvars.ContextVar("mcx_keep_identity", default=True)


@contextlib.contextmanager
def asked_once() -> Iterator[None]:
    """Who is asking is looked up without being kept in this process (a websocket's
    handshake); a cached answer is still used."""
    token = _keeping.set(False)
    try:
        yield
    finally:
        _keeping.reset(token)


_C = TypeVar("_C", _Known, _Session)


def _remember(cache: dict[Any, Any], key: Any, known: _C) -> _C:
    if not _keeping.get():
        return known
    if len(cache) >= _CACHE_SIZE:
        cache.clear()  # rare: a burst of distinct identities; everything reloads once
    cache[key] = known
    return known


TOKEN_SQL = text(
    """
    SELECT t.id AS token_id, u.id, u.email, u.name, u.school, u.is_active, u.session_version,
           u.subject_id, u.created_at, u.last_login_at, u.live_claims
      FROM api_tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_hash = :digest AND t.revoked_at IS NULL AND u.is_active
    """
)
# The shared copy in Redis: what a token names, for SHARED_SECONDS, deleted when the token is
# revoked or its owner changes (app.invalidation). Never the password hash.
SHARED_SECONDS = 600
SHARED_MISSING_SECONDS = 30
_SNAPSHOT = ("email", "name", "school", "is_active", "session_version", "live_claims")


def _shared_key(settings: Settings, digest: str) -> str:
    return f"{settings.redis_prefix}id:tok:{digest}"


def _owner_key(settings: Settings, user_id: uuid.UUID | str) -> str:
    return f"{settings.redis_prefix}id:owner:{user_id}"


def _snapshot(row: Any) -> dict[str, Any]:
    data = {name: getattr(row, name) for name in _SNAPSHOT}
    data.update(
        id=str(row.id),
        subject_id=str(row.subject_id),
        created_at=row.created_at.isoformat(),
        last_login_at=row.last_login_at.isoformat() if row.last_login_at else None,
    )
    return data


def _user(data: dict[str, Any]) -> User:
    return User(
        id=uuid.UUID(data["id"]),
        subject_id=uuid.UUID(data["subject_id"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        last_login_at=datetime.fromisoformat(data["last_login_at"])
        if data["last_login_at"]
        else None,
        password_hash="!",  # noqa: S106  (never shared; nothing checks a password on this copy)
        **{name: data[name] for name in _SNAPSHOT},
    )


async def user_from_token(runtime: Runtime, token: str) -> User | None:
    """The active owner of an unrevoked token: from this process's cache, else the shared
    copy in Redis, else PostgreSQL (which then fills both)."""
    digest = token_digest(token)
    now = time.monotonic()
    known = _tokens.get(digest)
    if known is None or known.until < now:
        known = await _token_from_shared(runtime, digest) or await _token_from_postgres(
            runtime, digest
        )
    if known.token_id is not None:
        _used[known.token_id] = datetime.now(UTC)
    return known.user


async def _token_from_shared(runtime: Runtime, digest: str) -> _Known | None:
    try:
        # With the other taps of this moment, in one pipeline (app/autopipe.py).
        raw = await autopipeline(runtime.redis).call("GET", _shared_key(runtime.settings, digest))
    except RedisError:
        return None
    if raw is None:
        return None
    # The same shared copy as last time (nothing changed since): the same snapshot, not a
    # new one built (building a User costs more than the Redis round trip).
    built = _built.get(raw)
    if built is None:
        data = json.loads(raw)
        user = _user(data["user"]) if data["user"] else None
        token_id = uuid.UUID(data["token_id"]) if data["token_id"] else None
        if len(_built) >= _CACHE_SIZE:
            _built.clear()
        built = _built[raw] = (user, token_id)
    user, token_id = built
    return _remember(
        _tokens, digest, _Known(time.monotonic() + CACHE_SECONDS, user, token_id=token_id)
    )


async def _token_from_postgres(runtime: Runtime, digest: str) -> _Known:
    async with runtime.engine.connect() as conn:
        row = (await conn.execute(TOKEN_SQL, {"digest": digest})).first()
    snapshot = _snapshot(row) if row is not None else None
    token_id = row.token_id if row is not None else None
    settings = runtime.settings
    shared = json.dumps({"token_id": str(token_id) if token_id else None, "user": snapshot})
    try:
        async with runtime.redis.pipeline(transaction=False) as pipe:
            pipe.set(
                _shared_key(settings, digest),
                shared,
                ex=SHARED_SECONDS if row is not None else SHARED_MISSING_SECONDS,
            )
            if row is not None:
                pipe.sadd(_owner_key(settings, row.id), digest)
                pipe.expire(_owner_key(settings, row.id), SHARED_SECONDS)
            await pipe.execute()
    except RedisError as exc:
        log.warning("could not share a token's owner in Redis: %s", exc)
    user = _user(snapshot) if snapshot is not None else None
    return _remember(
        _tokens, digest, _Known(time.monotonic() + CACHE_SECONDS, user, token_id=token_id)
    )


async def drop_shared(
    redis: Redis, settings: Settings, people: set[str], digests: set[str]
) -> None:
    """Delete the shared copies for these tokens and for every token of these people."""
    keys = {_shared_key(settings, digest) for digest in digests}
    for person in people:
        owned = await redis.smembers(_owner_key(settings, person))  # type: ignore[misc]
        keys |= {_shared_key(settings, digest) for digest in owned}
        keys.add(_owner_key(settings, person))
    if keys:
        await redis.delete(*keys)


# One statement for every token used since the last flush ("last used" to the minute).
LAST_USED_SQL = text(
    """
    UPDATE api_tokens t SET last_used_at = used.at
      FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS used(id, at)
     WHERE t.id = used.id
       AND (t.last_used_at IS NULL OR t.last_used_at < used.at - interval '1 minute')
    """
)


# One statement for every session used since the last flush (to the hour: a live session
# costs at most one write an hour).
SEEN_SQL = text(
    """
    UPDATE cookie_sessions s SET seen_at = seen.at
      FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS seen(id, at)
     WHERE s.id = seen.id AND s.seen_at < seen.at - interval '1 hour'
    """
)


async def flush_last_used(sessions: Any) -> int:
    """Write the tokens and sessions used since the last flush, one statement each; the
    count."""
    if not _used and not _seen:
        return 0
    batch, seen = dict(_used), dict(_seen)
    _used.clear()
    _seen.clear()
    async with sessions() as session:
        if batch:
            await session.execute(LAST_USED_SQL, {"ids": list(batch), "ats": list(batch.values())})
        if seen:
            await session.execute(SEEN_SQL, {"ids": list(seen), "ats": list(seen.values())})
        await session.commit()
    return len(batch) + len(seen)


def session_id_of(conn: HTTPConnection) -> uuid.UUID | None:
    """The session id the signed cookie names, if it names one."""
    named = _named(conn)
    return named[2] if named else None


def _named(conn: HTTPConnection) -> tuple[uuid.UUID, int, uuid.UUID] | None:
    """The person, session version and session id a signed cookie names; None for a cookie
    without them (anonymous, or from before sessions had ids)."""
    raw_id, version, raw_sid = (
        conn.session.get("uid"),
        conn.session.get("sv"),
        conn.session.get("sid"),
    )
    if not raw_id or not isinstance(version, int) or not isinstance(raw_sid, str):
        return None
    try:
        return uuid.UUID(str(raw_id)), version, uuid.UUID(raw_sid)
    except ValueError:
        return None


async def user_from_session(session: AsyncSession, conn: HTTPConnection) -> User | None:
    """The signed-in user, if the cookie names an active one at the current session version,
    in a session that was not ended (log-out deletes its row)."""
    named = _named(conn)
    if named is None:
        return None
    user_id, version, session_id = named
    known = await _known_user(session, user_id)
    if known.user is not None and known.user.session_version < version:
        # A newer cookie than the cached snapshot (a log-in elsewhere): look again.
        _users.pop(user_id, None)
        known = await _known_user(session, user_id)
    user = known.user
    if user is None or not user.is_active or user.session_version != version:
        return None
    if await _session_owner(session, session_id) != user_id:
        return None
    _seen[session_id] = datetime.now(UTC)
    return user


async def _session_owner(session: AsyncSession, session_id: uuid.UUID) -> uuid.UUID | None:
    """Whose session row this is (None: ended), from this process's cache or PostgreSQL."""
    now = time.monotonic()
    known = _sessions.get(session_id)
    if known is None or known.until < now:
        owner = (
            await session.exec(select(CookieSession.user_id).where(CookieSession.id == session_id))
        ).first()
        known = _remember(_sessions, session_id, _Session(now + CACHE_SECONDS, owner))
    return known.owner


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
    wants_roles = not conn.url.path.startswith(("/api/", "/ws"))
    if user is _MISS and token and not wants_roles:
        user = await user_from_token(runtime, token)
        conn.state.roles = frozenset()
    elif user is _MISS:
        async with runtime.sessions() as session:
            if token:
                user = await user_from_token(runtime, token)
            else:
                user = await user_from_session(session, conn)
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
        named = _named(conn)
        if named is None:
            conn.state.roles = frozenset()
            return None
        user_id, version, session_id = named
        known = _users.get(user_id)
        live = _sessions.get(session_id)
        if known is None or known.until < now or live is None or live.until < now:
            return _MISS
        user = known.user
        if user is not None and user.session_version < version:
            return _MISS  # a newer cookie than the cached snapshot (a log-in elsewhere)
        if user is None or not user.is_active or user.session_version != version:
            user = None
        elif live.owner != user_id:
            user = None  # the session was ended (logged out)
        else:
            _seen[session_id] = datetime.now(UTC)
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
