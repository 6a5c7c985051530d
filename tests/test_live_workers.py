"""`mcx serve --workers 2`: each process has its own hub on Redis pub/sub, and a feed event
published by the real action reaches every socket, whichever process holds it.

Which process holds a socket is read from the kernel (/proc/<pid>/fd against /proc/net/tcp),
not from anything the app reports about itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from app import live
from app.runtime import Runtime, Urls, open_runtime
from tests import factories as f
from tests.conftest import _reset
from tests.factories import auth
from tests.served import mcx_serve

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

BATCH = 20
MAX_SOCKETS = 200
AT_LEAST = 5  # sockets each worker must hold before the event is published
WAIT = 30.0


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            # The command name may hold spaces and parentheses: the fields follow the last ')'.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def established_on(pid: int, port: int) -> int:
    """TCP connections in state ESTABLISHED, local port `port`, whose socket `pid` holds open."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "01" and int(local.rsplit(":", 1)[1], 16) == port and inode in inodes:
                    count += 1
    return count


async def hubs_subscribed(runtime: Runtime) -> int:
    name = live._client_name(runtime.settings.redis_prefix)
    clients = await runtime.redis.client_list()
    return sum(1 for client in clients if client.get("name") == name and client.get("sub") == "2")


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] != "ping":
                return message  # type: ignore[no-any-return]


async def test_a_feed_event_reaches_the_sockets_of_every_worker(
    services: Urls, tmp_path: Path
) -> None:
    with mcx_serve(services, tmp_path, "--workers", "2") as served:
        runtime = await open_runtime(
            served.settings, Urls(database=services.database, redis=services.redis)
        )
        sockets: list[ClientConnection] = []
        try:
            credential = await f.credential(runtime, peer_reviews=1)
            earner = await f.person(runtime, "earner", school="Lincoln")
            earner_token = await f.token_for(runtime, earner)
            reviewers = await f.many_reviewers(runtime, MAX_SOCKETS)
            # Both processes are up and subscribed before any socket is counted.
            deadline = time.monotonic() + 60
            while await hubs_subscribed(runtime) < 2:
                assert time.monotonic() < deadline, "two hubs never subscribed"
                await asyncio.sleep(0.2)
            workers = children(served.pid)
            held: dict[int, int] = {}
            # The processes share one listening socket and the kernel picks who accepts: open
            # batches until each worker holds some (bounded).
            for start in range(0, MAX_SOCKETS, BATCH):
                opened = await asyncio.gather(
                    *(
                        connect(served.ws, additional_headers=auth(token), open_timeout=WAIT)
                        for _, token in reviewers[start : start + BATCH]
                    )
                )
                sockets.extend(opened)
                for ws in opened:
                    assert (await next_event(ws))["type"] == "hello"
                held = {pid: established_on(pid, served.port) for pid in workers}
                if sum(1 for count in held.values() if count >= AT_LEAST) >= 2:
                    break
            busy = [pid for pid, count in held.items() if count > 0]
            assert len(busy) == 2, f"sockets by process: {held}"
            assert sum(held.values()) == len(sockets), held

            async with httpx.AsyncClient(base_url=served.base, timeout=WAIT) as client:
                submission_id = await f.submitted(client, runtime, earner_token, credential)
            heard = await asyncio.gather(*(next_event(ws) for ws in sockets))
            assert {message["type"] for message in heard} == {"task.opened"}, heard[:3]
            assert len({message["task_id"] for message in heard}) == 1
            assert submission_id
            # What phones see names no earner (blind review) and never the fan-out's audience.
            for message in heard:
                text = json.dumps(message)
                assert "audience" not in message
                assert str(earner.id) not in text and earner.email not in text
                assert earner.name not in text and "Lincoln" not in text
        finally:
            for ws in sockets:
                with contextlib.suppress(Exception):
                    await ws.close()
            await _reset(runtime)
            await runtime.close()
