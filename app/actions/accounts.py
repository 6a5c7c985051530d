"""Accounts: sign up, log in (rate limited), log out (here or everywhere), API tokens, users by
CLI."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth import (
    SESSION_AGE,
    forget,
    forget_sessions,
    hash_password,
    new_api_token,
    normalise_email,
    verify_password,
)
from app.errors import ActionError, not_found
from app.models import ApiToken, AuditEntry, CookieSession, Membership, Organisation, Role, User
from app.settings import Settings

MIN_PASSWORD = 10
MAX_PASSWORD = 256


def clean_email(raw: str) -> str:
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ActionError("invalid_email", f"That email address is not valid: {exc}") from None
    return normalise_email(result.normalized)


def clean_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ActionError(
            "weak_password", f"Choose a password of at least {MIN_PASSWORD} characters."
        )
    if len(password) > MAX_PASSWORD:
        raise ActionError("invalid_password", f"Passwords are at most {MAX_PASSWORD} characters.")
    return password


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 200:
        raise ActionError("invalid_name", "Give your name (up to 200 characters).")
    return name


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    password: str,
    school: str | None = None,
    memberships: list[tuple[Organisation, Role]] | None = None,
) -> User:
    """A new active user with the given roles; refuses a second account for one email."""
    user = User(
        email=clean_email(email),
        name=clean_name(name),
        password_hash=hash_password(clean_password(password)),
        school=(school or "").strip()[:200] or None,
    )
    existing = await session.exec(select(User.id).where(func.lower(User.email) == user.email))
    if existing.first() is not None:
        raise ActionError("email_taken", "An account with that email already exists.", 409)
    session.add(user)
    # No ORM relationships: flush parents before the rows that point at them.
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise ActionError("email_taken", "An account with that email already exists.", 409) from (
            None
        )
    for organisation, role in memberships or []:
        session.add(Membership(user_id=user.id, organisation_id=organisation.id, role=role))
    session.add(AuditEntry(action="user.created", subject_type="user", subject_id=str(user.id)))
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        if "uq_users_email_lower" not in str(exc.orig):
            raise
        raise ActionError("email_taken", "An account with that email already exists.", 409) from (
            None
        )
    return user


async def sign_up(
    session: AsyncSession, *, email: str, name: str, password: str, school: str | None
) -> tuple[User, uuid.UUID]:
    """A new account, signed in: the user and the id of their first session."""
    user = await create_user(session, email=email, name=name, password=password, school=school)
    return user, await open_session(session, user)


# Sessions unseen for longer than a cookie lives can name nobody any more: a log-in clears
# its person's, so their rows stay few.
PRUNE_SESSIONS_SQL = text(
    """
    DELETE FROM cookie_sessions
     WHERE user_id = :user AND seen_at < now() - make_interval(secs => :age)
    """
)


async def open_session(session: AsyncSession, user: User) -> uuid.UUID:
    """A new signed-in session for this person (its id goes into the signed cookie)."""
    session_id = await _new_session(session, user)
    await session.commit()
    return session_id


async def _new_session(session: AsyncSession, user: User) -> uuid.UUID:
    await session.execute(PRUNE_SESSIONS_SQL, {"user": user.id, "age": SESSION_AGE.total_seconds()})
    row = CookieSession(user_id=user.id)
    session.add(row)
    return row.id


# One atomic step, so the limit holds however many guesses arrive at once: a guess is
# admitted (and counted) only while both counters are under their limits; the check and the
# count are the same step, and the password is verified only after it.
# KEYS[1] failures for the email, KEYS[2] failures for the address
# ARGV[1] email limit, ARGV[2] address limit, ARGV[3] window in seconds
# Returns 1 (admitted: both counters were incremented, a new counter starts its window) or 0.
LOGIN_ATTEMPT_LUA = """
local by_email = tonumber(redis.call('GET', KEYS[1]) or '0')
local by_ip = tonumber(redis.call('GET', KEYS[2]) or '0')
if by_email >= tonumber(ARGV[1]) or by_ip >= tonumber(ARGV[2]) then
  return 0
end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('TTL', key) == -1 then
    redis.call('EXPIRE', key, ARGV[3])
  end
end
return 1
"""

# A log-in succeeded: the email's failures are forgotten, and the attempt's place in the
# address's count is given back (never below zero, never on a counter whose window ended).
# KEYS[1] failures for the email, KEYS[2] failures for the address. Returns nothing.
LOGIN_SUCCEEDED_LUA = """
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('DECR', KEYS[2])
end
"""

# An address gets more room than one account: a school shares one public IP.
ADDRESS_FACTOR = 10


def _throttle_keys(settings: Settings, email: str, ip: str) -> tuple[str, str]:
    prefix = settings.redis_prefix + "login:fail:"
    return prefix + "email:" + email, prefix + "ip:" + ip


async def log_in(
    session: AsyncSession, redis: Redis, settings: Settings, *, email: str, password: str, ip: str
) -> tuple[User, uuid.UUID]:
    """The user for these credentials, and the id of the session this log-in opens.

    Every attempt is counted per email and per address in Redis before its password is
    checked; past the limit an attempt is refused (429) unchecked. A success clears the
    email's count and gives back its own place in the address's count.
    """
    email = normalise_email(email)
    by_email, by_ip = _throttle_keys(settings, email, ip)
    admitted = await redis.eval(  # type: ignore[misc]
        LOGIN_ATTEMPT_LUA,
        2,
        by_email,
        by_ip,
        str(settings.login_max_failures),
        str(settings.login_max_failures * ADDRESS_FACTOR),
        str(settings.login_window_seconds),
    )
    if not int(admitted):
        minutes = max(1, settings.login_window_seconds // 60)
        raise ActionError(
            "too_many_attempts",
            f"Too many failed log-ins. Wait {minutes} minutes and try again.",
            429,
        )
    user = (await session.exec(select(User).where(func.lower(User.email) == email))).first()
    if not verify_password(user.password_hash if user else None, password) or (
        user is None or not user.is_active
    ):
        raise ActionError("bad_credentials", "That email and password do not match.", 401)
    await redis.eval(LOGIN_SUCCEEDED_LUA, 2, by_email, by_ip)  # type: ignore[misc]
    user.last_login_at = datetime.now(UTC)
    session.add(user)
    session_id = await _new_session(session, user)
    await session.commit()
    return user, session_id


async def log_out(session: AsyncSession, user: User, session_id: uuid.UUID) -> None:
    """End this one session: its cookie, and every copy of it, stops working (at once in
    this process, within app.auth.CACHE_SECONDS in the others)."""
    await session.exec(
        delete(CookieSession)
        .where(col(CookieSession.id) == session_id)
        .where(col(CookieSession.user_id) == user.id)
    )
    await session.commit()
    forget_sessions({session_id})


@dataclass(frozen=True)
class LoggedOut:
    """What log-out everywhere did: sessions ended (live ones, this one included), API
    tokens revoked, and API tokens left working."""

    sessions: int
    tokens_revoked: int
    tokens_kept: int

    def message(self) -> str:
        said = f"Signed out of {_count(self.sessions, 'session')} (this one included)"
        if self.tokens_revoked:
            said += f"; revoked {_count(self.tokens_revoked, 'personal API token')}"
        if self.tokens_kept:
            kept = _count(self.tokens_kept, "personal API token")
            said += f"; {kept} still {'works' if self.tokens_kept == 1 else 'work'}"
        return said + "."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


END_SESSIONS_SQL = text(
    """
    DELETE FROM cookie_sessions WHERE user_id = :user
    RETURNING id, seen_at > now() - make_interval(secs => :age) AS live
    """
)


async def log_out_everywhere(
    session: AsyncSession, user: User, *, revoke_tokens: bool = False
) -> LoggedOut:
    """Every session of this person ends, every session cookie issued so far stops working,
    and, when asked, every personal API token is revoked; in one transaction."""
    ended = (
        await session.execute(
            END_SESSIONS_SQL, {"user": user.id, "age": SESSION_AGE.total_seconds()}
        )
    ).all()
    await session.exec(
        update(User).where(col(User.id) == user.id).values(session_version=User.session_version + 1)
    )
    tokens = (
        await session.exec(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .where(col(ApiToken.revoked_at).is_(None))
        )
    ).all()
    done = LoggedOut(
        sessions=sum(1 for row in ended if row.live),
        tokens_revoked=len(tokens) if revoke_tokens else 0,
        tokens_kept=0 if revoke_tokens else len(tokens),
    )
    if revoke_tokens:
        now = datetime.now(UTC)
        for api_token in tokens:
            # Through the ORM: app.invalidation drops the tokens' shared copies in Redis.
            api_token.revoked_at = now
            session.add(api_token)
            session.add(
                AuditEntry(
                    actor_id=user.id,
                    action="token.revoked",
                    subject_type="api_token",
                    subject_id=str(api_token.id),
                )
            )
    session.add(
        AuditEntry(
            actor_id=user.id,
            action="user.logged_out_everywhere",
            subject_type="user",
            subject_id=str(user.id),
            data={"sessions": done.sessions, "tokens_revoked": done.tokens_revoked},
        )
    )
    await session.commit()
    forget()
    return done


async def create_api_token(session: AsyncSession, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token; the plain value is returned once and never stored."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise ActionError("invalid_name", "Name the token (up to 100 characters).")
    token, digest = new_api_token()
    api_token = ApiToken(user_id=user.id, name=name, token_hash=digest, prefix=token[:12])
    session.add(api_token)
    session.add(
        AuditEntry(
            actor_id=user.id,
            action="token.created",
            subject_type="api_token",
            subject_id=str(api_token.id),
        )
    )
    await session.commit()
    return api_token, token


async def revoke_api_token(session: AsyncSession, user: User, token_id: uuid.UUID) -> None:
    api_token = await session.get(ApiToken, token_id)
    if api_token is None or api_token.user_id != user.id:
        raise not_found("That token")
    if api_token.revoked_at is None:
        api_token.revoked_at = datetime.now(UTC)
        session.add(api_token)
        session.add(
            AuditEntry(
                actor_id=user.id,
                action="token.revoked",
                subject_type="api_token",
                subject_id=str(token_id),
            )
        )
        await session.commit()
        forget()
