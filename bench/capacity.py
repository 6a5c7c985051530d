"""Capacity: idle websockets held by one `mcx serve` process, and its resident memory per socket.

On a fresh `mcx serve`: its RSS cold (0 connections) and after a warm-up (a few sockets opened
and closed, so one-off costs such as database pool connections and lazily built caches are
not charged to the sockets: this is the 0-connection baseline). Then the sockets grow to each
level (default 1,000 / 5,000 / 10,000) in batches, all reviewers with API tokens, from client
child processes (bench.live_feed's sans-io clients). At each level, once every socket has
its `hello`: RSS (VmRSS from /proc/<pid>/status, the kernel's own accounting), then an idle
period (default 10 s: uvicorn's protocol pings every 20 s and the hub's 25 s heartbeats keep
flowing; the clients answer pings), then every socket sends `{"type": "ping"}` and must get
its `pong` back: that is the count of live sockets. KiB per socket = (RSS − baseline) / sockets.

Baseline in the same run: the floor of the stack, a bare Starlette websocket endpoint (accept,
say hello, answer every message with a pong) on uvicorn with MCX's websocket settings, holding
the same levels the same way; the difference is what MCX adds per socket (its hub listener,
the socket's state and coroutine frames, the headers it reads). Target: MCX's KiB per socket
at most TARGET_RATIO times the bare endpoint's, at every level.

Sockets are opened in steps of at most STEP, each step with the clients' full connect timeout,
so a slow machine takes longer rather than failing the level.

    python -m bench.capacity                          # 1,000 / 5,000 / 10,000
    python -m bench.capacity --levels 2000 --idle 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.models import Role
from bench.claim_race import _people
from bench.harness import PYTHON, ROOT, free_port, fresh_mcx
from bench.live_feed import ClientPool, cpu_seconds, raise_fd_limit, rss_kib

WARMUP = 50  # sockets opened and closed before the baseline
STEP = 1000  # sockets opened per connect command
TARGET_RATIO = 1.2  # MCX's KiB per idle socket over the bare endpoint's, at most
PING_WITHIN = 30.0


@dataclass
class Level:
    asked: int
    connected: int  # said hello
    connect_seconds: float  # to grow from the previous level
    connect_cpu: float  # server CPU seconds for those connects
    rss_kib: int  # right after every socket said hello (and a 2 s settle)
    rss_idle_kib: int  # after the idle period
    alive: int  # answered a ping after the idle period
    heard_ping: int  # sockets that have heard at least one server heartbeat so far
    lost: int  # sockets the server closed


@dataclass
class Capacity:
    rss_cold_kib: int
    rss_base_kib: int
    idle: float
    levels: list[Level]
    fd_limit: int
    bare_base_kib: int = 0  # the bare Starlette baseline: after warm-up, 0 sockets
    bare: list[Level] = field(default_factory=list)  # the same levels on bare Starlette


def bare_app() -> Starlette:
    """The floor: uvicorn + Starlette holding a websocket and nothing else (uvicorn --factory)."""

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text('{"type": "hello"}')
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()
                await websocket.send_text('{"type": "pong"}')

    async def ready(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[WebSocketRoute("/ws", ws), Route("/readyz", ready)])


BARE = [
    sys.executable, "-m", "uvicorn", "--factory", "bench.capacity:bare_app", "--log-level", "warning",
    "--ws", "websockets-sansio", "--ws-per-message-deflate", "false", "--ws-max-size", "65536",
]  # fmt: skip


async def _hold(
    pid: int, url: str, tokens: list[str], levels: list[int], idle: float, procs: int
) -> list[Level]:
    """Grow to each level, wait for every hello, idle, ping every socket; RSS along the way."""
    results = []
    async with ClientPool(url, tokens, procs) as pool:
        held = 0
        for level in levels:
            cpu0 = cpu_seconds(pid)
            grown = await _grow(pool, held, level)
            held = level
            connect_cpu = cpu_seconds(pid) - cpu0
            if grown["failed"]:
                print(
                    f"capacity: {grown['failed']} sockets failed: {grown['failures']}",
                    file=sys.stderr,
                )
            await asyncio.sleep(2.0)
            rss = rss_kib(pid)
            await asyncio.sleep(idle)
            rss_idle = rss_kib(pid)
            pinged = await pool.ask("ping", within=PING_WITHIN, reply_within=PING_WITHIN + 30)
            results.append(
                Level(
                    asked=level,
                    connected=grown["hello"],
                    connect_seconds=grown["seconds"],
                    connect_cpu=connect_cpu,
                    rss_kib=rss,
                    rss_idle_kib=rss_idle,
                    alive=sum(r["pongs"] for r in pinged),
                    heard_ping=sum(r["heard_ping"] for r in pinged),
                    lost=sum(r["lost"] for r in pinged),
                )
            )
    return results


async def _grow(pool: ClientPool, held: int, level: int) -> dict[str, Any]:
    """Grow from `held` to `level` sockets, STEP at a time."""
    total: dict[str, Any] = {"hello": 0, "failed": 0, "failures": [], "seconds": 0.0}
    while held < level:
        held = min(level, held + STEP)
        grown = await pool.connect(held)
        total["hello"] = grown["hello"]
        total["failed"] += grown["failed"]
        total["failures"] = (total["failures"] + grown["failures"])[:3]
        total["seconds"] += grown["seconds"]
    return total


async def _warm(pid: int, url: str, tokens: list[str]) -> int:
    """Open and close a few sockets, settle, and return the 0-socket RSS."""
    async with ClientPool(url, tokens, 1) as warm:
        await warm.connect(len(tokens))
    await asyncio.sleep(2.0)
    return rss_kib(pid)


async def measure(
    levels: list[int] | None = None, *, idle: float = 10.0, procs: int | None = None
) -> Capacity:
    levels = sorted(levels or [1000, 5000, 10_000])
    fd_limit = raise_fd_limit()  # before `mcx serve` starts: it inherits the limit
    count = procs or max(1, min(4, -(-levels[-1] // 5000)))
    async with fresh_mcx() as mcx:
        reviewers = await _people(
            mcx.runtime, levels[-1] + WARMUP, Role.reviewer, f"cap{uuid.uuid4().hex[:4]}-"
        )
        tokens = [token for _, token in reviewers]
        port = free_port()
        await mcx.start(
            "serve",
            [*PYTHON, "serve", "--port", str(port), "--log-level", "warning"],
            ready_url=f"http://127.0.0.1:{port}/readyz",
        )
        pid = mcx.pid("serve")
        url = f"ws://127.0.0.1:{port}/ws"
        await asyncio.sleep(2.0)
        rss_cold = rss_kib(pid)
        rss_base = await _warm(pid, url, tokens[-WARMUP:])
        results = await _hold(pid, url, tokens[: levels[-1]], levels, idle, count)
        for name, proc in mcx.procs:
            if name == "serve":
                proc.terminate()  # its memory back before the baseline runs
                await asyncio.to_thread(proc.wait, 15)
        bare_port = free_port()
        await mcx.start(
            "bare",
            [*BARE, "--port", str(bare_port)],
            ready_url=f"http://127.0.0.1:{bare_port}/readyz",
        )
        bare_pid = mcx.pid("bare")
        bare_url = f"ws://127.0.0.1:{bare_port}/ws"
        await asyncio.sleep(1.0)
        bare_base = await _warm(bare_pid, bare_url, tokens[-WARMUP:])
        bare = await _hold(bare_pid, bare_url, tokens[: levels[-1]], levels, idle, count)
    return Capacity(rss_cold, rss_base, idle, results, fd_limit, bare_base, bare)


def per_socket(level: Level, base_kib: int) -> float:
    """KiB of resident memory per connected socket over the 0-socket baseline, after idling."""
    return (level.rss_idle_kib - base_kib) / max(1, level.connected)


def ratios(result: Capacity) -> list[tuple[int, float, float, float]]:
    """(sockets, MCX KiB per socket, bare KiB per socket, MCX / bare) at every level."""
    rows = []
    for mcx, bare in zip(result.levels, result.bare, strict=False):
        ours, floor = per_socket(mcx, result.rss_base_kib), per_socket(bare, result.bare_base_kib)
        rows.append((mcx.asked, ours, floor, ours / floor if floor > 0 else float("inf")))
    return rows


def table(result: Capacity) -> str:
    lines = [
        "| idle sockets | said hello | alive after idle (pong) | heard a server ping | server RSS MiB | after idle MiB | KiB per socket | connect s | server CPU per connect ms |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| 0 (cold) | – | – | – | {result.rss_cold_kib / 1024:.1f} | – | – | – | – |",
        f"| 0 (baseline, after {WARMUP} warm-up sockets) | – | – | – | {result.rss_base_kib / 1024:.1f} | – | – | – | – |",
    ]

    def rows(levels: list[Level], base_kib: int, label: str) -> None:
        previous = 0
        for level in levels:
            grown = max(1, level.connected - previous)
            lines.append(
                f"| {level.asked:,}{label} | {level.connected:,} | {level.alive:,} | "
                f"{level.heard_ping:,} | {level.rss_kib / 1024:.1f} | "
                f"{level.rss_idle_kib / 1024:.1f} | {per_socket(level, base_kib):.1f} | "
                f"{level.connect_seconds:.1f} | {level.connect_cpu / grown * 1000:.2f} |"
            )
            previous = level.connected

    rows(result.levels, result.rss_base_kib, "")
    if result.bare:
        lines.append(
            f"| 0 on bare Starlette (baseline, after {WARMUP} warm-up sockets) | – | – | – | "
            f"{result.bare_base_kib / 1024:.1f} | – | – | – | – |"
        )
        rows(result.bare, result.bare_base_kib, " on bare Starlette")
        lines += [
            "",
            f"| idle sockets | MCX KiB per socket | bare KiB per socket | MCX / bare (target ≤ {TARGET_RATIO:.2f}) |",
            "|---|---|---|---|",
        ]
        for sockets, ours, floor, ratio in ratios(result):
            mark = "PASS" if ratio <= TARGET_RATIO else "MISS"
            lines.append(f"| {sockets:,} | {ours:.1f} | {floor:.1f} | {ratio:.2f} {mark} |")
    return "\n".join(lines)


def ok(result: Capacity) -> bool:
    """Every socket at every level said hello and answered after idling, on MCX and on the
    bare endpoint, and MCX's memory per socket is within TARGET_RATIO of the bare one's."""
    held = all(
        lv.connected == lv.asked == lv.alive and lv.lost == 0
        for lv in [*result.levels, *result.bare]
    )
    return held and all(ratio <= TARGET_RATIO for *_, ratio in ratios(result))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity")
    parser.add_argument("--levels", default="1000,5000,10000", help="socket counts")
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds at each level")
    parser.add_argument("--procs", type=int, default=None, help="client processes")
    args = parser.parse_args()
    started = time.monotonic()
    result = asyncio.run(
        measure([int(n) for n in args.levels.split(",")], idle=args.idle, procs=args.procs)
    )
    print(table(result))
    print(f"\n({time.monotonic() - started:.0f} s; file-descriptor limit {result.fd_limit})")
    return 0 if ok(result) else 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so a SIGTERM still stops the server and drops the database


if __name__ == "__main__":
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, _interrupt)
    raise SystemExit(main())
