"""`make bench`: every benchmark in one run, written to bench/RESULTS.md with the machine,
the date and the commit. Figures are ratios against baselines measured in the same run."""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench import capacity, claim_race, e2e, live_feed, media, pages, rebuild

RESULTS = Path(__file__).parent / "RESULTS.md"


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:  # noqa: PTH123
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:  # noqa: PTH123
        total_kib = int(info.readline().split()[1])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"- machine: {os.cpu_count()} cores ({cpu}), {total_kib / 1024 / 1024:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}\n"
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n- commit: {commit or 'unknown'}\n"
        f"- database: {'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded'}; "
        f"redis: {'REDIS_URL' if os.environ.get('REDIS_URL') else 'embedded'}"
    )


def main() -> int:
    sections = ["# MCX benchmark results", "", machine(), ""]
    races = asyncio.run(claim_race.run([(100, 50), (500, 50), (1000, 200)]))
    sections += [
        "## Claim race",
        "",
        "R reviewers tap T open tasks at once through each server's HTTP API (reviewer i taps "
        "task i mod T). `vs ceiling` is answers/s relative to a bare Starlette endpoint making "
        "one Redis call, measured in the same run; `pg_only` is a one-query PostgreSQL claim.",
        "",
        claim_race.table(races),
        "",
    ]
    sections += [
        "## Queue rebuild from PostgreSQL",
        "",
        rebuild.table(asyncio.run(rebuild.measure([10_000, 100_000]))),
        "",
    ]
    feeds = asyncio.run(live_feed.measure([1000, 5000]))
    sections += [
        "## Live feed (reviewer websockets on one `mcx serve`)",
        "",
        "C sockets, every one eligible; 5 packets/s for 10 s through the real actions, commit → "
        "arrival on every socket; 20 claims over HTTP, claim → `task.claimed` on every socket. "
        "`push / poll CPU` compares the server's CPU for that window with what the same phones "
        "polling `GET /api/v1/tasks` every 5 s would cost it (target ≤ 0.1).",
        "",
        live_feed.table(feeds),
        "",
    ]
    held = asyncio.run(capacity.measure([1000, 5000, 10_000], idle=5))
    sections += [
        "## Capacity (idle websockets on one `mcx serve`)",
        "",
        "VmRSS from /proc; KiB per socket over the 0-socket baseline; the last row is a bare "
        "Starlette websocket endpoint with the same uvicorn settings (the floor).",
        "",
        capacity.table(held),
        "",
    ]
    served = asyncio.run(pages.measure())
    sections += [
        "## Pages and API (realistic data)",
        "",
        "32 keep-alive clients for 5 s per endpoint against one `mcx serve` with 10,000 packets "
        "waiting in review, and a bare Starlette hello-world served the same way in the same run "
        "(target ≥ 0.30). SQL statements per warm request are counted in-process at 1,000 and "
        "10,000 open tasks (target ≤ 5, whatever the data size).",
        "",
        pages.table(served),
        "",
    ]
    figures = asyncio.run(e2e.run_e2e())
    sections += [
        "## End to end (mcx serve + mcx worker, one earner, two peers)",
        "",
        "| step | ms |",
        "|---|---|",
    ]
    sections += [f"| {step} | {seconds * 1000:.0f} |" for step, seconds in figures.items()]
    sections += media.section()  # transcoding speed and the worker's memory (issue 19)
    RESULTS.write_text("\n".join(sections) + "\n")
    print(RESULTS.read_text())
    ok = all(r.double_claims == 0 and r.errors == 0 for r in races)
    return 0 if ok and live_feed.ok(feeds) and capacity.ok(held) and pages.ok(served) else 1


if __name__ == "__main__":
    raise SystemExit(main())
