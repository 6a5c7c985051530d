"""`python -m bench.rigour` (`make rigour`): run every policy on the same population and write
bench/RIGOUR.md with the table and bench/rigour.svg with the chart."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from app.simulation.population import Mix, Params
from bench.rigour.report import write_report
from bench.rigour.run import RunConfig, rigour_run
from bench.rigour.world import POLICIES

HERE = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--earners", type=int, default=120)
    parser.add_argument("--peers", type=int, default=40)
    parser.add_argument("--experts", type=int, default=4)
    parser.add_argument("--arrival-hours", type=float, default=48.0, help="packets arrive over")
    parser.add_argument("--careless", type=float, default=0.20, help="share of peers")
    parser.add_argument("--harsh", type=float, default=0.05, help="share of peers")
    parser.add_argument("--lenient", type=float, default=0.05, help="share of peers")
    parser.add_argument("--colluding", type=float, default=0.05, help="share of peers, in pairs")
    parser.add_argument("--noisy", type=float, default=0.10, help="share of peers")
    parser.add_argument("--slow", type=float, default=0.05, help="share of peers")
    parser.add_argument("--scale", type=float, default=1.0, help="wall seconds per simulated hour")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    mix = Mix(
        careless=args.careless,
        harsh=args.harsh,
        lenient=args.lenient,
        colluding=args.colluding,
        noisy=args.noisy,
        slow=args.slow,
    )
    if sum((mix.careless, mix.harsh, mix.lenient, mix.colluding, mix.noisy, mix.slow)) > 1:
        parser.error("the trait shares add up to more than 1")
    params = Params(
        seed=args.seed,
        earners=args.earners,
        peers=args.peers,
        experts=args.experts,
        mix=mix,
        arrival_hours=args.arrival_hours,
    )
    config = RunConfig(params=params, policies=POLICIES, scale=args.scale)
    started = time.monotonic()
    results = asyncio.run(rigour_run(config))
    write_report(args.out, config, results, time.monotonic() - started)


if __name__ == "__main__":
    main()
