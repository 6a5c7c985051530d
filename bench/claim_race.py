"""Claim race: R reviewers tap T open tasks at once, through real server processes.

For each (R, T): the ceiling (a bare Starlette endpoint, one Redis call), a PostgreSQL-only
claim endpoint, and MCX's real `POST /api/v1/tasks/{id}/claim` (token auth, eligibility, the
Redis gate, the fenced PostgreSQL update, events). Reviewer i taps task i mod T, so each task
has R/T racers. Reports answers/s, p50/p99/max for winners and losers, and double claims.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import select

from app.actions import catalog, submissions
from app.auth import hash_password, new_api_token
from app.models import ApiToken, Membership, Organisation, Role, User
from app.runtime import Runtime
from app.specs import CredentialSpec
from bench import loadgen
from bench.harness import Mcx, free_port, fresh_mcx

LEVELS = [{"label": "No", "points": 0}, {"label": "Yes", "points": 1}]


@dataclass
class Race:
    server: str
    reviewers: int
    tasks: int
    seconds: float
    wins: list[float]
    losses: list[float]
    errors: int
    double_claims: int

    @property
    def answers_per_second(self) -> float:
        return (len(self.wins) + len(self.losses)) / self.seconds


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _people(
    runtime: Runtime, count: int, role: Role | None, tag: str
) -> list[tuple[uuid.UUID, str]]:
    hashed = hash_password("bench-password-1")
    async with runtime.sessions() as session:
        org = (await session.exec(select(Organisation).where(Organisation.slug == "ipa"))).one()
        made = []
        for i in range(count):
            user = User(email=f"{tag}{i}@bench.example", name=f"{tag} {i}", password_hash=hashed)
            token, digest = new_api_token()
            session.add(user)
            made.append((user, token, digest))
        await session.flush()
        for user, _, digest in made:
            if role is not None:
                session.add(Membership(user_id=user.id, organisation_id=org.id, role=role))
            session.add(
                ApiToken(user_id=user.id, name="bench", token_hash=digest, prefix=digest[:8])
            )
        await session.commit()
    return [(user.id, token) for user, token, _ in made]


async def reflection_credential(runtime: Runtime, tag: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A published, reflection-only credential with one peer review per packet: its id and
    its one submission criterion's id."""
    async with runtime.sessions() as session:
        credential = await catalog.create_credential(
            session,
            CredentialSpec(
                slug=f"{tag}-{uuid.uuid4().hex[:6]}",
                organisation="ipa",
                title=f"Bench {tag}",
                status="published",
                peer_reviews=1,
                submission_criteria=[{"title": "Reflection", "kind": "reflection"}],  # type: ignore[list-item]
                rubric={"min_level": 1, "criteria": [{"title": "One", "levels": LEVELS}]},  # type: ignore[arg-type]
            ),
        )
        criterion = (await catalog.criteria_of(session, credential.id))[0]
    return credential.id, criterion.id


async def open_tasks(mcx: Mcx, count: int) -> list[str]:
    """`count` submissions in review with one peer task each, through the real actions."""
    runtime = mcx.runtime
    credential_id, criterion_id = await reflection_credential(runtime, "race")
    earners = await _people(runtime, count, None, f"e{uuid.uuid4().hex[:4]}-")
    for earner_id, _ in earners:
        async with runtime.sessions() as session:
            earner = await session.get(User, earner_id)
            assert earner is not None
            submission = await submissions.start_submission(session, earner, credential_id)
            await submissions.attach_artifact(
                session, earner, submission.id, criterion_id, body="Done."
            )
        await submissions.submit_evidence(runtime, earner, submission.id)
        async with runtime.sessions() as session:
            version = await submissions.latest_version(session, submission.id)
        await submissions.check_evidence(runtime, version.id)
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT t.id FROM review_tasks t JOIN submissions s ON s.id = t.submission_id "
                "WHERE s.credential_id = :c ORDER BY t.created_at"
            ),
            {"c": credential_id},
        )
        return [str(row[0]) for row in rows]


async def reopen(runtime: Runtime, task_ids: list[str]) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE review_tasks SET state = 'open', reviewer_id = NULL, lease_expires_at = NULL, "
                "claimed_at = NULL, lease_version = lease_version + 1 WHERE id = ANY(:ids)"
            ),
            {"ids": [uuid.UUID(t) for t in task_ids]},
        )
    from app import queue

    await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)


async def race(
    name: str,
    base: str,
    path: str,
    task_ids: list[str],
    reviewers: list[tuple[uuid.UUID, str]],
    runtime: Runtime,
) -> Race:
    host, port = base.removeprefix("http://").split(":")
    conns = await loadgen.connect(host, int(port), len(reviewers))
    go = asyncio.Event()

    async def tap(i: int, reviewer: uuid.UUID, token: str) -> tuple[int, float]:
        await go.wait()
        status, _, seconds = await loadgen.request(
            conns[i],
            "POST",
            path.format(task=task_ids[i % len(task_ids)]),
            {"Authorization": f"Bearer {token}", "X-Reviewer": str(reviewer)},
        )
        return status, seconds

    runners = [asyncio.create_task(tap(i, r, t)) for i, (r, t) in enumerate(reviewers)]
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    go.set()
    results = await asyncio.gather(*runners)
    seconds = time.perf_counter() - t0
    await loadgen.close(conns)
    wins = [s for code, s in results if code == 201]
    losses = [s for code, s in results if code == 409]
    errors = len(results) - len(wins) - len(losses)
    if name == "ceiling":
        double = (
            len(wins) - len(set(task_ids[: len(reviewers)])) if len(wins) > len(task_ids) else 0
        )
    else:
        async with runtime.engine.connect() as conn:
            claimed = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM review_tasks WHERE state = 'claimed' AND id = ANY(:ids)"
                    ),
                    {"ids": [uuid.UUID(t) for t in task_ids]},
                )
            ).scalar_one()
        double = len(wins) - int(claimed)
    return Race(name, len(reviewers), len(task_ids), seconds, wins, losses, errors, double)


async def run(sizes: list[tuple[int, int]]) -> list[Race]:
    results: list[Race] = []
    async with fresh_mcx() as mcx:
        runtime = mcx.runtime
        port = free_port()
        base = await mcx.serve(port)
        ceiling_port, pg_port = free_port(), free_port()
        uvicorn = [
            mcx.env.get("PYTHON", "python"),
            "-m",
            "uvicorn",
            "--factory",
            "--log-level",
            "warning",
        ]
        import sys

        uvicorn[0] = sys.executable
        await mcx.start(
            "ceiling", [*uvicorn, "bench.baselines:redis_ceiling", "--port", str(ceiling_port)]
        )
        await mcx.start("pg_only", [*uvicorn, "bench.baselines:pg_only", "--port", str(pg_port)])
        await asyncio.sleep(1.5)
        most_tasks = max(t for _, t in sizes)
        task_ids = await open_tasks(mcx, most_tasks)
        most_reviewers = max(r for r, _ in sizes)
        reviewers = await _people(
            runtime, most_reviewers, Role.reviewer, f"r{uuid.uuid4().hex[:4]}-"
        )
        for r, t in sizes:
            subset, racers = task_ids[:t], reviewers[:r]
            redis_keys = [
                k
                async for k in runtime.redis.scan_iter(
                    match=runtime.settings.redis_prefix + "baseline:*"
                )
            ]
            if redis_keys:
                await runtime.redis.delete(*redis_keys)
            results.append(
                await race(
                    "ceiling",
                    f"http://127.0.0.1:{ceiling_port}",
                    "/claim/{task}",
                    subset,
                    racers,
                    runtime,
                )
            )
            await reopen(runtime, task_ids)
            results.append(
                await race(
                    "pg_only",
                    f"http://127.0.0.1:{pg_port}",
                    "/claim/{task}",
                    subset,
                    racers,
                    runtime,
                )
            )
            await reopen(runtime, task_ids)
            results.append(
                await race("mcx", base, "/api/v1/tasks/{task}/claim", subset, racers, runtime)
            )
            await reopen(runtime, task_ids)
    return results


def table(results: list[Race]) -> str:
    lines = [
        "| R | T | server | answers/s | vs ceiling | win p50 / p99 / max ms | loss p50 / p99 / max ms | wins | errors | double claims |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ceiling: dict[tuple[int, int], float] = {}
    for res in results:
        if res.server == "ceiling":
            ceiling[(res.reviewers, res.tasks)] = res.answers_per_second
    for res in results:
        ratio = res.answers_per_second / ceiling[(res.reviewers, res.tasks)]
        win = f"{pct(res.wins, 0.5):.0f} / {pct(res.wins, 0.99):.0f} / {max(res.wins, default=0) * 1000:.0f}"
        loss = f"{pct(res.losses, 0.5):.0f} / {pct(res.losses, 0.99):.0f} / {max(res.losses, default=0) * 1000:.0f}"
        lines.append(
            f"| {res.reviewers} | {res.tasks} | {res.server} | {res.answers_per_second:.0f} | {ratio:.2f} | {win} | {loss} | {len(res.wins)} | {res.errors} | {res.double_claims} |"
        )
    return "\n".join(lines)


def main() -> int:
    results = asyncio.run(run([(100, 50), (500, 50), (1000, 200)]))
    print(table(results))
    return 0 if all(r.double_claims == 0 and r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
