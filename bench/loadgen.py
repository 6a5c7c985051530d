"""A minimal HTTP/1.1 load generator on raw asyncio streams.

httpx's connection pool spends more CPU than the servers under test once hundreds of requests
are in flight (it made a bare one-Redis-call endpoint look like 44 requests/s here); this
keeps the client's cost per request to a few microseconds: one pre-opened keep-alive
connection per virtual user, a hand-written request, a status line and Content-Length read.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


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
