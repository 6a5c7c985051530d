"""Pages and API: requests/s and latency of the task list API (`GET /api/v1/tasks`, bearer
token) and the reviewer's feed page (`GET /review`, session cookie) with realistic data, against
a bare Starlette hello-world served the same way in the same run; the same list on
`mcx serve --workers 2`; and what one request costs PostgreSQL (round trips and time) at each
data size: the cost must not grow with the open work.

Data: N packets in review across the demo issuer's published low-stakes credentials, each with
an open peer task, inserted in bulk (`bench/seed.py`), then the real `queue.rebuild`; the
demo's peer reviewer (a session cookie from the real log-in form) and a bench reviewer of the
same organisation (a bearer token) look at them. Sizes grow in one database: 1,000, then
10,000, then 100,000 open tasks.

Load: C keep-alive clients (default 32, one connection each) send back to back for S seconds
(default 5) after a 1 s warm-up on the same connections; requests still unanswered 30 s after
the window are abandoned and counted. Every endpoint is measured right after the hello-world
of the same size, so drift on the shared machine hits both.

Cost per request: in-process (the real app on an ASGI transport, warm, one request at a time,
the median of 5): every round trip asyncpg makes (statements, BEGIN / COMMIT / ROLLBACK, pool
pings, prepares; whether through SQLAlchemy or asyncpg directly) counted and timed around the
await, plus the statements SQLAlchemy's before_cursor_execute sees.

    python -m bench.pages                                  # loads at 10,000 and 100,000
    python -m bench.pages --sizes 10000 --sql-sizes 1000,10000 --seconds 3 --no-workers2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from asyncpg.prepared_stmt import PreparedStatement
from sqlalchemy import event

from app.main import create_app
from bench import loadgen, seed
from bench.harness import Mcx, free_port, fresh_mcx, run
from bench.loadgen import pct, verdict

REVIEWER = ("reviewer1@mcx.example", "reviewer-demo-1")
TASKS_API = "/api/v1/tasks"
FEED = "/review"
# Targets (issue 14): requests/s against the hello-world of the same size.
TARGETS = {TASKS_API: 0.30, FEED: 0.15}
GRACE = 30.0


@dataclass
class Load:
    name: str
    path: str
    size: int
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    abandoned: int = 0
    listed: int | None = None  # tasks in one answer of the list API (it must not be empty)
    # statuses other than 200 (0: the connection was closed or broke; the client reconnects)
    refused: Counter[int] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Cost:
    """What one warm request costs PostgreSQL (median of several)."""

    path: str
    size: int
    round_trips: float
    postgres_ms: float
    sqlalchemy_statements: float
    statements: list[str] = field(default_factory=list)


@dataclass
class Pages:
    loads: list[Load]
    costs: list[Cost]

    def hello(self, size: int) -> Load:
        return next(x for x in self.loads if x.size == size and x.path == "/")


# -- cost per request ------------------------------------------------------------------------


@dataclass
class Meter:
    round_trips: int = 0
    seconds: float = 0.0
    statements: list[str] = field(default_factory=list)


@contextmanager
def postgres_meter() -> Iterator[Meter]:
    """Count and time every asyncpg round trip in this process while inside (patches asyncpg's
    classes, so SQLAlchemy's connections and any raw asyncpg pool are both seen)."""
    meter = Meter()
    patched: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, query_of: Callable[..., str | None]) -> None:
        original = getattr(owner, name)

        async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            query = query_of(self, *args)
            if query is None:  # this call is counted where it goes next
                return await original(self, *args, **kwargs)
            started = time.perf_counter()
            try:
                return await original(self, *args, **kwargs)
            finally:
                meter.seconds += time.perf_counter() - started
                meter.round_trips += 1
                meter.statements.append(" ".join(query.split())[:160])

        patched.append((owner, name, original))
        setattr(owner, name, timed)

    connection = asyncpg.connection.Connection
    # execute() with arguments goes through _execute (counted there).
    wrap(connection, "execute", lambda _s, query, *args: None if args else query)
    wrap(connection, "_execute", lambda _s, query, *_: query)
    wrap(connection, "_executemany", lambda _s, query, *_: query)
    wrap(connection, "prepare", lambda _s, query, *_: "PREPARE " + query)
    wrap(PreparedStatement, "_PreparedStatement__do_execute", lambda s, *_: s.get_query())
    try:
        yield meter
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


@contextmanager
def sqlalchemy_statements(engine: Any) -> Iterator[list[str]]:
    """The statements SQLAlchemy's engine runs while inside (before_cursor_execute)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def _log_in(http: httpx.AsyncClient) -> None:
    form = await http.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert found is not None, "the login form has no CSRF token"
    done = await http.post(
        "/login",
        data={"csrf_token": found.group(1), "email": REVIEWER[0], "password": REVIEWER[1]},
    )
    assert done.status_code in (302, 303), f"log-in failed: {done.status_code}"


async def costs(mcx: Mcx, token: str, size: int, *, repeat: int = 5) -> list[Cost]:
    """What one warm request to each path costs PostgreSQL, through the app in this process."""
    app = create_app(mcx.runtime.settings, mcx.urls)
    found: list[Cost] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            await _log_in(http)
            for path, headers in (
                (TASKS_API, {"Authorization": f"Bearer {token}"}),
                (FEED, {}),
            ):
                for _ in range(2):  # warm: caches, prepared statements, pool connections
                    assert (await http.get(path, headers=headers)).status_code == 200
                samples: list[tuple[int, float, int, list[str]]] = []
                for _ in range(repeat):
                    engine = app.state.runtime.engine
                    with postgres_meter() as meter, sqlalchemy_statements(engine) as seen:
                        answer = await http.get(path, headers=headers)
                    assert answer.status_code == 200, answer.text[:200]
                    samples.append((meter.round_trips, meter.seconds, len(seen), meter.statements))
                found.append(
                    Cost(
                        path,
                        size,
                        statistics.median(s[0] for s in samples),
                        statistics.median(s[1] for s in samples) * 1000,
                        statistics.median(s[2] for s in samples),
                        samples[len(samples) // 2][3],
                    )
                )
    return found


# -- load ------------------------------------------------------------------------------------


async def load(
    name: str, port: int, path: str, headers: dict[str, str], *, size: int, users: int = 32,
    seconds: float = 5.0, warm: float = 1.0,
) -> Load:  # fmt: skip
    """`users` clients, one kept-alive connection each, requesting back to back."""
    conns = await loadgen.connect("127.0.0.1", port, users)
    latencies: list[float] = []
    errors = 0
    refused: Counter[int] = Counter()
    listed: int | None = None
    counting = False

    async def user(slot: int, stop: float) -> None:
        nonlocal errors, listed
        while time.perf_counter() < stop:
            try:
                status, body, took = await loadgen.request(conns[slot], "GET", path, headers)
            except (ConnectionError, ValueError, IndexError, asyncio.IncompleteReadError):
                status, body, took = 0, b"", 0.0  # the server closed it: count, reconnect
                conns[slot].writer.close()
                conns[slot] = (await loadgen.connect("127.0.0.1", port, 1))[0]
            if not counting:
                continue
            if status == 200:
                latencies.append(took)
                if listed is None and path == TASKS_API:
                    listed = len(json.loads(body).get("tasks", []))
            else:
                errors += 1
                refused[status] += 1

    async def phase(length: float) -> tuple[float, int]:
        stop = time.perf_counter() + length
        started = time.perf_counter()
        runners = [asyncio.create_task(user(i, stop)) for i in range(len(conns))]
        _, pending = await asyncio.wait(runners, timeout=length + GRACE)
        for runner in pending:
            runner.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return time.perf_counter() - started, len(pending)

    if warm > 0:
        _, stuck = await phase(warm)
        if stuck:  # the warm-up did not finish: start the window on new connections
            await loadgen.close(conns)
            conns = await loadgen.connect("127.0.0.1", port, users)
    counting = True
    elapsed, abandoned = await phase(seconds)
    await loadgen.close(conns)
    return Load(
        name, path, size, len(latencies), elapsed, latencies, errors, abandoned, listed, refused
    )


# -- the benchmark ---------------------------------------------------------------------------


async def measure(
    sizes: tuple[int, ...] = (10_000, 100_000),
    sql_sizes: tuple[int, ...] = (1_000, 100_000),
    *,
    users: int = 32,
    seconds: float = 5.0,
    workers2: bool = True,
) -> Pages:
    """Loads at every size of `sizes`, costs per request at every size of both."""
    loads: list[Load] = []
    found: list[Cost] = []
    async with fresh_mcx() as mcx:
        runtime = mcx.runtime
        # The demo's peer reviewer (calibrated, so every demo credential's work is theirs to
        # see): the page by their session cookie, the API by a token of theirs.
        reviewer = await seed.token_for(runtime, REVIEWER[0])
        credentials = await seed.demo_credentials(runtime)
        hello_port, port, port2 = free_port(), free_port(), free_port()
        await mcx.uvicorn("hello", "bench.baselines:hello", hello_port)
        base = await mcx.serve(port, name="mcx")
        if workers2:
            await mcx.serve(port2, name="mcx x2", workers=2)
        async with httpx.AsyncClient(base_url=base) as http:
            await _log_in(http)
            cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        seeded = 0
        for size in sorted(set(sizes) | set(sql_sizes)):
            started = time.perf_counter()
            await seed.tasks(runtime, credentials, size - seeded)
            seeded = size
            print(f"  {size:,} open tasks seeded in {time.perf_counter() - started:.1f} s")
            found += await costs(mcx, reviewer.token, size)
            if size not in sizes:
                continue
            bearer = reviewer.auth
            plan = [
                ("hello world (bare Starlette)", hello_port, "/", {}),
                ("GET /api/v1/tasks", port, TASKS_API, bearer),
                ("GET /review (feed page)", port, FEED, {"Cookie": cookie}),
            ]
            if workers2:
                plan.append(("GET /api/v1/tasks, 2 processes", port2, TASKS_API, bearer))
            for name, at, path, headers in plan:
                done = await load(name, at, path, headers, size=size, users=users, seconds=seconds)
                print(f"  {size:,}: {name}: {done.per_second:,.1f}/s", flush=True)
                loads.append(done)
    return Pages(loads, found)


def table(pages: Pages) -> str:
    lines = [
        "| open tasks | endpoint | requests/s | vs hello world | target | verdict | p50 / p99 ms "
        "| errors | abandoned | tasks listed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in pages.loads:
        ratio = x.per_second / pages.hello(x.size).per_second
        target = TARGETS.get(x.path) if "2 processes" not in x.name else None
        lines.append(
            f"| {x.size:,} | {x.name} | {x.per_second:,.1f} | {ratio:.3f} | "
            f"{f'>= {target}' if target else '–'} | "
            f"{verdict(ratio >= target) if target else '–'} | "
            f"{pct(x.latencies, 0.5):.0f} / {pct(x.latencies, 0.99):.0f} | {_errors(x)} | "
            f"{x.abandoned} | {'–' if x.listed is None else x.listed} |"
        )
    ones = {(x.size, x.path): x for x in pages.loads if "2 processes" not in x.name}
    twos = [x for x in pages.loads if "2 processes" in x.name]
    if twos:
        lines += ["", "| open tasks | `GET /api/v1/tasks` on 2 processes vs 1 |", "|---|---|"]
        for x in twos:
            one = ones[(x.size, TASKS_API)]
            lines.append(f"| {x.size:,} | {x.per_second / one.per_second:.2f} |")
    lines += [
        "",
        "| request | open tasks | PostgreSQL round trips | PostgreSQL ms | SQLAlchemy statements |",
        "|---|---|---|---|---|",
    ]
    for c in sorted(pages.costs, key=lambda c: (c.path, c.size)):
        lines.append(
            f"| `GET {c.path}` | {c.size:,} | {c.round_trips:g} | {c.postgres_ms:.1f} | "
            f"{c.sqlalchemy_statements:g} |"
        )
    lines += ["", "| request | same cost at every size (round trips; ms within 1.5x + 1 ms) |",
              "|---|---|"]  # fmt: skip
    for path, same in flat_costs(pages).items():
        lines.append(f"| `GET {path}` | {verdict(same)} |")
    return "\n".join(lines)


def _errors(x: Load) -> str:
    if not x.refused:
        return str(x.errors)
    return f"{x.errors} ({', '.join(f'{s}: {n}' for s, n in sorted(x.refused.items()))})"


def flat_costs(pages: Pages) -> dict[str, bool]:
    """Per path: the same round trips at every size, and PostgreSQL time that does not grow
    (the largest within 1.5x + 1 ms of the smallest)."""
    verdicts: dict[str, bool] = {}
    for path in (TASKS_API, FEED):
        mine = sorted((c for c in pages.costs if c.path == path), key=lambda c: c.size)
        if len(mine) < 2:
            continue
        trips = {c.round_trips for c in mine}
        low, high = mine[0].postgres_ms, mine[-1].postgres_ms
        verdicts[path] = len(trips) == 1 and high <= 1.5 * low + 1.0
    return verdicts


def ok(pages: Pages) -> bool:
    """Whether every target was met."""
    speed = all(
        x.per_second / pages.hello(x.size).per_second >= TARGETS[x.path]
        for x in pages.loads
        if x.path in TARGETS and "2 processes" not in x.name
    )
    return speed and all(flat_costs(pages).values()) and sound(pages)


def sound(pages: Pages) -> bool:
    """Whether the runs were valid (no errors, nothing abandoned), targets aside."""
    return all(x.errors == 0 and x.abandoned == 0 for x in pages.loads)


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    if not sizes or not all(100 <= n <= 200_000 for n in sizes):
        raise argparse.ArgumentTypeError("sizes: comma-separated, each 100 to 200000")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=(10_000, 100_000), help="loads at")
    parser.add_argument("--sql-sizes", type=_sizes, default=(1_000, 100_000), help="costs at")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-workers2", action="store_true", help="skip mcx serve --workers 2")
    parser.add_argument("--show-sql", action="store_true", help="print each request's SQL")
    args = parser.parse_args()
    if not (1 <= args.users <= 1000 and 0.5 <= args.seconds <= 60):
        parser.error("need 1 <= --users <= 1000 and 0.5 <= --seconds <= 60")
    pages = run(
        measure(args.sizes, args.sql_sizes, users=args.users, seconds=args.seconds,
                workers2=not args.no_workers2)
    )  # fmt: skip
    print(table(pages))
    if args.show_sql:
        for c in pages.costs:
            print(f"\nGET {c.path} at {c.size:,} open tasks:")
            print("\n".join(f"  {s}" for s in c.statements))
    return 0 if ok(pages) else 1


if __name__ == "__main__":
    raise SystemExit(main())
