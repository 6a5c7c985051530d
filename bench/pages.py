"""Pages and API: requests/s and latency of the reviewer's feed page (`GET /review`) and the
task list API (`GET /api/v1/tasks`) with realistic data, against a bare Starlette hello-world
served the same way in the same run; and the SQL statements each request runs, at two data
sizes (no N+1: the count must not grow with the data).

Data: N packets in review across the demo issuer's low-stakes credentials, each with an open
peer task, inserted in bulk with SQL; the demo's peer reviewer looks at them.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event, text

from app.main import create_app
from app.models import Role
from bench import loadgen
from bench.claim_race import _people, pct
from bench.harness import Mcx, free_port, fresh_mcx

REVIEWER = ("reviewer1@mcx.example", "reviewer-demo-1")

SEED_SQL = text(
    """
    WITH creds AS (
        SELECT c.id, row_number() OVER (ORDER BY c.slug) AS k, count(*) OVER () AS n
          FROM credentials c JOIN organisations o ON o.id = c.organisation_id
         WHERE o.slug = 'ipa' AND c.status = 'published' AND c.stakes = 'low'
    ), earners AS (
        INSERT INTO users (id, email, name, password_hash, is_active, session_version,
                           subject_id, created_at)
        SELECT gen_random_uuid(), 'pages-' || :tag || '-' || g || '@bench.example', 'Earner', 'x',
               true, 1, gen_random_uuid(), now()
          FROM generate_series(1, :n) AS g
        RETURNING id
    ), numbered AS (
        SELECT id, row_number() OVER () AS g FROM earners
    ), subs AS (
        INSERT INTO submissions (id, credential_id, earner_id, state, privacy, created_at,
                                 updated_at)
        SELECT gen_random_uuid(), creds.id, numbered.id, 'in_review', 'reviewers', now(), now()
          FROM numbered JOIN creds ON creds.k = (numbered.g % creds.n) + 1
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
    """
)


@dataclass
class Load:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


@dataclass
class Pages:
    loads: list[Load]
    # path -> [(open tasks, SQL statements for one request)]
    statements: dict[str, list[tuple[int, int]]]


async def _seed(mcx: Mcx, count: int) -> None:
    async with mcx.runtime.engine.begin() as conn:
        await conn.execute(SEED_SQL, {"n": count, "tag": uuid.uuid4().hex[:6]})


async def _log_in(http: httpx.AsyncClient) -> None:
    form = await http.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert found is not None, "the login form has no CSRF token"
    done = await http.post(
        "/login",
        data={"csrf_token": found.group(1), "email": REVIEWER[0], "password": REVIEWER[1]},
    )
    assert done.status_code in (302, 303), f"log-in failed: {done.status_code}"


@contextmanager
def _counting(engine: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def _statements(mcx: Mcx, token: str) -> dict[str, int]:
    """SQL statements for one warm request to each path, through the app in this process."""
    app = create_app(mcx.runtime.settings, mcx.urls)
    counts: dict[str, int] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            await _log_in(http)
            for path, headers in (
                ("/api/v1/tasks", {"Authorization": f"Bearer {token}"}),
                ("/review", {}),
            ):
                assert (await http.get(path, headers=headers)).status_code == 200  # warm
                with _counting(app.state.runtime.engine) as seen:
                    answer = await http.get(path, headers=headers)
                assert answer.status_code == 200, answer.text[:200]
                counts[path] = len(seen)
    return counts


async def _load(
    name: str, port: int, path: str, headers: dict[str, str], users: int, seconds: float
) -> Load:
    conns = await loadgen.connect("127.0.0.1", port, users)
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def user(conn: loadgen.Conn) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            status, _, took = await loadgen.request(conn, "GET", path, headers)
            if status == 200:
                latencies.append(took)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(user(c) for c in conns))
    elapsed = time.perf_counter() - started
    await loadgen.close(conns)
    return Load(name, len(latencies), elapsed, latencies, errors)


async def measure(sizes: tuple[int, int] = (1_000, 10_000), *, users: int = 32,
                  seconds: float = 5.0) -> Pages:  # fmt: skip
    statements: dict[str, list[tuple[int, int]]] = {}
    async with fresh_mcx() as mcx:
        (_, token), *_ = await _people(mcx.runtime, 1, Role.reviewer, f"p{uuid.uuid4().hex[:4]}-")
        seeded = 0
        for size in sizes:
            await _seed(mcx, size - seeded)
            seeded = size
            for path, count in (await _statements(mcx, token)).items():
                statements.setdefault(path, []).append((size, count))
        port, hello_port = free_port(), free_port()
        base = await mcx.serve(port)
        await mcx.start(
            "hello",
            [sys.executable, "-m", "uvicorn", "--factory", "--log-level", "warning",
             "bench.baselines:hello", "--port", str(hello_port)],
            ready_url=f"http://127.0.0.1:{hello_port}/",
        )  # fmt: skip
        async with httpx.AsyncClient(base_url=base) as http:
            await _log_in(http)
            cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        loads = [
            await _load("hello world (bare Starlette)", hello_port, "/", {}, users, seconds),
            await _load(
                "GET /api/v1/tasks",
                port,
                "/api/v1/tasks",
                {"Authorization": f"Bearer {token}"},
                users,
                seconds,
            ),
            await _load(
                "GET /review (feed page)", port, "/review", {"Cookie": cookie}, users, seconds
            ),  # fmt: skip
        ]
    return Pages(loads, statements)


def table(pages: Pages) -> str:
    hello = pages.loads[0].per_second
    lines = [
        "| endpoint | requests/s | vs hello world | p50 / p99 ms | errors |",
        "|---|---|---|---|---|",
    ]
    for load in pages.loads:
        lines.append(
            f"| {load.name} | {load.per_second:,.0f} | {load.per_second / hello:.2f} | "
            f"{pct(load.latencies, 0.5):.0f} / {pct(load.latencies, 0.99):.0f} | {load.errors} |"
        )
    lines += ["", "| request | SQL statements per request, by open tasks |", "|---|---|"]
    for path, counts in pages.statements.items():
        shown = ", ".join(f"{n:,} tasks: {c}" for n, c in counts)
        lines.append(f"| `GET {path}` | {shown} |")
    return "\n".join(lines)


def ok(pages: Pages) -> bool:
    return all(load.errors == 0 for load in pages.loads)


def main() -> int:
    pages = asyncio.run(measure())
    print(table(pages))
    return 0 if ok(pages) else 1


if __name__ == "__main__":
    raise SystemExit(main())
