"""The live-claim cap under any interleaving: taps at the same moment, through the API, with
the Redis gate in front and with PostgreSQL deciding alone (Redis lost its queue)."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from app import queue
from app.models import Credential
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth

# N packets of one credential in review, each with one open peer task, inserted in bulk (the
# real actions would take minutes for hundreds), then the live queue rebuilt from them.
SEED_SQL = text(
    """
    WITH earners AS (
        INSERT INTO users (id, email, name, password_hash, is_active, session_version,
                           subject_id, created_at, live_claims)
        SELECT gen_random_uuid(), 'cap-' || g || '@mcx.example', 'Earner', 'x', true, 1,
               gen_random_uuid(), now(), 0
          FROM generate_series(1, :n) AS g
        RETURNING id
    ), subs AS (
        INSERT INTO submissions (id, credential_id, earner_id, state, privacy, created_at,
                                 updated_at)
        SELECT gen_random_uuid(), :credential, earners.id, 'in_review', 'reviewers', now(), now()
          FROM earners
        RETURNING id
    ), versions AS (
        INSERT INTO submission_versions (id, submission_id, number, created_at, submitted_at)
        SELECT gen_random_uuid(), subs.id, 1, now(), now() FROM subs
        RETURNING id, submission_id
    )
    INSERT INTO review_tasks (id, submission_id, version_id, pool, state, reason, lease_version,
                              extended, created_at)
    SELECT gen_random_uuid(), versions.submission_id, versions.id, 'peer', 'open', 'initial', 0,
           false, now() - random() * interval '1 day'
      FROM versions
    RETURNING id
    """
)
OVER_CAP_SQL = text(
    """
    SELECT count(*) FROM (SELECT reviewer_id FROM review_tasks WHERE state = 'claimed'
                          GROUP BY reviewer_id HAVING count(*) > :cap) over
    """
)
COUNTER_DRIFT_SQL = text(
    """
    SELECT count(*) FROM users u
     WHERE u.live_claims <> (SELECT count(*) FROM review_tasks t
                              WHERE t.reviewer_id = u.id AND t.state = 'claimed')
    """
)


async def _open_tasks(runtime: Runtime, credential: Credential, count: int) -> list[str]:
    async with runtime.engine.begin() as conn:
        rows = (await conn.execute(SEED_SQL, {"n": count, "credential": credential.id})).all()
    await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)
    return [str(row.id) for row in rows]


async def _race(client: httpx.AsyncClient, taps: list[tuple[str, str]]) -> list[int]:
    """Every (token, task) tap at once; their status codes."""

    async def tap(token: str, task_id: str) -> int:
        answer = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
        return answer.status_code

    return list(await asyncio.gather(*(tap(token, task) for token, task in taps)))


async def _over_cap(runtime: Runtime) -> tuple[int, int]:
    async with runtime.engine.connect() as conn:
        over = (
            await conn.execute(OVER_CAP_SQL, {"cap": runtime.settings.max_live_claims})
        ).scalar_one()
        drift = (await conn.execute(COUNTER_DRIFT_SQL)).scalar_one()
    return int(over), int(drift)


async def test_racing_taps_never_take_a_reviewer_past_the_cap(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    assert runtime.settings.max_live_claims == 1
    credential = await f.credential(runtime, peer_reviews=1)
    tasks = await _open_tasks(runtime, credential, 220)
    reviewers = await f.many_reviewers(runtime, 101)
    # 100 reviewers each tap two different tasks at the same moment; one taps 20 at once.
    taps = [
        (token, tasks[2 * i + k]) for i, (_, token) in enumerate(reviewers[:100]) for k in (0, 1)
    ]
    greedy = reviewers[100][1]
    taps += [(greedy, task) for task in tasks[200:220]]
    codes = await _race(client, taps)
    assert set(codes) <= {201, 409}, codes
    assert codes.count(201) == 101  # each reviewer got exactly one, and only one
    assert await _over_cap(runtime) == (0, 0)


async def test_the_cap_holds_when_postgresql_decides_alone(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Redis lost the queue (no gate in front): the trigger on review_tasks holds the cap."""
    credential = await f.credential(runtime, peer_reviews=1)
    tasks = await _open_tasks(runtime, credential, 60)
    reviewers = await f.many_reviewers(runtime, 20)
    keys = [k async for k in runtime.redis.scan_iter(match=runtime.settings.redis_prefix + "q:*")]
    await runtime.redis.delete(*keys)
    taps = [(token, tasks[3 * i + k]) for i, (_, token) in enumerate(reviewers) for k in (0, 1, 2)]
    codes = await _race(client, taps)
    assert set(codes) <= {201, 409}, codes
    assert codes.count(201) == 20
    assert await _over_cap(runtime) == (0, 0)
