"""`python -m bench.rigour` (`make rigour`): run every policy on the same population and write
bench/RIGOUR.md with the table and bench/rigour.svg with the chart."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from app.simulation.population import Params
from bench.rigour.report import write_report
from bench.rigour.run import RunConfig, rigour_run
from bench.rigour.world import POLICIES

HERE = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--earners", type=int, default=120)
    parser.add_argument("--peers", type=int, default=40)
    parser.add_argument("--scale", type=float, default=1.0, help="wall seconds per simulated hour")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    params = Params(seed=args.seed, earners=args.earners, peers=args.peers)
    config = RunConfig(params=params, policies=POLICIES, scale=args.scale)
    started = time.monotonic()
    results = asyncio.run(rigour_run(config))
    write_report(args.out, config, results, time.monotonic() - started)


if __name__ == "__main__":
    main()
