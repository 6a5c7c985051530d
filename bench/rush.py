"""Rush hour: everyone presses claim-next at once, and the live-claim cap under simultaneous taps.

Both run through the real HTTP API of one `mcx serve` (started with MCX_MAX_LIVE_CLAIMS=1),
one new connection per tap, every tap sent at the same moment (`loadgen.burst`), and are then
checked in PostgreSQL. Each scenario has an organisation of its own, so its reviewers are
eligible for exactly its open tasks and nothing else (the demo's work does not mix in).

Claim-next rush (`POST /api/v1/tasks/claim-next`): R reviewers, T open tasks. Every reviewer
first makes one authenticated request (`GET /api/v1/tasks/<unknown id>`, 100 at a time), so
the rush meets warm connections pools, not first log-ins. Targets: min(R, T) different tasks
claimed, R - min(R, T) "no work" answers (404; with T >= R: none), no 5xx, and PostgreSQL
agrees with every 201 (each winner holds the task it was told, nobody holds two).

Cap race (`POST /api/v1/tasks/{id}/claim`, cap 1): N reviewers each tap 2 different open tasks
at once (two connections each, like two tabs), and at the same moment one reviewer taps 20.
Nobody competes for a task, so only the cap can turn a tap away. Target: 0 reviewers holding
more than MCX_MAX_LIVE_CLAIMS in PostgreSQL; and each of them should hold exactly one.

    python -m bench.rush                         # both parts
    python -m bench.rush --part next --reviewers 500 --tasks 600
    python -m bench.rush --part cap --cap-reviewers 100 --greedy 20
"""

from __future__ import annotations

import argparse
import uuid
from collections import Counter
from dataclasses import dataclass, field

from bench import loadgen, seed
from bench.harness import Mcx, free_port, fresh_mcx, run
from bench.loadgen import Answer, Call, pct, verdict

CLAIM_NEXT = "/api/v1/tasks/claim-next"
CLAIM = "/api/v1/tasks/{task}/claim"
CAP = 1


@dataclass
class Rush:
    reviewers: int
    tasks: int
    seconds: float
    statuses: Counter[int]
    distinct_told: int  # different tasks named in the 201 answers
    no_work: int  # 404 answers
    server_errors: int  # 5xx answers
    no_answer: int  # connection lost / time limit
    distinct_held: int  # different tasks the reviewers hold in PostgreSQL
    over_one: int  # reviewers holding more than one task in PostgreSQL
    disagree: int  # 201 answers whose task PostgreSQL does not give to that reviewer
    latencies: list[float] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return min(self.reviewers, self.tasks)

    @property
    def checks(self) -> list[tuple[str, int, str, bool]]:
        expect_no_work = self.reviewers - self.expected
        return [
            ("different tasks claimed (PostgreSQL)", self.distinct_held, f"= {self.expected}",
             self.distinct_held == self.expected),
            ('"no work" answers (404)', self.no_work, f"= {expect_no_work}",
             self.no_work == expect_no_work),
            ("5xx answers", self.server_errors, "= 0", self.server_errors == 0),
            ("no answer (time limit, lost connection)", self.no_answer, "= 0", self.no_answer == 0),
            ("201s PostgreSQL disagrees with", self.disagree, "= 0", self.disagree == 0),
            ("reviewers holding two or more", self.over_one, "= 0", self.over_one == 0),
        ]  # fmt: skip


@dataclass
class CapGroup:
    name: str
    reviewers: int
    taps_each: int
    statuses: Counter[int]
    error_codes: Counter[str]
    told_more: int  # reviewers told 201 more than CAP times
    over_cap: int  # reviewers holding more than CAP tasks in PostgreSQL
    most_held: int
    holding_none: int


@dataclass
class CapRace:
    seconds: float
    groups: list[CapGroup]

    @property
    def over_cap(self) -> int:
        return sum(g.over_cap for g in self.groups)


@dataclass
class Results:
    rushes: list[Rush] = field(default_factory=list)
    cap: CapRace | None = None


async def _server(mcx: Mcx) -> int:
    port = free_port()
    await mcx.serve(port, name="rush", env={"MCX_MAX_LIVE_CLAIMS": str(CAP)})
    return port


async def _warm(port: int, people: list[seed.Person]) -> None:
    """One authenticated request per reviewer (a 404: no such task), 100 at a time."""
    calls = [Call("GET", f"/api/v1/tasks/{uuid.uuid4()}", p.auth) for p in people]
    for start in range(0, len(calls), 100):
        await loadgen.burst("127.0.0.1", port, calls[start : start + 100], settle=0)


def _task_id(answer: Answer) -> uuid.UUID | None:
    """The task a 201 names (None when it names none: PostgreSQL will disagree)."""
    data = answer.json()
    try:
        return uuid.UUID(str(data["task_id"])) if isinstance(data, dict) else None
    except (KeyError, ValueError):
        return None


async def claim_next_rush(
    mcx: Mcx, port: int, reviewers: int = 500, tasks: int = 600, *, time_limit: float = 120.0
) -> Rush:
    """R reviewers of a new organisation press claim-next at once on its T open tasks."""
    runtime = mcx.runtime
    organisation = await seed.organisation(runtime, "rush")
    credential = await seed.credential(runtime, "rush", organisation=organisation)
    await seed.tasks(runtime, [credential], tasks)
    people = await seed.people(runtime, reviewers, organisation=organisation)
    await _warm(port, people)
    answers, seconds = await loadgen.burst(
        "127.0.0.1", port, [Call("POST", CLAIM_NEXT, p.auth) for p in people],
        time_limit=time_limit,
    )  # fmt: skip
    told: dict[uuid.UUID, uuid.UUID | None] = {}
    for person, answer in zip(people, answers, strict=True):
        if answer.status == 201:
            told[person.id] = _task_id(answer)
    held = await seed.claims_of(runtime, [p.id for p in people])
    statuses = Counter(a.status for a in answers)
    return Rush(
        reviewers=reviewers,
        tasks=tasks,
        seconds=seconds,
        statuses=statuses,
        distinct_told=len({t for t in told.values() if t is not None}),
        no_work=sum(1 for a in answers if a.status == 404),
        server_errors=sum(n for s, n in statuses.items() if s >= 500),
        no_answer=statuses.get(0, 0),
        distinct_held=len(set().union(*held.values())) if held else 0,
        over_one=sum(1 for t in held.values() if len(t) > 1),
        disagree=sum(1 for r, t in told.items() if t not in held.get(r, set())),
        latencies=[a.seconds for a in answers if a.status in (201, 404)],
    )


async def cap_race(
    mcx: Mcx, port: int, reviewers: int = 100, *, taps_each: int = 2, greedy: int = 20,
    time_limit: float = 120.0,
) -> CapRace:  # fmt: skip
    """`reviewers` reviewers tap `taps_each` different tasks each, and one more reviewer taps
    `greedy` tasks, all at the same moment; nobody competes for a task."""
    runtime = mcx.runtime
    organisation = await seed.organisation(runtime, "cap")
    credential = await seed.credential(runtime, "cap", organisation=organisation)
    task_ids = await seed.tasks(runtime, [credential], reviewers * taps_each + greedy)
    people = await seed.people(runtime, reviewers + 1, organisation=organisation)
    await _warm(port, people)
    plan: list[tuple[seed.Person, uuid.UUID]] = []
    for i, person in enumerate(people[:reviewers]):
        plan += [(person, task_ids[i * taps_each + k]) for k in range(taps_each)]
    plan += [(people[-1], task) for task in task_ids[reviewers * taps_each :]]
    answers, seconds = await loadgen.burst(
        "127.0.0.1", port, [Call("POST", CLAIM.format(task=t), p.auth) for p, t in plan],
        time_limit=time_limit,
    )  # fmt: skip
    held = await seed.claims_of(runtime, [p.id for p in people])
    groups = []
    for name, members, each in (
        (f"{reviewers} reviewers × {taps_each} taps", people[:reviewers], taps_each),
        (f"1 reviewer × {greedy} taps", people[-1:], greedy),
    ):
        ids = {p.id for p in members}
        mine: list[tuple[seed.Person, Answer]] = [
            (p, a) for (p, _), a in zip(plan, answers, strict=True) if p.id in ids
        ]
        wins = Counter(p.id for p, a in mine if a.status == 201)
        counts = [len(held.get(p.id, set())) for p in members]
        groups.append(
            CapGroup(
                name=name,
                reviewers=len(members),
                taps_each=each,
                statuses=Counter(a.status for _, a in mine),
                error_codes=Counter(a.error_code for _, a in mine if a.status != 201),
                told_more=sum(1 for n in wins.values() if n > CAP),
                over_cap=sum(1 for n in counts if n > CAP),
                most_held=max(counts, default=0),
                holding_none=sum(1 for n in counts if n == 0),
            )
        )
    return CapRace(seconds, groups)


async def measure(
    scenarios: list[tuple[int, int]] | None = None,
    *,
    cap_reviewers: int = 100,
    greedy: int = 20,
    parts: tuple[str, ...] = ("next", "cap"),
) -> Results:
    """The claim-next rush for each (reviewers, tasks) scenario (default 500 on 600, and
    200 on 59: work runs out), then the cap race, on one fresh MCX and one `mcx serve`."""
    from bench.live_feed import raise_fd_limit

    raise_fd_limit()
    results = Results()
    async with fresh_mcx() as mcx:
        port = await _server(mcx)
        if "next" in parts:
            for reviewers, tasks in scenarios or [(500, 600), (200, 59)]:
                rush = await claim_next_rush(mcx, port, reviewers, tasks)
                print(f"  claim-next {reviewers} on {tasks}: {dict(rush.statuses)}", flush=True)
                results.rushes.append(rush)
        if "cap" in parts:
            results.cap = await cap_race(mcx, port, cap_reviewers, greedy=greedy)
    return results


def table(results: Results) -> str:
    lines: list[str] = []
    if results.rushes:
        lines += [
            "| reviewers | open tasks | answers (status: count) | different tasks told | "
            "p50 / p99 ms | seconds | check | figure | target | verdict |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for rush in results.rushes:
            head = (
                f"| {rush.reviewers} | {rush.tasks} | "
                f"{', '.join(f'{s}: {n}' for s, n in sorted(rush.statuses.items()))} | "
                f"{rush.distinct_told} | {pct(rush.latencies, 0.5):.0f} / "
                f"{pct(rush.latencies, 0.99):.0f} | {rush.seconds:.1f} |"
            )
            for i, (what, figure, target, met) in enumerate(rush.checks):
                lead = head if i == 0 else "| | | | | | |"
                lines.append(f"{lead} {what} | {figure} | {target} | {verdict(met)} |")
    if results.cap is not None:
        lines += [
            "",
            f"Cap race (MCX_MAX_LIVE_CLAIMS={CAP}), every tap at the same moment, "
            f"{results.cap.seconds:.1f} s:",
            "",
            "| who | answers (status: count) | refusals (error: count) | told 201 more than the "
            "cap | over the cap in PostgreSQL | most held | holding none | verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for g in results.cap.groups:
            answers = ", ".join(f"{s}: {n}" for s, n in sorted(g.statuses.items()))
            codes = ", ".join(f"{c or '?'}: {n}" for c, n in sorted(g.error_codes.items()))
            lines.append(
                f"| {g.name} | {answers} | {codes or '–'} | {g.told_more} | {g.over_cap} | "
                f"{g.most_held} | {g.holding_none} | {verdict(g.over_cap == 0)} |"
            )
    return "\n".join(lines)


def ok(results: Results) -> bool:
    rushes = all(met for rush in results.rushes for *_, met in rush.checks)
    return rushes and (results.cap is None or results.cap.over_cap == 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["next", "cap", "all"], default="all")
    parser.add_argument("--reviewers", type=int, help="claim-next: reviewers (default 500, 200)")
    parser.add_argument("--tasks", type=int, help="claim-next: open tasks (default 600, 59)")
    parser.add_argument("--cap-reviewers", type=int, default=100)
    parser.add_argument("--greedy", type=int, default=20, help="taps of the one greedy reviewer")
    args = parser.parse_args()
    scenarios = None
    if args.reviewers or args.tasks:
        scenarios = [(args.reviewers or 500, args.tasks or 600)]
    for reviewers, tasks in scenarios or []:
        if not (1 <= reviewers <= 5000 and 1 <= tasks <= 100_000):
            parser.error("need 1 <= reviewers <= 5000 and 1 <= tasks <= 100000")
    if not (1 <= args.cap_reviewers <= 2000 and 1 <= args.greedy <= 200):
        parser.error("need 1 <= --cap-reviewers <= 2000 and 1 <= --greedy <= 200")
    parts = ("next", "cap") if args.part == "all" else (args.part,)
    results = run(
        measure(scenarios, cap_reviewers=args.cap_reviewers, greedy=args.greedy, parts=parts)
    )
    print(table(results))
    return 0 if ok(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
