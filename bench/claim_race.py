"""Claim race: R reviewers tap T open tasks at once, through real server processes.

Servers, all up at the same time on one fresh MCX (one PostgreSQL database, one Redis prefix):
- `ceiling`: a bare Starlette endpoint making one Redis call (SET NX) per tap;
- `pg_only`: a bare Starlette endpoint making one conditional UPDATE per tap;
- `mcx`: `mcx serve` (one process), the real `POST /api/v1/tasks/{id}/claim` (token auth,
  eligibility, the Redis gate, the fenced PostgreSQL claim, events);
- `mcx x2`: `mcx serve --workers 2`, the same endpoint on two processes.

Reviewer i taps task i mod T, so every task has R/T racers. Every round gives every server the
same treatment, one server after the other: a warm-up race (the same R reviewers on T other
tasks, new connections), the warm-up tasks reset, then the measured race on new connections
(opened before the first tap), then the check in PostgreSQL and the reset. Rounds are repeated
(default 3) and each server's median run (by answers/s) is reported, so one noisy run does not
decide. Resetting mcx's tasks goes through the real API (every winner releases its claim), so
whatever Redis keeps besides PostgreSQL is kept right by MCX itself; the PostgreSQL-only
baseline's tasks (another credential's) are reset with one UPDATE.

A task with two holders: more than one reviewer was told 201 for it, or PostgreSQL's holder is
not the reviewer who was told they won (or a winner's task is not claimed in PostgreSQL).

    python -m bench.claim_race                     # 1,000 reviewers, 200 tasks, 5 rounds
    python -m bench.claim_race --reviewers 500 --tasks 50 --rounds 5 --no-workers2
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlmodel import select

from app.auth import hash_password, new_api_token
from app.models import ApiToken, Membership, Organisation, Role, User
from app.runtime import Runtime
from bench import loadgen, seed
from bench.harness import Mcx, free_port, fresh_mcx, run
from bench.loadgen import Answer, Call, pct, verdict

CLAIM = "/api/v1/tasks/{task}/claim"
RELEASE = "/api/v1/tasks/{task}/release"
BASELINE_CLAIM = "/claim/{task}"

# Targets (issue 14): mcx against the same run's baselines.
VS_CEILING = 0.5  # answers/s >= 0.5x the ceiling's
VS_PG_ONLY = 1.0  # answers/s >= 1.0x the PostgreSQL-only claim's
LOSS_P99 = 2.0  # loser p99 <= 2x the ceiling's p99 (all its answers)
WIN_P99 = 3.0  # winner p99 <= 3x the ceiling's p99


@dataclass
class Race:
    server: str
    reviewers: int
    tasks: int
    seconds: float
    wins: list[float]
    losses: list[float]
    statuses: Counter[int] = field(default_factory=Counter)
    two_holders: int = 0

    @property
    def answers_per_second(self) -> float:
        return (len(self.wins) + len(self.losses)) / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in (201, 409))

    @property
    def p99(self) -> float:
        """The p99 of every answer (wins and losses), ms."""
        return pct(self.wins + self.losses, 0.99)

    @property
    def double_claims(self) -> int:  # the old name, kept for callers
        return self.two_holders


@dataclass
class Series:
    """One server's repeated races; the median run (by answers/s) stands for it."""

    server: str
    runs: list[Race]

    @property
    def median(self) -> Race:
        ordered = sorted(self.runs, key=lambda r: r.answers_per_second)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def two_holders(self) -> int:
        return sum(r.two_holders for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)


@dataclass
class Server:
    name: str
    port: int
    path: str
    race_tasks: list[uuid.UUID]
    warm_tasks: list[uuid.UUID]
    in_postgres: bool  # whether its claims are rows in review_tasks
    released_through_api: bool


# -- setup -----------------------------------------------------------------------------------


async def _people(
    runtime: Runtime, count: int, role: Role | None, tag: str
) -> list[tuple[uuid.UUID, str]]:
    """People with API tokens through the ORM (used by live_feed and capacity; bulk: seed)."""
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
    its one submission criterion's id (used by live_feed)."""
    from app.actions import catalog

    credential_id = await seed.credential(runtime, tag)
    async with runtime.sessions() as session:
        criterion = (await catalog.criteria_of(session, credential_id))[0]
    return credential_id, criterion.id


# -- one race --------------------------------------------------------------------------------


def _calls(server: Server, tasks: list[uuid.UUID], reviewers: list[seed.Person]) -> list[Call]:
    return [
        Call(
            "POST",
            server.path.format(task=tasks[i % len(tasks)]),
            {**person.auth, "X-Reviewer": str(person.id)},
        )
        for i, person in enumerate(reviewers)
    ]


def _winners(
    tasks: list[uuid.UUID], reviewers: list[seed.Person], answers: list[Answer]
) -> dict[uuid.UUID, list[tuple[seed.Person, Answer]]]:
    won: dict[uuid.UUID, list[tuple[seed.Person, Answer]]] = {}
    for i, (person, answer) in enumerate(zip(reviewers, answers, strict=True)):
        if answer.status == 201:
            won.setdefault(tasks[i % len(tasks)], []).append((person, answer))
    return won


async def _two_holders(
    runtime: Runtime,
    server: Server,
    tasks: list[uuid.UUID],
    won: dict[uuid.UUID, list[tuple[seed.Person, Answer]]],
) -> int:
    """Tasks with more than one holder: told over HTTP, and checked against PostgreSQL."""
    bad = {task for task, winners in won.items() if len({p.id for p, _ in winners}) > 1}
    if server.in_postgres:
        held = await seed.holders(runtime, tasks)
        for task, holder in held.items():
            told = {p.id for p, _ in won.get(task, [])}
            if told and holder not in told:
                bad.add(task)
        bad |= {task for task in won if task not in held}
    return len(bad)


async def _reset(
    runtime: Runtime,
    server: Server,
    tasks: list[uuid.UUID],
    won: dict[uuid.UUID, list[tuple[seed.Person, Answer]]],
) -> None:
    """Every task of this race open again, every winner free again."""
    if not server.in_postgres:
        prefix = runtime.settings.redis_prefix + "baseline:"
        keys = [k async for k in runtime.redis.scan_iter(match=prefix + "*")]
        if keys:
            await runtime.redis.delete(*keys)
        return
    if server.released_through_api:
        calls = []
        for task, winners in won.items():
            for person, answer in winners:
                version = (answer.json() or {}).get("lease_version", 0)
                calls.append(
                    Call(
                        "POST",
                        RELEASE.format(task=task),
                        person.auth,
                        json.dumps({"lease_version": version}).encode(),
                    )
                )
        for start in range(0, len(calls), 100):  # 100 at a time: a reset, not a race
            await loadgen.burst("127.0.0.1", server.port, calls[start : start + 100], settle=0)
        if not await seed.holders(runtime, tasks):
            return
        print(f"  ({server.name}: some releases failed; reopening in PostgreSQL + rebuild)")
    await seed.reopen(runtime, tasks, rebuild=server.released_through_api)


async def race(
    runtime: Runtime,
    server: Server,
    tasks: list[uuid.UUID],
    reviewers: list[seed.Person],
    *,
    time_limit: float = 90.0,
) -> Race:
    """One race on new connections; checked, then reset (tasks open, winners free)."""
    answers, seconds = await loadgen.burst(
        "127.0.0.1", server.port, _calls(server, tasks, reviewers), time_limit=time_limit
    )
    won = _winners(tasks, reviewers, answers)
    two = await _two_holders(runtime, server, tasks, won)
    await _reset(runtime, server, tasks, won)
    return Race(
        server.name,
        len(reviewers),
        len(tasks),
        seconds,
        wins=[a.seconds for a in answers if a.status == 201],
        losses=[a.seconds for a in answers if a.status == 409],
        statuses=Counter(a.status for a in answers),
        two_holders=two,
    )


# -- the benchmark ---------------------------------------------------------------------------


# Every server is up at once: three MCX processes (one, and two behind one port) beside
# pg_only's pool of 20 must stay inside PostgreSQL's usual max_connections of 100. Each MCX
# process keeps 10 connections and 5 for its claim statements.
SERVER_ENV = {"MCX_DB_POOL_SIZE": "10"}


async def servers(mcx: Mcx, tasks: int, *, workers2: bool = True) -> list[Server]:
    """Start the baselines and MCX (and MCX on two processes), with their tasks."""
    runtime = mcx.runtime
    mcx_credential = await seed.credential(runtime, "race")
    pg_credential = await seed.credential(runtime, "race-pg")
    mcx_tasks = await seed.tasks(runtime, [mcx_credential], 2 * tasks, rebuild=False)
    pg_tasks = await seed.tasks(runtime, [pg_credential], 2 * tasks)  # rebuilds the queue
    made = []
    port = free_port()
    await mcx.uvicorn("ceiling", "bench.baselines:redis_ceiling", port)
    ceiling_tasks = [uuid.uuid4() for _ in range(2 * tasks)]
    made.append(
        Server("ceiling", port, BASELINE_CLAIM, ceiling_tasks[:tasks], ceiling_tasks[tasks:],
               in_postgres=False, released_through_api=False)
    )  # fmt: skip
    port = free_port()
    await mcx.uvicorn("pg_only", "bench.baselines:pg_only", port)
    made.append(
        Server("pg_only", port, BASELINE_CLAIM, pg_tasks[:tasks], pg_tasks[tasks:],
               in_postgres=True, released_through_api=False)
    )  # fmt: skip
    port = free_port()
    await mcx.serve(port, name="mcx", env=SERVER_ENV)
    made.append(
        Server("mcx", port, CLAIM, mcx_tasks[:tasks], mcx_tasks[tasks:],
               in_postgres=True, released_through_api=True)
    )  # fmt: skip
    if workers2:
        port = free_port()
        await mcx.serve(port, name="mcx x2", workers=2, env=SERVER_ENV)
        made.append(
            Server("mcx x2", port, CLAIM, mcx_tasks[:tasks], mcx_tasks[tasks:],
                   in_postgres=True, released_through_api=True)
        )  # fmt: skip
    return made


async def measure(
    reviewers: int = 1000, tasks: int = 200, *, rounds: int = 5, workers2: bool = True
) -> list[Series]:
    """Every server raced `rounds` times (interleaved: round 1 on every server, then round 2,
    ..., the order turning every round), each race after a warm-up race on other tasks."""
    from bench.live_feed import raise_fd_limit

    raise_fd_limit()
    async with fresh_mcx() as mcx:
        racing = await servers(mcx, tasks, workers2=workers2)
        people = await seed.people(mcx.runtime, reviewers)
        series = {s.name: Series(s.name, []) for s in racing}
        for round_number in range(1, rounds + 1):
            # The order turns every round: no server always races right after the same one
            # (whatever a race leaves behind, the next server pays for it).
            turn = (round_number - 1) % len(racing)
            for server in racing[turn:] + racing[:turn]:
                await race(mcx.runtime, server, server.warm_tasks, people)
                result = await race(mcx.runtime, server, server.race_tasks, people)
                series[server.name].runs.append(result)
                print(
                    f"  round {round_number}: {server.name:8} {result.answers_per_second:8.0f} "
                    f"answers/s, win p99 {pct(result.wins, 0.99):6.0f} ms, loss p99 "
                    f"{pct(result.losses, 0.99):6.0f} ms, statuses {dict(result.statuses)}, "
                    f"two holders {result.two_holders}",
                    flush=True,
                )
        return list(series.values())


def _by_name(results: list[Series]) -> dict[str, Series]:
    return {s.server: s for s in results}


def checks(results: list[Series]) -> list[tuple[str, float, str, bool]]:
    """(what, figure, target, met) for the targets of issue 14."""
    by = _by_name(results)
    found: list[tuple[str, float, str, bool]] = []
    mcx = by["mcx"].median
    ceiling = by["ceiling"].median
    pg_only = by["pg_only"].median
    tasks_with_two = sum(s.two_holders for s in results if s.server.startswith("mcx"))
    found.append(("tasks with two holders (mcx, every run)", tasks_with_two, "= 0",
                  tasks_with_two == 0))  # fmt: skip
    errors = sum(s.errors for s in results if s.server.startswith("mcx"))
    found.append(("answers other than 201 / 409 (mcx, every run)", errors, "= 0", errors == 0))
    ratio = mcx.answers_per_second / ceiling.answers_per_second
    found.append(("answers/s vs ceiling", ratio, f">= {VS_CEILING}", ratio >= VS_CEILING))
    ratio = mcx.answers_per_second / pg_only.answers_per_second
    found.append(("answers/s vs pg_only", ratio, f">= {VS_PG_ONLY}", ratio >= VS_PG_ONLY))
    ratio = pct(mcx.losses, 0.99) / ceiling.p99
    found.append(("loser p99 vs ceiling p99", ratio, f"<= {LOSS_P99}", ratio <= LOSS_P99))
    ratio = pct(mcx.wins, 0.99) / ceiling.p99
    found.append(("winner p99 vs ceiling p99", ratio, f"<= {WIN_P99}", ratio <= WIN_P99))
    return found


def table(results: list[Series]) -> str:
    by = _by_name(results)
    ceiling = by["ceiling"].median
    lines = [
        "| server | answers/s (median run) | every run | vs ceiling | win p50 / p99 / max ms "
        "| loss p50 / p99 / max ms | all p99 ms | wins | errors (all runs) | tasks with two holders (all runs) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for s in results:
        m = s.median
        runs = ", ".join(f"{r.answers_per_second:.0f}" for r in s.runs)
        win = f"{pct(m.wins, 0.5):.0f} / {pct(m.wins, 0.99):.0f} / {max(m.wins, default=0) * 1000:.0f}"
        loss = f"{pct(m.losses, 0.5):.0f} / {pct(m.losses, 0.99):.0f} / {max(m.losses, default=0) * 1000:.0f}"
        lines.append(
            f"| {s.server} | {m.answers_per_second:,.0f} | {runs} | "
            f"{m.answers_per_second / ceiling.answers_per_second:.2f} | {win} | {loss} | "
            f"{m.p99:.0f} | {len(m.wins)} | {s.errors} | {s.two_holders} |"
        )
    lines += ["", "| target (mcx, median run) | figure | target | verdict |", "|---|---|---|---|"]
    for what, figure, target, met in checks(results):
        shown = f"{figure:.0f}" if what.startswith(("tasks", "answers other")) else f"{figure:.2f}"
        lines.append(f"| {what} | {shown} | {target} | {verdict(met)} |")
    if "mcx x2" in by:
        one, two = by["mcx"].median, by["mcx x2"].median
        lines += [
            "",
            "| 2 processes (`mcx serve --workers 2`) vs 1 | ratio |",
            "|---|---|",
            f"| answers/s | {two.answers_per_second / one.answers_per_second:.2f} |",
            f"| winner p99 | {pct(two.wins, 0.99) / pct(one.wins, 0.99):.2f} |",
            f"| loser p99 | {pct(two.losses, 0.99) / pct(one.losses, 0.99):.2f} |",
        ]
    return "\n".join(lines)


def ok(results: list[Series]) -> bool:
    """Whether every target was met."""
    return all(met for _, _, _, met in checks(results))


def sound(results: list[Series]) -> bool:
    """Whether the runs were valid (no two holders, no errors), targets aside."""
    return all(s.two_holders == 0 and s.errors == 0 for s in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reviewers", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-workers2", action="store_true", help="skip mcx serve --workers 2")
    args = parser.parse_args()
    if not (1 <= args.tasks <= args.reviewers <= 5000 and 1 <= args.rounds <= 9):
        parser.error("need 1 <= tasks <= reviewers <= 5000 and 1 <= rounds <= 9")
    results = run(
        measure(args.reviewers, args.tasks, rounds=args.rounds, workers2=not args.no_workers2)
    )
    print(table(results))
    return 0 if ok(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
