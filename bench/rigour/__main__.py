"""`python -m bench.rigour` (`make rigour`): run every policy on the same population and write
bench/RIGOUR.md with the table and bench/rigour.svg with the chart.

With no population options, three populations in one invocation: the default mix, a harsher
one (25 % careless, 10 % colluding in pairs) and a third mix, each under its own seed. Any
population option (--seed, a share, a count) makes it one custom population instead."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from app.simulation.population import Mix, Params
from bench.rigour.report import Population, write_report
from bench.rigour.run import RunConfig, rigour_run
from bench.rigour.world import POLICIES

HERE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Preset:
    name: str
    seed: int
    mix: Mix


PRESETS = (
    Preset("A, the default mix", 2026, Mix()),
    Preset(
        "B, harsher: 25 % careless, 10 % colluding",
        7,
        Mix(careless=0.25, harsh=0.05, lenient=0.05, colluding=0.10, noisy=0.10, slow=0.05),
    ),
    Preset(
        "C, biased and noisy: 15 % careless, 10 % harsh, 10 % lenient, 15 % noisy, 10 % colluding",
        99,
        Mix(careless=0.15, harsh=0.10, lenient=0.10, colluding=0.10, noisy=0.15, slow=0.05),
    ),
)
SHARES = ("careless", "harsh", "lenient", "colluding", "noisy", "slow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, help="one custom population (default: three presets)")
    parser.add_argument("--earners", type=int, default=120)
    parser.add_argument("--peers", type=int, default=40)
    parser.add_argument("--experts", type=int, default=4)
    parser.add_argument("--arrival-hours", type=float, default=48.0, help="packets arrive over")
    defaults = Mix()
    for share in SHARES:
        parser.add_argument(
            f"--{share}",
            type=float,
            help=f"share of peers{', in pairs' if share == 'colluding' else ''} "
            f"(custom population; default {getattr(defaults, share)})",
        )
    parser.add_argument(
        "--scale", type=float, default=RunConfig.scale, help="wall seconds per simulated hour"
    )
    parser.add_argument(
        "--horizon", type=float, default=RunConfig.horizon_hours, help="simulated hours at most"
    )
    parser.add_argument(
        "--policies",
        help="comma-separated policy names to run (default all: "
        + ",".join(p.name for p in POLICIES)
        + ")",
    )
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    policies = POLICIES
    if args.policies:
        wanted = args.policies.split(",")
        unknown = set(wanted) - {p.name for p in POLICIES}
        if unknown:
            parser.error(f"unknown policies: {', '.join(sorted(unknown))}")
        policies = tuple(p for p in POLICIES if p.name in wanted)
    custom = args.seed is not None or any(getattr(args, s) is not None for s in SHARES)
    if custom:
        mix = Mix(
            **{
                s: getattr(args, s) if getattr(args, s) is not None else getattr(defaults, s)
                for s in SHARES
            }
        )
        if sum(getattr(mix, s) for s in SHARES) > 1:
            parser.error("the trait shares add up to more than 1")
        presets: tuple[Preset, ...] = (
            Preset("custom", args.seed if args.seed is not None else 2026, mix),
        )
    else:
        presets = PRESETS
    started = time.monotonic()
    done = []
    for preset in presets:
        params = Params(
            seed=preset.seed,
            earners=args.earners,
            peers=args.peers,
            experts=args.experts,
            mix=preset.mix,
            arrival_hours=args.arrival_hours,
        )
        config = RunConfig(
            params=params, policies=policies, scale=args.scale, horizon_hours=args.horizon
        )
        began = time.monotonic()
        results = asyncio.run(rigour_run(config))
        done.append(Population(preset.name, config, results, time.monotonic() - began))
        print(f"population {preset.name}: {time.monotonic() - began:.0f} s", flush=True)
    write_report(args.out, done, time.monotonic() - started)


if __name__ == "__main__":
    main()
