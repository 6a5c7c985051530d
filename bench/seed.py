"""Bulk data for the benchmarks: reviewers with API tokens, and open review tasks, in a few SQL
statements instead of one action per row (100,000 packets through the real actions would take
longer than the whole benchmark may).

What the bulk rows look like is kept here, in one place: a reviewer is a user, a membership
(role in an organisation) and an API token; an open task is an earner, a submission in review,
its first version and one open task in a pool. After inserting tasks, `tasks()` runs the real
`queue.rebuild`, as the worker does after Redis lost its queue, so the live queue (and whatever
else the rebuild derives) matches PostgreSQL. If the schema grows a NOT NULL column on these
tables, this is the file to update.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text

from app import queue
from app.actions import catalog
from app.auth import new_api_token
from app.models import Role
from app.runtime import Runtime
from app.specs import CredentialSpec

LEVELS = [{"label": "No", "points": 0}, {"label": "Yes", "points": 1}]


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


PEOPLE_SQL = text(
    """
    WITH input AS (
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:emails AS text[]),
                             CAST(:digests AS text[])) AS t(id, email, digest)
    ), made AS (
        INSERT INTO users (id, email, name, password_hash, is_active, session_version,
                           subject_id, created_at)
        SELECT id, email, 'Bench ' || split_part(email, '@', 1), 'x', true, 1,
               gen_random_uuid(), now()
          FROM input
        RETURNING id
    )
    INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at)
    SELECT gen_random_uuid(), input.id, 'bench', input.digest, left(input.digest, 8), now()
      FROM input JOIN made ON made.id = input.id
    """
)

MEMBERSHIPS_SQL = text(
    """
    INSERT INTO memberships (id, user_id, organisation_id, role, created_at)
    SELECT gen_random_uuid(), t.id, o.id, :role, now()
      FROM unnest(CAST(:ids AS uuid[])) AS t(id), organisations o
     WHERE o.slug = :organisation
    """
)


async def people(
    runtime: Runtime,
    count: int,
    *,
    role: Role | None = Role.reviewer,
    organisation: str = "ipa",
    tag: str | None = None,
) -> list[Person]:
    """`count` people, each with an API token and (unless role is None) `role` in
    `organisation`; no password log-in (their password hash is not a hash)."""
    tag = tag or uuid.uuid4().hex[:6]
    made = [(uuid.uuid4(), *new_api_token()) for _ in range(count)]
    ids = [person_id for person_id, _, _ in made]
    async with runtime.engine.begin() as conn:
        await conn.execute(
            PEOPLE_SQL,
            {
                "ids": ids,
                "emails": [f"bench-{tag}-{i}@bench.example" for i in range(count)],
                "digests": [digest for _, _, digest in made],
            },
        )
        if role is not None:
            await conn.execute(
                MEMBERSHIPS_SQL, {"ids": ids, "role": str(role), "organisation": organisation}
            )
    return [Person(person_id, token) for person_id, token, _ in made]


TOKEN_FOR_SQL = text(
    """
    INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at)
    SELECT gen_random_uuid(), u.id, 'bench', :digest, :prefix, now()
      FROM users u WHERE lower(u.email) = lower(:email)
    RETURNING user_id
    """
)


async def token_for(runtime: Runtime, email: str) -> Person:
    """An API token for an existing person (e.g. the demo's calibrated peer reviewer)."""
    token, digest = new_api_token()
    async with runtime.engine.begin() as conn:
        row = (
            await conn.execute(
                TOKEN_FOR_SQL, {"email": email, "digest": digest, "prefix": digest[:8]}
            )
        ).one()
    return Person(row.user_id, token)


async def credential(runtime: Runtime, tag: str, *, organisation: str = "ipa") -> uuid.UUID:
    """A published, reflection-only credential with one peer review per packet, made by the
    real authoring action (no quality policy: no calibration, no known-answer checks)."""
    async with runtime.sessions() as session:
        made = await catalog.create_credential(
            session,
            CredentialSpec(
                slug=f"{tag}-{uuid.uuid4().hex[:6]}",
                organisation=organisation,
                title=f"Bench {tag}",
                status="published",
                peer_reviews=1,
                submission_criteria=[{"title": "Reflection", "kind": "reflection"}],  # type: ignore[list-item]
                rubric={"min_level": 1, "criteria": [{"title": "One", "levels": LEVELS}]},  # type: ignore[arg-type]
            ),
        )
    return made.id


TASKS_SQL = text(
    """
    WITH creds AS (
        SELECT id, ord - 1 AS k, count(*) OVER () AS n
          FROM unnest(CAST(:credentials AS uuid[])) WITH ORDINALITY AS c(id, ord)
    ), earners AS (
        INSERT INTO users (id, email, name, password_hash, is_active, session_version,
                           subject_id, created_at)
        SELECT gen_random_uuid(), 'earner-' || :tag || '-' || g || '@bench.example', 'Earner',
               'x', true, 1, gen_random_uuid(), now()
          FROM generate_series(1, :n) AS g
        RETURNING id
    ), numbered AS (
        SELECT id, row_number() OVER () AS g FROM earners
    ), subs AS (
        INSERT INTO submissions (id, credential_id, earner_id, state, privacy, created_at,
                                 updated_at)
        SELECT gen_random_uuid(), creds.id, numbered.id, 'in_review', 'reviewers', now(), now()
          FROM numbered JOIN creds ON creds.k = numbered.g % creds.n
        RETURNING id
    ), vers AS (
        INSERT INTO submission_versions (id, submission_id, number, created_at, submitted_at)
        SELECT gen_random_uuid(), subs.id, 1, now(), now() FROM subs
        RETURNING id, submission_id
    )
    INSERT INTO review_tasks (id, submission_id, version_id, pool, state, reason, lease_version,
                              extended, created_at)
    SELECT gen_random_uuid(), vers.submission_id, vers.id, 'peer', 'open', 'initial', 0, false,
           now() - random() * interval '3 days'
      FROM vers
    RETURNING id
    """
)

DEMO_CREDENTIALS_SQL = text(
    """
    SELECT c.id FROM credentials c JOIN organisations o ON o.id = c.organisation_id
     WHERE o.slug = :organisation AND c.status = 'published' AND c.stakes = 'low'
     ORDER BY c.slug
    """
)


async def demo_credentials(runtime: Runtime, organisation: str = "ipa") -> list[uuid.UUID]:
    """The demo issuer's published low-stakes credentials (the demo reviewer's feed)."""
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(DEMO_CREDENTIALS_SQL, {"organisation": organisation})
        return [row[0] for row in rows]


async def tasks(
    runtime: Runtime, credentials: list[uuid.UUID], count: int, *, rebuild: bool = True
) -> list[uuid.UUID]:
    """`count` packets in review, one earner each, spread over `credentials`, each with one
    open peer task; then the real queue rebuild (unless rebuild=False). The new task ids."""
    made: list[uuid.UUID] = []
    for start in range(0, count, 50_000):  # bounded statements, one transaction each
        async with runtime.engine.begin() as conn:
            rows = await conn.execute(
                TASKS_SQL,
                {
                    "credentials": credentials,
                    "n": min(50_000, count - start),
                    "tag": uuid.uuid4().hex[:8],
                },
            )
            made += [row[0] for row in rows]
    async with runtime.engine.begin() as conn:
        # Fresh planner statistics now, not an autoanalyze in the middle of a measurement.
        await conn.execute(text("ANALYZE users, submissions, submission_versions, review_tasks"))
    if rebuild:
        await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)
    return made


REOPEN_SQL = text(
    """
    UPDATE review_tasks
       SET state = 'open', reviewer_id = NULL, lease_expires_at = NULL, claimed_at = NULL,
           extended = false, lease_version = lease_version + 1
     WHERE id = ANY(:ids) AND state <> 'open'
    """
)


async def reopen(runtime: Runtime, task_ids: list[uuid.UUID], *, rebuild: bool = True) -> int:
    """Put these tasks back to open in PostgreSQL (behind the app's back), then rebuild the
    live queue from PostgreSQL; the number of tasks reopened."""
    async with runtime.engine.begin() as conn:
        reopened = (await conn.execute(REOPEN_SQL, {"ids": task_ids})).rowcount
    if rebuild:
        await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)
    return int(reopened)


HOLDERS_SQL = text(
    "SELECT id, reviewer_id FROM review_tasks WHERE id = ANY(:ids) AND state = 'claimed'"
)


async def holders(runtime: Runtime, task_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Who holds each of these tasks in PostgreSQL (claimed tasks only)."""
    async with runtime.engine.connect() as conn:
        return {row[0]: row[1] for row in await conn.execute(HOLDERS_SQL, {"ids": task_ids})}


ORGANISATION_SQL = text(
    """
    INSERT INTO organisations (id, slug, name, description, created_at)
    VALUES (gen_random_uuid(), :slug, :name, '', now())
    """
)


async def organisation(runtime: Runtime, tag: str) -> str:
    """A new organisation of its own (so its reviewers see only its credentials' work): its
    slug."""
    slug = f"{tag}-{uuid.uuid4().hex[:6]}"
    async with runtime.engine.begin() as conn:
        await conn.execute(ORGANISATION_SQL, {"slug": slug, "name": f"Bench {tag}"})
    return slug


CLAIMS_SQL = text(
    "SELECT reviewer_id, id FROM review_tasks WHERE state = 'claimed' AND reviewer_id = ANY(:ids)"
)


async def claims_of(
    runtime: Runtime, people_ids: list[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """The tasks each of these people holds in PostgreSQL (claimed, any credential)."""
    held: dict[uuid.UUID, set[uuid.UUID]] = {}
    async with runtime.engine.connect() as conn:
        for reviewer, task in await conn.execute(CLAIMS_SQL, {"ids": people_ids}):
            held.setdefault(reviewer, set()).add(task)
    return held
