"""One rigour run: a fresh MCX (real `mcx serve` and `mcx worker` on PostgreSQL and Redis), one
world per policy, the same simulated population in each, all on one compressed clock."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import text

from app.simulation.population import Params, Population, Trait, make_population
from bench.harness import PYTHON, Mcx, free_port, fresh_mcx
from bench.rigour.agents import Actor, Clock, Log, colluder, earner, review_hours, reviewer
from bench.rigour.metrics import Result, measure
from bench.rigour.world import Policy, World, build_world, calibrate, configure_quality


@dataclass(frozen=True)
class RunConfig:
    params: Params
    policies: tuple[Policy, ...]
    # Wall seconds per simulated hour. At 1 s one `mcx serve` running every policy at once on a
    # 2-core machine saturated and its answers took simulated hours; at 2 s a slower day's
    # machine answered in a median 1.3-1.8 s (40-55 simulated minutes a request), which the
    # time to decision measured more than the policies (RIGOUR.md gives the answer times).
    scale: float = 3.0
    lease_minutes: int = 1  # real minutes; with scale 2.0 a lease lasts 30 simulated hours
    horizon_hours: float = 260.0  # give up on undecided work after this long
    # A smoke run (the suite's) stops a policy once this many of its packets are decided, so a
    # busy machine takes longer rather than fails; None: until all are decided or the horizon.
    enough: int | None = None


async def _decided(mcx: Mcx, world: World) -> int:
    async with mcx.runtime.engine.connect() as conn:
        decided = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM outcomes o JOIN submissions s ON s.id = o.submission_id "
                    "WHERE s.credential_id = :c"
                ),
                {"c": world.credential_id},
            )
        ).scalar_one()
    return int(decided)


async def _worker_ready(mcx: Mcx, wait: float = 120.0) -> None:
    """The simulated clock must not start before the worker takes jobs (checks open tasks)."""
    deadline = time.monotonic() + wait
    while "Starting worker for" not in mcx.log_tail("worker"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start: {mcx.log_tail('worker')}")
        await asyncio.sleep(0.2)


async def _simulate(
    mcx: Mcx, base: str, world: World, population: Population, config: RunConfig, clock: Clock
) -> Log:
    log = Log()
    stop = asyncio.Event()
    seed = config.params.seed
    truths = {e.key: e.truth for e in population.earners} | world.examples
    traits = world.policy.peer_traits
    peers = [r for r in population.peers if traits is None or r.trait in traits]
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        people = [
            earner(
                Actor(world, http, log, e.account or e.key),
                e,
                clock,
                random.Random(f"{seed}:{e.key}"),
            )
            for e in population.earners
        ]
        people += [
            colluder(
                Actor(world, http, log, r.key),
                r,
                truths,
                clock,
                random.Random(f"{seed}:{r.key}:grab"),
                stop,
                review_hours=review_hours(population, r),
            )
            for r in peers
            if r.trait == Trait.colluding
        ]
        visits = {
            r.key: config.params.expert_visit_hours
            if r in population.experts
            else config.params.peer_visit_hours
            for r in (*population.peers, *population.experts)
        }
        people += [
            reviewer(
                Actor(world, http, log, r.key),
                r,
                truths,
                clock,
                random.Random(f"{seed}:{r.key}"),
                stop,
                visit_hours=visits[r.key],
                review_hours=review_hours(population, r),
            )
            for r in (*peers, *population.experts)
        ]
        running = [asyncio.create_task(p) for p in people]
        try:
            while clock.hours() < config.horizon_hours:
                await clock.sleep(2.0)
                arrived = clock.hours() > config.params.arrival_hours + 1
                decided = await _decided(mcx, world)
                if arrived and decided >= (config.enough or len(log.submission_of)):
                    break
        finally:
            stop.set()
            await asyncio.wait(running, timeout=30 * config.scale + 60)
            for task in running:
                task.cancel()
            for outcome in await asyncio.gather(*running, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.errors.append(f"a simulated person failed: {outcome!r}")
    return log


async def rigour_run(config: RunConfig) -> list[Result]:
    population = make_population(config.params)
    async with fresh_mcx(demo=False) as mcx:
        worlds = [
            await build_world(mcx.runtime, policy, population, lease_minutes=config.lease_minutes)
            for policy in config.policies
        ]
        kept_out: dict[str, int] = {}
        for world in worlds:
            rng = random.Random(f"{config.params.seed}:{world.policy.name}:setup")
            await configure_quality(mcx.runtime, world, population, rng)
            if world.policy.quality.get("calibration_required"):
                passed = await calibrate(mcx.runtime, world, population.peers, rng)
                kept_out[world.policy.name] = sum(1 for ok in passed.values() if not ok)
                # The gate is per credential, experts included: they calibrate too.
                await calibrate(mcx.runtime, world, population.experts, rng)
        base = await mcx.serve(free_port())
        await mcx.start("worker", [*PYTHON, "worker"])
        await _worker_ready(mcx)
        clock = Clock(config.scale)
        logs = await asyncio.gather(
            *(_simulate(mcx, base, w, population, config, clock) for w in worlds)
        )
        if any(log.errors for log in logs):
            print(mcx.log_tail("serve"), flush=True)
        return [
            await measure(
                mcx.runtime.engine,
                world,
                population,
                log,
                config.scale,
                expert_hours_each=config.params.expert_review_hours,
                kept_out=kept_out.get(world.policy.name, 0),
            )
            for world, log in zip(worlds, logs, strict=True)
        ]
