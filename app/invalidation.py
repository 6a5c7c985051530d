"""Caches that follow PostgreSQL: every committed change to a row a cache is made of drops
the cached answers, by a hook on the runtime's sessions.

- Eligibility (app.queue.pools): memberships, awards, quality policies, credentials, reviewer
  pairs, a person's school or active flag: the generation is bumped. A reviewer standing
  (written after every review) concerns one reviewer: only their generation is bumped.
- Identities (app.auth): a token revoked or a person changed: this process forgets at once,
  the shared copies in Redis are deleted, and other processes forget within
  app.auth.CACHE_SECONDS. Sessions are ended by the log-out actions' own DELETE statements,
  which tell app.auth themselves (no shared copy of a session is kept in Redis).

Writes through the ORM are seen here; the few raw SQL writes call the same functions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, inspect
from sqlmodel import Session

from app.settings import Settings

log = logging.getLogger(__name__)

ELIGIBILITY_TABLES = frozenset(
    {
        "memberships",
        "awards",
        "quality_policies",
        "credentials",
        "reviewer_pairs",
    }
)
# Of a person, only these matter to eligibility (a new person is in no pool yet) ...
PERSON_ELIGIBILITY = ("school", "is_active")
# ... and these to who they are when they ask.
PERSON_IDENTITY = ("is_active", "session_version", "school", "name", "email", "password_hash")
# Rows of one reviewer's eligibility: their cached answer alone is dropped.
REVIEWER_TABLES = frozenset({"reviewer_standings"})
_KEY = "mcx_changes"
HOOK = "mcx_on_commit"


@dataclass
class Changes:
    eligibility: bool = False
    reviewers: set[str] = field(default_factory=set)  # user ids whose own eligibility changed
    people: set[str] = field(default_factory=set)  # user ids
    tokens: set[str] = field(default_factory=set)  # token digests

    def __bool__(self) -> bool:
        return self.eligibility or bool(self.reviewers) or bool(self.people) or bool(self.tokens)


def _changed(obj: object, names: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _noticed(session: Session, _context: Any, _instances: Any) -> None:
    changes: Changes = session.info.setdefault(_KEY, Changes())
    for obj in (*session.new, *session.deleted):
        table = getattr(obj, "__tablename__", "")
        if table in ELIGIBILITY_TABLES:
            changes.eligibility = True
        elif table in REVIEWER_TABLES:
            changes.reviewers.add(str(obj.reviewer_id))
    for obj in session.dirty:
        table = getattr(obj, "__tablename__", "")
        if table in ELIGIBILITY_TABLES:
            changes.eligibility = True
        elif table in REVIEWER_TABLES:
            changes.reviewers.add(str(obj.reviewer_id))
        elif table == "users":
            changes.eligibility |= _changed(obj, PERSON_ELIGIBILITY)
            if _changed(obj, PERSON_IDENTITY):
                changes.people.add(str(obj.id))
        elif table == "api_tokens":
            changes.tokens.add(obj.token_hash)
    for obj in session.deleted:
        if getattr(obj, "__tablename__", "") == "api_tokens":
            changes.tokens.add(obj.token_hash)


def _committed(session: Session) -> None:
    changes = session.info.pop(_KEY, None)
    hook = session.info.get(HOOK)
    if changes and hook is not None:
        hook(changes)


event.listen(Session, "before_flush", _noticed)
event.listen(Session, "after_commit", _committed)
event.listen(Session, "after_soft_rollback", lambda session, _prev: session.info.pop(_KEY, None))


def on_commit(redis: Redis, settings: Settings) -> Callable[[Changes], None]:
    """The hook a runtime's sessions call after a commit that changed cached facts. A commit
    hook cannot wait, so Redis is told in the background; PostgreSQL re-checks every rule that
    matters to a claim meanwhile."""
    pending: set[asyncio.Task[Any]] = set()

    def hook(changes: Changes) -> None:
        from app import auth, events

        if changes.people or changes.tokens:
            auth.forget()
        if changes.eligibility or changes.reviewers:
            events.feed_changed()  # feeds and task lists drawn here before are stale
        task = asyncio.get_running_loop().create_task(apply(redis, settings, changes))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return hook


async def apply(redis: Redis, settings: Settings, changes: Changes) -> None:
    from app import auth
    from app.queue.keys import eligibility_gen_key
    from app.queue.pools import bump_reviewers

    try:
        if changes.eligibility:
            await redis.incr(eligibility_gen_key(settings))
        elif changes.reviewers:
            await bump_reviewers(redis, settings, sorted(changes.reviewers))
        if changes.people or changes.tokens:
            await auth.drop_shared(redis, settings, changes.people, changes.tokens)
    except RedisError as exc:  # cached answers then last their own time at most
        log.warning("could not drop cached answers: %s", exc)
