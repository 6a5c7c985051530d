"""Rebuild: time to recreate the live queue in Redis from PostgreSQL, for N open tasks.

The tasks are inserted in bulk with SQL (one submission, N open peer tasks, plus a tenth as
many claimed ones); the figure is `app.queue.rebuild` end to end, as the worker runs it.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from app import queue
from bench.harness import fresh_mcx

SEED_SQL = text(
    """
    WITH earner AS (
        INSERT INTO users (id, email, name, password_hash, is_active, session_version,
                           subject_id, created_at)
        VALUES (gen_random_uuid(), 'rebuild-' || gen_random_uuid() || '@bench.example', 'E', 'x',
                true, 1, gen_random_uuid(), now())
        RETURNING id
    ), credential AS (
        SELECT id FROM credentials ORDER BY slug LIMIT 1
    ), submission AS (
        INSERT INTO submissions (id, credential_id, earner_id, state, privacy, created_at, updated_at)
        SELECT gen_random_uuid(), credential.id, earner.id, 'in_review', 'reviewers', now(), now()
          FROM credential, earner
        RETURNING id
    ), version AS (
        INSERT INTO submission_versions (id, submission_id, number, created_at)
        SELECT gen_random_uuid(), submission.id, 1, now() FROM submission
        RETURNING id, submission_id
    )
    INSERT INTO review_tasks (id, submission_id, version_id, pool, state, reason, lease_version,
                              extended, created_at)
    SELECT gen_random_uuid(), version.submission_id, version.id, 'peer', 'open', 'initial', 0,
           false, now() - make_interval(secs => n)
      FROM version, generate_series(1, :n) AS n
    """
)


async def measure(counts: list[int]) -> list[tuple[int, float, dict[str, int]]]:
    results = []
    async with fresh_mcx() as mcx:
        runtime = mcx.runtime
        seeded = 0
        for count in counts:
            async with runtime.engine.begin() as conn:
                await conn.execute(SEED_SQL, {"n": count - seeded})
            seeded = count
            started = time.perf_counter()
            found = await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)
            results.append((count, time.perf_counter() - started, found))
    return results


def table(results: list[tuple[int, float, dict[str, int]]]) -> str:
    lines = ["| open tasks | rebuild seconds | tasks per second |", "|---|---|---|"]
    for count, seconds, found in results:
        lines.append(f"| {found['open']:,} | {seconds:.2f} | {count / seconds:,.0f} |")
    return "\n".join(lines)


def main() -> int:
    print(table(asyncio.run(measure([10_000, 100_000]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
