"""A minimal HTTP/1.1 load generator on raw asyncio streams.

httpx's connection pool spends more CPU than the servers under test once hundreds of requests
are in flight (it made a bare one-Redis-call endpoint look like 44 requests/s here); this
keeps the client's cost per request to a few microseconds: one pre-opened keep-alive
connection per virtual user, a hand-written request, a status line and Content-Length read.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


async def connect(host: str, port: int, count: int, *, batch: int = 200) -> list[Conn]:
    conns: list[Conn] = []
    for start in range(0, count, batch):
        opened = await asyncio.gather(
            *(asyncio.open_connection(host, port) for _ in range(min(batch, count - start)))
        )
        conns.extend(Conn(r, w) for r, w in opened)
    return conns


async def request(
    conn: Conn, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, bytes, float]:
    """One request on a kept-alive connection: (status, body, seconds)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    started = time.perf_counter()
    conn.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await conn.writer.drain()
    status_line = await conn.reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    length = 0
    chunked = False
    while (line := await conn.reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        data = b""
        while (size := int((await conn.reader.readline()).strip(), 16)) > 0:
            data += await conn.reader.readexactly(size + 2)
        await conn.reader.readline()
    else:
        data = await conn.reader.readexactly(length)
    return status, data, time.perf_counter() - started


async def close(conns: list[Conn]) -> None:
    for conn in conns:
        conn.writer.close()
    await asyncio.gather(*(c.writer.wait_closed() for c in conns), return_exceptions=True)


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values` (seconds) in milliseconds; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer (the connection failed, or the time limit passed)
    body: bytes
    seconds: float

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def error_code(self) -> str:
        """The `error` of a JSON error answer ('' when there is none)."""
        data = self.json()
        return str(data.get("error", "")) if isinstance(data, dict) else ""


async def burst(
    host: str, port: int, calls: list[Call], *, time_limit: float = 60.0, settle: float = 0.5
) -> tuple[list[Answer], float]:
    """Everyone at once: one new connection per call (all opened first, then `settle` seconds
    for the server to accept them), then every call sent at the same moment. The answers in
    call order, and the seconds from the first send to the last answer (or to the time limit).
    """
    conns = await connect(host, port, len(calls))
    await asyncio.sleep(settle)
    go = asyncio.Event()

    async def one(conn: Conn, call: Call) -> Answer:
        await go.wait()
        try:
            status, body, seconds = await request(
                conn, call.method, call.path, call.headers, call.body
            )
        except (ConnectionError, ValueError, IndexError, asyncio.IncompleteReadError):
            return Answer(0, b"", 0.0)
        return Answer(status, body, seconds)

    runners = [asyncio.create_task(one(c, call)) for c, call in zip(conns, calls, strict=True)]
    await asyncio.sleep(0)
    started = time.perf_counter()
    go.set()
    done, pending = await asyncio.wait(runners, timeout=time_limit)
    elapsed = time.perf_counter() - started
    for runner in pending:
        runner.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await close(conns)
    answers = [r.result() if r in done else Answer(0, b"", time_limit) for r in runners]
    return answers, elapsed
