"""Live feed latency: C reviewer websockets on one `mcx serve` process, new work at a steady rate.

For each C (default 1,000 and 5,000), on a fresh `mcx serve`:

1. C reviewers connect to `/ws` with their API tokens (every one of them eligible for the
   bench credential's peer pool: the worst case for the fan-out). The clients run in child
   processes (websockets' sans-io protocol on a plain asyncio transport, so a client costs a
   few microseconds per frame), each timestamping every frame on arrival with `time.time()`
   (comparable across processes on one machine) and watching its own event-loop lag.
2. New work: packets are submitted at a steady rate (default 5/s for 10 s) through the real
   actions in this process (`submit_evidence`, then `check_evidence`, which commits, opens the
   peer task and publishes `task.opened` after commit, as the worker does). The commit time is
   taken from SQLAlchemy's `after_commit` hook, i.e. after PostgreSQL acknowledged COMMIT;
   the publish time from a wrapper around this process's `redis.publish`.
   Reported: commit → arrival of `task.opened` over every (event, socket) pair, and the pairs
   that never arrived.
3. Claims: some of the connected reviewers claim opened tasks through the real HTTP API
   (`POST /api/v1/tasks/{id}/claim`); reported: request sent → arrival of `task.claimed` on
   every socket.
4. Baseline: the server's own CPU (utime + stime from /proc/<pid>/stat) during step 2 (push)
   against what the same C phones polling `GET /api/v1/tasks` every 5 s would cost it over
   the same window: C × window / 5 requests × the server CPU of one answer. One answer's CPU
   is measured on the same server after the sockets closed, with 32 phones polling back to
   back for 5 s (bench/loadgen.py). Sending all C × window / 5 requests at the polling rate
   was tried first: one process answers far fewer than the C / 5 per second that polling
   needs, so the queue, not the cost, decided how long that took (minutes at C = 5,000).

    python -m bench.live_feed                       # C = 1,000 and 5,000
    python -m bench.live_feed --sizes 2000 --rate 10 --seconds 5 --profile /tmp/prof
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.orm import Session
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import WebSocketURI, parse_uri

from app.actions import submissions
from app.models import Role, User
from app.runtime import Runtime
from bench import loadgen
from bench.claim_race import _people, reflection_credential
from bench.harness import PYTHON, ROOT, Mcx, free_port, fresh_mcx

CONNECT_TIMEOUT = 150.0  # seconds for all sockets of one size to say hello
ARRIVAL_TIMEOUT = 15.0  # after the last event, how long stragglers may take
POLL_TIMEOUT = 30.0  # after the polling sample, how long the last answers may take
POLLERS = 32  # phones polling back to back to measure what one poll costs
REPLY_TIMEOUT = 60.0  # a child process's answer to one command

# -- small measurements of a process ---------------------------------------------------------


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (children, e.g. `mcx serve`, inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:  # noqa: PTH123
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from the kernel's own accounting."""
    return sum(cpu_times(pid))


def runqueue_wait(pid: int) -> float:
    """Seconds the process's main thread has spent runnable but waiting for a CPU
    (/proc/<pid>/schedstat): how much other load on the machine held it back."""
    with open(f"/proc/{pid}/schedstat") as stat:  # noqa: PTH123
        return int(stat.read().split()[1]) / 1e9


def rss_kib(pid: int) -> int:
    """Resident memory of a process (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status") as status:  # noqa: PTH123
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def pct(values: list[float], q: float) -> float:
    """The q-quantile of seconds, in milliseconds (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def ms3(values: list[float]) -> str:
    """`p50 / p99 / max` in milliseconds."""
    if not values:
        return "–"
    return f"{pct(values, 0.5):.0f} / {pct(values, 0.99):.0f} / {max(values) * 1000:.0f}"


# -- the clients: child processes, each holding many websockets ------------------------------


class _State:
    """One child's sockets and what they heard."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sockets: list[_Socket] = []
        self.next_token = 0
        self.arrivals: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)
        self.duplicates = 0
        self.resyncs = 0
        self.errors = 0
        self.pongs = 0
        self.pong_target = 0
        self.all_ponged = asyncio.Event()
        self.lost = 0
        self.lags: list[float] = []
        self.measuring = False
        self.cpu0 = 0.0
        self.wall0 = 0.0


class _Socket(asyncio.Protocol):
    """One reviewer's websocket: websockets' sans-io client on an asyncio transport."""

    def __init__(self, state: _State, uri: WebSocketURI, token: str) -> None:
        self.state = state
        self.token = token
        self.ws = ClientProtocol(uri, max_size=1 << 20)
        self.transport: asyncio.Transport | None = None
        self.hello: asyncio.Future[None] = state.loop.create_future()
        self.seen: set[tuple[str, str]] = set()
        self.open = False
        self.pings = 0  # server heartbeats heard: the hub's {"type": "ping"} and protocol pings

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        request = self.ws.connect()
        request.headers["Authorization"] = f"Bearer {self.token}"
        self.ws.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        at = time.time()
        self.ws.receive_data(data)
        for item in self.ws.events_received():
            if isinstance(item, Frame):
                if item.opcode is Opcode.TEXT:
                    self._text(at, bytes(item.data))
                elif item.opcode is Opcode.PING:
                    self.pings += 1  # the sans-io protocol queues the pong itself
            elif isinstance(item, Response) and self.ws.handshake_exc is not None:
                self._fail(ConnectionError(f"handshake refused: {item.status_code}"))
        self._flush()

    def _text(self, at: float, data: bytes) -> None:
        message = json.loads(data)
        kind = message.get("type")
        state = self.state
        if kind == "hello":
            self.open = True
            if not self.hello.done():
                self.hello.set_result(None)
        elif kind == "ping":
            self.pings += 1
        elif kind == "pong":
            state.pongs += 1
            if state.pongs >= state.pong_target:
                state.all_ponged.set()
        elif kind == "resync":
            state.resyncs += 1
        elif kind == "error":
            state.errors += 1
        elif isinstance(kind, str) and kind.startswith("task."):
            key = (kind, str(message.get("task_id")))
            if key in self.seen:
                state.duplicates += 1
            else:
                self.seen.add(key)
                state.arrivals[key].append(at)
                state.counts[kind] += 1

    def _flush(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for chunk in self.ws.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def _fail(self, exc: Exception) -> None:
        if not self.hello.done():
            self.hello.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.open:
            self.state.lost += 1
        self.open = False
        if not self.hello.done():
            self.hello.set_exception(exc or ConnectionError("closed before hello"))

    def send_ping(self) -> None:
        self.ws.send_text(b'{"type":"ping"}')
        self._flush()

    def close(self) -> None:
        if self.open:
            self.open = False
            with contextlib.suppress(Exception):
                self.ws.send_close(1000)
                self._flush()


async def _watch_lag(state: _State, interval: float = 0.005) -> None:
    """How late this process's loop wakes up: when it is busy, arrival stamps are late too."""
    loop = state.loop
    while True:
        start = loop.time()
        await asyncio.sleep(interval)
        if state.measuring:
            state.lags.append(loop.time() - start - interval)


async def _connect(
    state: _State, uri: WebSocketURI, tokens: list[str], target: int, concurrency: int
) -> dict[str, Any]:
    """Open sockets until this child holds `target` (each waits for its `hello`)."""
    deadline = state.loop.time() + CONNECT_TIMEOUT
    todo = tokens[state.next_token : target]
    state.next_token = max(state.next_token, target)
    gate = asyncio.Semaphore(concurrency)
    failures: list[str] = []

    async def one(token: str) -> None:
        async with gate:
            sock = _Socket(state, uri, token)
            try:
                async with asyncio.timeout_at(deadline):
                    await state.loop.create_connection(lambda: sock, uri.host, uri.port)
                    await sock.hello
                state.sockets.append(sock)
            except (OSError, TimeoutError, ConnectionError) as exc:
                failures.append(repr(exc)[:200])
                if sock.transport is not None:
                    sock.transport.abort()

    started = time.perf_counter()
    await asyncio.gather(*(one(token) for token in todo))
    return {
        "hello": sum(1 for s in state.sockets if s.open),
        "failed": len(failures),
        "failures": failures[:3],
        "seconds": time.perf_counter() - started,
    }


async def _ping_all(state: _State, within: float) -> dict[str, Any]:
    """Every open socket sends the protocol's `ping`; count the `pong`s that come back."""
    alive = [s for s in state.sockets if s.open]
    before = state.pongs
    state.pong_target = before + len(alive)
    state.all_ponged.clear()
    for sock in alive:
        sock.send_ping()
    if alive:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.all_ponged.wait(), within)
    return {
        "open": len(alive),
        "pongs": state.pongs - before,
        "heard_ping": sum(1 for s in state.sockets if s.pings),
        "lost": state.lost,
    }


def _collect(state: _State) -> dict[str, Any]:
    lags = sorted(state.lags)
    return {
        "arrivals": dict(state.arrivals),
        "duplicates": state.duplicates,
        "resyncs": state.resyncs,
        "errors": state.errors,
        "lost": state.lost,
        "lag_p99": lags[int(0.99 * (len(lags) - 1))] if lags else 0.0,
        "lag_max": lags[-1] if lags else 0.0,
        "cpu": time.process_time() - state.cpu0,
        "wall": time.perf_counter() - state.wall0,
    }


async def _child_async(conn: Connection, url: str, tokens: list[str]) -> None:
    loop = asyncio.get_running_loop()
    state = _State(loop)
    uri = parse_uri(url)
    watcher = asyncio.create_task(_watch_lag(state))
    try:
        while True:
            try:
                command, args = await asyncio.to_thread(conn.recv)
            except (EOFError, OSError):
                return  # the parent is gone
            reply: Any = None
            if command == "connect":
                reply = await _connect(state, uri, tokens, args["target"], args["concurrency"])
            elif command == "mark":
                state.lags.clear()
                state.measuring = True
                state.cpu0, state.wall0 = time.process_time(), time.perf_counter()
            elif command == "count":
                reply = dict(state.counts)
            elif command == "ping":
                reply = await _ping_all(state, args["within"])
            elif command == "collect":
                state.measuring = False
                reply = _collect(state)
            elif command == "close":
                for sock in state.sockets:
                    sock.close()
                await asyncio.sleep(0.5)
                for sock in state.sockets:
                    if sock.transport is not None:
                        sock.transport.close()
                await asyncio.sleep(0.2)
                reply = len(state.sockets)
            conn.send(reply)
            if command == "close":
                return
    finally:
        watcher.cancel()


def _child_main(conn: Connection, url: str, tokens: list[str]) -> None:
    """Entry point of a client process."""
    raise_fd_limit()
    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_child_async(conn, url, tokens))


def _recv(conn: Connection, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError("a client process did not answer in time")
    return conn.recv()


class ClientPool:
    """`procs` child processes sharing `tokens` (child k holds tokens[k::procs]); commands go
    to all of them and their answers come back as a list. Always closed and joined."""

    def __init__(self, url: str, tokens: list[str], procs: int) -> None:
        self.url, self.tokens, self.procs = url, tokens, procs
        self.children: list[tuple[Any, Connection]] = []

    async def __aenter__(self) -> ClientPool:
        ctx = multiprocessing.get_context("spawn")
        for k in range(self.procs):
            here, there = ctx.Pipe()
            proc = ctx.Process(
                target=_child_main,
                args=(there, self.url, self.tokens[k :: self.procs]),
                daemon=True,
                name=f"ws-clients-{k}",
            )
            proc.start()
            there.close()
            self.children.append((proc, here))
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.ask("close", reply_within=30)
        for proc, conn in self.children:
            await asyncio.to_thread(proc.join, 10)
            if proc.is_alive():
                proc.kill()
                await asyncio.to_thread(proc.join, 5)
            conn.close()
        self.children.clear()

    async def ask(
        self,
        command: str,
        *,
        reply_within: float = REPLY_TIMEOUT,
        per_child: list[dict[str, Any]] | None = None,
        **args: Any,
    ) -> list[Any]:
        alive = [(proc, conn) for proc, conn in self.children if not conn.closed]
        for i, (_, conn) in enumerate(alive):
            conn.send((command, per_child[i] if per_child else args))
        return list(
            await asyncio.gather(*(asyncio.to_thread(_recv, c, reply_within) for _, c in alive))
        )

    async def connect(self, total: int, *, concurrency: int = 64) -> dict[str, Any]:
        """Grow to `total` sockets over all children (the first `total` tokens)."""
        shares = [
            {"target": len(range(k, total, self.procs)), "concurrency": concurrency}
            for k in range(self.procs)
        ]
        started = time.perf_counter()
        replies = await self.ask("connect", per_child=shares, reply_within=CONNECT_TIMEOUT + 30)
        return {
            "hello": sum(r["hello"] for r in replies),
            "failed": sum(r["failed"] for r in replies),
            "failures": [f for r in replies for f in r["failures"]][:3],
            "seconds": time.perf_counter() - started,
        }

    async def count(self, kind: str) -> int:
        return sum(r.get(kind, 0) for r in await self.ask("count"))


# -- the benchmark -------------------------------------------------------------------------


@dataclass
class FeedResult:
    sockets: int
    connected: int
    connect_seconds: float
    connect_cpu: float  # server CPU seconds spent accepting the C sockets
    events: int
    opened: list[float]  # commit → task.opened arrival, every (event, socket) pair
    opened_from_publish: list[float]  # publish → arrival
    opened_missed: int
    commit_to_publish: list[float]  # in the submitting process: queue + audience + PUBLISH
    schedule_slip: float  # how far the steady submission rate fell behind, seconds
    claims: int  # claims won
    claimed: list[float]  # claim request sent → task.claimed arrival
    claimed_missed: int
    claim_answers: list[float]  # the claim's HTTP answer time
    duplicates: int
    resyncs: int
    errors: int
    lost: int
    client_lag_p99: float
    client_lag_max: float
    client_cpu: float  # busiest client process, fraction of one core during the run
    push_cpu: float
    push_wall: float
    push_sys: float  # of push_cpu, in the kernel (on loopback it includes the receiving side)
    push_waited: float  # of push_wall, seconds the server was runnable but had no CPU
    per_event: list[tuple[float, float, float]]  # (commit offset s, first, last arrival s)
    window: float
    poll_every: float
    poll_failed: int
    poll_cpu: float  # server CPU seconds for the sample's answers
    poll_wall: float
    poll_answers: list[float] = field(default_factory=list)
    profile: str | None = None

    @property
    def poll_requests(self) -> int:
        """What C phones polling every `poll_every` s send over the push window."""
        return round(self.sockets * self.window / self.poll_every)

    @property
    def poll_cpu_each(self) -> float:
        return self.poll_cpu / len(self.poll_answers) if self.poll_answers else float("nan")

    @property
    def poll_cpu_all(self) -> float:
        """Server CPU seconds for every request polling would send over the window."""
        return self.poll_cpu_each * self.poll_requests

    @property
    def ratio(self) -> float:
        return self.push_cpu / self.poll_cpu_all if self.poll_cpu_all else float("nan")

    @property
    def push_cpu_each(self) -> float:
        """Server CPU per (event, socket) delivery during the push window."""
        return self.push_cpu / max(1, self.events * self.connected)


class _Hooks:
    """Side channels in this (submitting) process: commit and publish times."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.capturing = False
        self.commits: list[float] = []
        self.published: dict[tuple[str, str], float] = {}
        self._original = runtime.redis.publish
        self._feed = runtime.settings.redis_prefix + "ev:feed"

    def _on_commit(self, session: Session) -> None:
        if self.capturing:
            self.commits.append(time.time())

    async def _publish(self, channel: Any, message: Any, **kwargs: Any) -> Any:
        at = time.time()
        result = await self._original(channel, message, **kwargs)
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        if name == self._feed:
            body = json.loads(message)
            self.published[(body["type"], body["task_id"])] = at
        return result

    def __enter__(self) -> _Hooks:
        event.listen(Session, "after_commit", self._on_commit)
        self.runtime.redis.publish = self._publish  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Session, "after_commit", self._on_commit)
        self.runtime.redis.publish = self._original  # type: ignore[method-assign]


async def _credential(runtime: Runtime) -> tuple[uuid.UUID, uuid.UUID]:
    """A published, reflection-only credential with one peer review per packet."""
    return await reflection_credential(runtime, "feed")


async def _drafts(
    runtime: Runtime, credential_id: uuid.UUID, criterion_id: uuid.UUID, count: int
) -> list[tuple[User, uuid.UUID]]:
    """`count` earners, each with a draft packet ready to submit."""
    earners = await _people(runtime, count, None, f"fe{uuid.uuid4().hex[:4]}-")
    drafts = []
    for earner_id, _ in earners:
        async with runtime.sessions() as session:
            earner = await session.get(User, earner_id)
            assert earner is not None
            submission = await submissions.start_submission(session, earner, credential_id)
            await submissions.attach_artifact(
                session, earner, submission.id, criterion_id, body="Done."
            )
        drafts.append((earner, submission.id))
    return drafts


async def _wait_for(pool: ClientPool, kind: str, expected: int, deadline: float) -> int:
    got = 0
    while time.monotonic() < deadline:
        got = await pool.count(kind)
        if got >= expected:
            break
        await asyncio.sleep(0.2)
    return got


def _profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy on the server for the push window (non-blocking sampling: no pauses)."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
         "--rate", "200", "--nonblocking", "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def _poll_cost(
    pid: int, port: int, tokens: list[str], seconds: float
) -> tuple[list[float], int, float, float]:
    """What one `GET /api/v1/tasks` costs the server: len(tokens) phones poll back to back
    (closed loop, so the server is busy but never queues without bound) for `seconds`.
    Returns (answer seconds, failures, server CPU seconds, wall seconds); CPU is read after
    the last answer, so no request is half-counted."""
    conns = await loadgen.connect("127.0.0.1", port, len(tokens))
    answers: list[float] = []
    failures = 0
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds

    async def phone(conn: loadgen.Conn, token: str) -> None:
        nonlocal failures
        headers = {"Authorization": f"Bearer {token}"}
        while loop.time() < stop_at:
            try:
                status, _, took = await loadgen.request(conn, "GET", "/api/v1/tasks", headers)
            except (IndexError, ValueError, ConnectionError, asyncio.IncompleteReadError):
                failures += 1  # the server closed this connection
                return
            if status == 200:
                answers.append(took)
            else:
                failures += 1

    cpu0 = cpu_seconds(pid)
    started = time.monotonic()
    phones = [asyncio.create_task(phone(c, t)) for c, t in zip(conns, tokens, strict=True)]
    try:
        async with asyncio.timeout(seconds + POLL_TIMEOUT):
            await asyncio.gather(*phones)
    except TimeoutError:
        failures += sum(1 for task in phones if not task.done())
    finally:
        for task in phones:
            task.cancel()
        await asyncio.gather(*phones, return_exceptions=True)
        cpu = cpu_seconds(pid) - cpu0
        wall = time.monotonic() - started
        await loadgen.close(conns)
    return answers, failures, cpu, wall


async def _one_size(
    mcx: Mcx,
    size: int,
    reviewers: list[tuple[uuid.UUID, str]],
    credential: tuple[uuid.UUID, uuid.UUID],
    *,
    rate: float,
    seconds: float,
    claims: int,
    claim_rate: float,
    poll_every: float,
    poll_sample: float,
    procs: int,
    profile: Path | None,
) -> FeedResult:
    runtime = mcx.runtime
    packets = max(1, round(rate * seconds))
    drafts = await _drafts(runtime, *credential, packets)
    port = free_port()
    name = f"serve-{size}"
    await mcx.start(
        name,
        [*PYTHON, "serve", "--port", str(port), "--log-level", "warning"],
        ready_url=f"http://127.0.0.1:{port}/readyz",
    )
    pid = mcx.pid(name)
    tokens = [token for _, token in reviewers]
    try:
        async with ClientPool(f"ws://127.0.0.1:{port}/ws", tokens, procs) as pool:
            cpu0 = cpu_seconds(pid)
            connected = await pool.connect(size)
            connect_cpu = cpu_seconds(pid) - cpu0
            if connected["failed"]:
                print(
                    f"live_feed: {connected['failed']} sockets failed: {connected['failures']}",
                    file=sys.stderr,
                )
            await asyncio.sleep(1.0)

            # -- push: new work at a steady rate ------------------------------------------
            with _Hooks(runtime) as hooks:
                await pool.ask("mark")
                spy = None
                if profile is not None:
                    profile.mkdir(parents=True, exist_ok=True)
                    spy = _profiler(pid, seconds + 1, profile / f"live_feed_{size}.txt")
                    await asyncio.sleep(0.5)
                commits: dict[str, float] = {}
                slip = 0.0
                cpu0, wall0, waited0 = cpu_seconds(pid), time.monotonic(), runqueue_wait(pid)
                sys0 = cpu_times(pid)[1]
                for i, (earner, submission_id) in enumerate(drafts):
                    slip = max(slip, time.monotonic() - (wall0 + i / rate))
                    await asyncio.sleep(max(0.0, wall0 + i / rate - time.monotonic()))
                    await submissions.submit_evidence(runtime, earner, submission_id)
                    async with runtime.sessions() as session:
                        version = await submissions.latest_version(session, submission_id)
                    hooks.commits.clear()
                    hooks.capturing = True
                    before = time.time()
                    await submissions.check_evidence(runtime, version.id)
                    hooks.capturing = False
                    opened = [
                        (tid, at) for (kind, tid), at in hooks.published.items()
                        if kind == "task.opened" and tid not in commits
                    ]  # fmt: skip
                    for task_id, _ in opened:
                        commits[task_id] = hooks.commits[0] if hooks.commits else before
                got = await _wait_for(
                    pool, "task.opened", size * len(commits), time.monotonic() + ARRIVAL_TIMEOUT
                )
                push_cpu, push_wall = cpu_seconds(pid) - cpu0, time.monotonic() - wall0
                push_waited = runqueue_wait(pid) - waited0
                push_sys = cpu_times(pid)[1] - sys0
                if spy is not None:
                    try:
                        await asyncio.to_thread(spy.wait, 30)
                    except subprocess.TimeoutExpired:
                        spy.kill()
                published = dict(hooks.published)
            if got < size * len(commits):
                print(
                    f"live_feed: {size * len(commits) - got} task.opened arrivals missing",
                    file=sys.stderr,
                )

            # -- claims through the HTTP API ----------------------------------------------
            claim_sent: dict[str, float] = {}
            claim_answers: list[float] = []
            claimers = reviewers[size - claims : size] if claims else []
            wall0 = time.monotonic()
            for j, ((_, token), task_id) in enumerate(zip(claimers, list(commits), strict=False)):
                await asyncio.sleep(max(0.0, wall0 + j / claim_rate - time.monotonic()))
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                conn = loadgen.Conn(reader, writer)
                sent = time.time()
                status, _, took = await loadgen.request(
                    conn,
                    "POST",
                    f"/api/v1/tasks/{task_id}/claim",
                    {"Authorization": f"Bearer {token}"},
                )
                await loadgen.close([conn])
                if status == 201:
                    claim_sent[task_id] = sent
                    claim_answers.append(took)
            await _wait_for(
                pool, "task.claimed", size * len(claim_sent), time.monotonic() + ARRIVAL_TIMEOUT
            )
            collected = await pool.ask("collect")
        # The sockets are closed here (the pool closed them and its processes exited).

        arrivals: dict[tuple[str, str], list[float]] = defaultdict(list)
        for reply in collected:
            for key, times in reply["arrivals"].items():
                arrivals[key].extend(times)
        opened_lat, from_publish, claimed_lat = [], [], []
        opened_missed = claimed_missed = 0
        per_event = []
        first_commit = min(commits.values(), default=0.0)
        for task_id, committed in commits.items():
            times = arrivals.get(("task.opened", task_id), [])
            if times:
                per_event.append(
                    (committed - first_commit, min(times) - committed, max(times) - committed)
                )
            opened_lat += [t - committed for t in times]
            at = published.get(("task.opened", task_id))
            if at is not None:
                from_publish += [t - at for t in times]
            opened_missed += size - len(times)
        for task_id, sent in claim_sent.items():
            times = arrivals.get(("task.claimed", task_id), [])
            claimed_lat += [t - sent for t in times]
            claimed_missed += size - len(times)
        commit_to_publish = [
            published[("task.opened", t)] - c
            for t, c in commits.items()
            if ("task.opened", t) in published
        ]

        # -- the baseline: what the same phones polling every 5 s would cost ---------------
        await asyncio.sleep(1.0)
        answers, failed, poll_cpu, poll_wall = await _poll_cost(
            pid, port, tokens[: min(size, POLLERS)], poll_sample
        )
    finally:
        for n, proc in mcx.procs:
            if n == name:
                proc.terminate()
                await asyncio.to_thread(proc.wait, 15)

    return FeedResult(
        sockets=size,
        connected=connected["hello"],
        connect_seconds=connected["seconds"],
        connect_cpu=connect_cpu,
        events=len(commits),
        opened=opened_lat,
        opened_from_publish=from_publish,
        opened_missed=opened_missed,
        commit_to_publish=commit_to_publish,
        schedule_slip=slip,
        claims=len(claim_sent),
        claimed=claimed_lat,
        claimed_missed=claimed_missed,
        claim_answers=claim_answers,
        duplicates=sum(r["duplicates"] for r in collected),
        resyncs=sum(r["resyncs"] for r in collected),
        errors=sum(r["errors"] for r in collected),
        lost=sum(r["lost"] for r in collected),
        client_lag_p99=max(r["lag_p99"] for r in collected),
        client_lag_max=max(r["lag_max"] for r in collected),
        client_cpu=max(r["cpu"] / r["wall"] for r in collected if r["wall"]),
        push_cpu=push_cpu,
        push_wall=push_wall,
        push_sys=push_sys,
        push_waited=push_waited,
        per_event=per_event,
        window=seconds,
        poll_every=poll_every,
        poll_failed=failed,
        poll_cpu=poll_cpu,
        poll_wall=poll_wall,
        poll_answers=answers,
        profile=str(profile / f"live_feed_{size}.txt") if profile else None,
    )


async def measure(
    sizes: list[int] | None = None,
    *,
    rate: float = 5.0,
    seconds: float = 10.0,
    claims: int = 20,
    claim_rate: float = 4.0,
    poll_every: float = 5.0,
    poll_sample: float = 5.0,
    procs: int | None = None,
    profile: Path | None = None,
) -> list[FeedResult]:
    """One fresh MCX; for each size a fresh `mcx serve`, C sockets, push, claims, polling."""
    sizes = sizes or [1000, 5000]
    raise_fd_limit()  # before `mcx serve` starts: it inherits the limit
    results = []
    async with fresh_mcx() as mcx:
        credential = await _credential(mcx.runtime)
        reviewers = await _people(
            mcx.runtime, max(sizes), Role.reviewer, f"fr{uuid.uuid4().hex[:4]}-"
        )
        for size in sizes:
            results.append(
                await _one_size(
                    mcx,
                    size,
                    reviewers[:size],
                    credential,
                    rate=rate,
                    seconds=seconds,
                    claims=min(claims, size),
                    claim_rate=claim_rate,
                    poll_every=poll_every,
                    poll_sample=poll_sample,
                    procs=procs or max(1, min(4, -(-size // 2500))),
                    profile=profile,
                )
            )
    return results


def table(results: list[FeedResult]) -> str:
    lines = [
        "| sockets | connected | events | new work: commit → every socket p50 / p99 / max ms | publish → socket p50 / p99 ms | quickest event on all sockets ms | missed | claims | claim → gone p50 / p99 / max ms | missed | client loop lag p99 / max ms | busiest client CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.sockets:,} | {r.connected:,} | {r.events} (late ≤ {r.schedule_slip:.2f} s) | {ms3(r.opened)} | "
            f"{pct(r.opened_from_publish, 0.5):.0f} / {pct(r.opened_from_publish, 0.99):.0f} | "
            f"{min((last for _, _, last in r.per_event), default=float('nan')) * 1000:.0f} | "
            f"{r.opened_missed} | {r.claims} | {ms3(r.claimed)} | {r.claimed_missed} | "
            f"{r.client_lag_p99 * 1000:.0f} / {r.client_lag_max * 1000:.0f} | {r.client_cpu:.0%} |"
        )
    lines += [
        "",
        "| sockets | push: server CPU s over the window (kernel part; s the server waited for a CPU) | CPU per event per socket µs | poll: server CPU per answer ms (sample: answers, req/s, p50 / p99 ms) | polling every 5 s needs req/s | poll: server CPU s for the window | push / poll CPU | server CPU per socket connect ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        n = len(r.poll_answers)
        lines.append(
            f"| {r.sockets:,} | {r.push_cpu:.2f} ({r.events} events in {r.push_wall:.1f} s; kernel {r.push_sys:.2f}; waited {r.push_waited:.2f}) | "
            f"{r.push_cpu_each * 1e6:.0f} | {r.poll_cpu_each * 1000:.1f} ({n:,}, {n / r.poll_wall:.0f}/s, "
            f"{f'{r.poll_failed} failed, ' if r.poll_failed else ''}"
            f"{pct(r.poll_answers, 0.5):.0f} / {pct(r.poll_answers, 0.99):.0f}) | "
            f"{r.sockets / r.poll_every:.0f} | {r.poll_cpu_all:.1f} ({r.poll_requests:,} polls) | "
            f"{r.ratio:.3f} | {r.connect_cpu / max(1, r.connected) * 1000:.2f} |"
        )
    return "\n".join(lines)


def ok(results: list[FeedResult]) -> bool:
    """No lost socket, no missed or duplicated event, every poll answered."""
    return all(
        r.connected == r.sockets
        and r.opened_missed == 0
        and r.claimed_missed == 0
        and r.duplicates == 0
        and r.lost == 0
        for r in results
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live_feed")
    parser.add_argument("--sizes", default="1000,5000", help="socket counts, comma-separated")
    parser.add_argument("--rate", type=float, default=5.0, help="packets per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="the push (and poll) window")
    parser.add_argument("--claims", type=int, default=20)
    parser.add_argument("--procs", type=int, default=None, help="client processes (default C/2500)")
    parser.add_argument("--profile", type=Path, default=None, help="folder for py-spy raw stacks")
    args = parser.parse_args()
    results = asyncio.run(
        measure(
            [int(s) for s in args.sizes.split(",")],
            rate=args.rate,
            seconds=args.seconds,
            claims=args.claims,
            procs=args.procs,
            profile=args.profile,
        )
    )
    print(table(results))
    return 0 if ok(results) else 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so a SIGTERM still stops the server and drops the database


if __name__ == "__main__":
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, _interrupt)
    raise SystemExit(main())
