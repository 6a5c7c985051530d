"""What an open socket costs the server: one task (uvicorn's), no per-socket timer, a mailbox
that holds memory only while it holds events, pool sets shared between sockets, and nothing
of the HTTP middlewares. And the paths that make that possible: events through the mailbox
when the server allows no direct writes, the session cookie read without Starlette's wrapper.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
import uuid
from base64 import b64encode
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner
from websockets.asyncio.client import ClientConnection

from app import live as live_hub
from app.models import Role
from app.runtime import Runtime, Urls
from app.settings import Settings
from app.views import live as live_view
from tests.helpers import log_in
from tests.test_live import (
    Server,
    hello,
    make_world,
    mark,
    next_event,
    person,
    phone,
    publish_task,
    refusal,
    running,
)

SOCKETS = 30


@pytest.fixture
async def server(settings: Settings, services: Urls, runtime: Runtime) -> AsyncIterator[Server]:
    async with running(settings, services) as served:
        yield served


async def open_phones(server: Server, tokens: list[str]) -> list[ClientConnection]:
    sockets = [await phone(server, token) for token in tokens]
    for ws in sockets:
        await hello(ws)
    return sockets


def server_tasks() -> int:
    """Tasks in this loop, less the test's own websocket clients' (their keepalive)."""
    return sum(1 for task in asyncio.all_tasks() if "/websockets/asyncio/" not in _code_file(task))


def _code_file(task: asyncio.Task[Any]) -> str:
    code = getattr(task.get_coro(), "cr_code", None)
    return code.co_filename if code is not None else ""


async def settle(server: Server, count: int) -> None:
    """Until the hub holds `count` sockets (a closed socket is detached a moment later)."""
    for _ in range(500):  # 10 s at most
        if server.hub.connections == count:
            break
        await asyncio.sleep(0.02)
    assert server.hub.connections == count
    await asyncio.sleep(0.1)


async def test_an_idle_socket_costs_one_task_and_no_timer(server: Server, runtime: Runtime) -> None:
    world = await make_world(runtime)
    people = [
        await person(runtime, f"r{i}@school.example", [(world.ipa, Role.reviewer)])
        for i in range(SOCKETS)
    ]
    await settle(server, 0)
    before = server_tasks()
    sockets = await open_phones(server, [token for _, token in people])
    try:
        await settle(server, SOCKETS)
        # uvicorn's task per connection is all: no reader, writer or heartbeat task of ours.
        assert server_tasks() - before == SOCKETS
        task_id = await publish_task(runtime, world.credential)
        for ws in sockets:
            assert (await next_event(ws))["task_id"] == str(task_id)
        listeners = [server.hub.listeners_of(user.id)[0] for user, _ in people]
        # Written straight to the wire: nothing queued, no drain task left behind.
        assert all(listener.direct is not None for listener in listeners)
        assert all(listener.queue.empty() for listener in listeners)
        assert server_tasks() - before == SOCKETS
        # The same pools: one frozenset for all of them.
        assert len({id(listener.pools) for listener in listeners}) == 1
    finally:
        for ws in sockets:
            await ws.close()


async def test_without_direct_writes_the_mailbox_delivers_everything_in_order(
    settings: Settings, services: Urls, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server whose connection the hub cannot write to (another ASGI server, or uvicorn's
    # other implementations): every event goes through the mailbox and a drain task that ends
    # when the mailbox is empty.
    monkeypatch.setattr(live_view, "direct_writer", lambda scope, idle: None)
    async with running(settings, services) as server:
        world = await make_world(runtime)
        reviewer, token = await person(runtime, "rita@school.example", [(world.ipa, Role.reviewer)])
        async with phone(server, token) as ws:
            await hello(ws)
            (listener,) = server.hub.listeners_of(reviewer.id)
            assert listener.direct is None
            ids = [await mark(runtime, reviewer) for _ in range(40)]
            task_id = await publish_task(runtime, world.credential)
            await ws.send(json.dumps({"type": "ping"}))
            heard: list[int] = []
            got_task = got_pong = False
            async with asyncio.timeout(20):
                while not (len(heard) == len(ids) and got_task and got_pong):
                    message = await next_event(ws)
                    if message["type"] == "notification":
                        heard.append(message["notification"]["id"])
                    elif message["type"] == "pong":
                        got_pong = True
                    else:
                        assert message["task_id"] == str(task_id) and len(heard) == len(ids)
                        got_task = True
            assert heard == ids
            # The heartbeat comes through the mailbox too.
            ping = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert ping == {"type": "ping"}
            assert listener.queue.empty()


async def test_what_mcx_itself_keeps_per_idle_socket_is_small(
    server: Server, runtime: Runtime
) -> None:
    """A regression guard on the Python objects MCX's websocket layer keeps per socket: the
    hub listener, its mailbox, the socket's state and frames, the middlewares' share."""
    world = await make_world(runtime)
    people = [
        await person(runtime, f"m{i}@school.example", [(world.ipa, Role.reviewer)])
        for i in range(2 * SOCKETS)
    ]
    tokens = [token for _, token in people]
    first = await open_phones(server, tokens[:1])  # one-off costs (pools, caches) paid here
    tracemalloc.start(1)
    sockets: list[ClientConnection] = []
    try:
        sockets = await open_phones(server, tokens[1:SOCKETS])
        await settle(server, SOCKETS)
        before = tracemalloc.take_snapshot()
        sockets += await open_phones(server, tokens[SOCKETS:])
        await settle(server, 2 * SOCKETS)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        for ws in first + sockets:
            await ws.close()
    # The websocket layer and the middlewares a socket passes through; caches elsewhere in
    # app/ (identities, pools) are bounded by their own rules, not held per socket.
    app_dir = Path(live_hub.__file__).parent
    layer = ["live.py", "views/live.py", "security.py", "bodies.py", "csrf.py"]
    mine = [tracemalloc.Filter(True, str(app_dir / name)) for name in layer]
    grown = after.filter_traces(mine).compare_to(before.filter_traces(mine), "lineno")
    per_socket = sum(stat.size_diff for stat in grown) / SOCKETS
    # About 1.5 KiB today (the listener, its mailbox, the socket, two coroutine frames of
    # ours, and Starlette's next coroutine, counted where CSRFMiddleware creates it); these files
    # held about 5.9 KiB per socket with a reader and a writer task each (and more elsewhere:
    # an asyncio.Queue, a timer, the ORM row and its session).
    assert per_socket < 2048, [str(stat) for stat in grown[:8]]


async def test_a_tampered_session_cookie_is_no_log_in(server: Server, runtime: Runtime) -> None:
    user, _ = await person(runtime, "ada@school.example")
    async with httpx.AsyncClient(base_url=server.http) as http:
        assert (await log_in(http, user.email)).status_code == 303
        cookie = http.cookies["mcx_session"]
    async with phone(server, origin=server.origin, cookie=cookie) as ws:
        assert (await hello(ws))["user_id"] == str(user.id)
    flipped = cookie[:-1] + ("A" if cookie[-1] != "A" else "B")
    async with phone(server, origin=server.origin, cookie=flipped) as ws:
        message, code = await refusal(ws)
    assert code == 4401 and message["error"] == "unauthenticated"


def _signed(secret: str, data: Any) -> str:
    """A cookie value as Starlette's SessionMiddleware writes it."""
    return TimestampSigner(secret).sign(b64encode(json.dumps(data).encode())).decode()


def _scope(cookie: str | None) -> dict[str, Any]:
    headers = [(b"cookie", f"mcx_session={cookie}".encode())] if cookie is not None else []
    return {"type": "websocket", "headers": headers}


def test_the_socket_session_is_read_as_starlette_writes_it() -> None:
    secret = "s" * 40
    middleware = live_hub.SessionMiddleware(
        lambda scope, receive, send: None, secret_key=secret, session_cookie="mcx_session"
    )
    session = {"uid": str(uuid.uuid4()), "sv": 3}
    assert middleware.read(_scope(_signed(secret, session))) == session
    assert middleware.read(_scope(None)) == {}
    assert middleware.read(_scope(_signed("t" * 40, session))) == {}  # another key
    assert middleware.read(_scope("garbage")) == {}
    assert middleware.read(_scope(_signed(secret, ["not", "a", "dict"]))) == {}


def test_an_expired_socket_session_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s" * 40
    middleware = live_hub.SessionMiddleware(
        lambda scope, receive, send: None,
        secret_key=secret,
        session_cookie="mcx_session",
        max_age=60,
    )
    cookie = _signed(secret, {"uid": "x", "sv": 1})
    assert middleware.read(_scope(cookie)) == {"uid": "x", "sv": 1}
    later = time.time() + 120
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert middleware.read(_scope(cookie)) == {}


def test_a_mailbox_is_bounded_and_holds_memory_only_while_it_holds_events() -> None:
    mailbox = live_hub.Mailbox(2)
    assert mailbox.empty() and mailbox.qsize() == 0 and mailbox._items is None
    mailbox.put_nowait("a")
    mailbox.put_nowait("b")
    with pytest.raises(asyncio.QueueFull):
        mailbox.put_nowait("c")
    assert [mailbox.get_nowait(), mailbox.get_nowait()] == ["a", "b"]
    assert mailbox.empty() and mailbox._items is None
    with pytest.raises(asyncio.QueueEmpty):
        mailbox.get_nowait()


async def test_heartbeats_ping_only_quiet_sockets_and_drop_unused_pool_sets(
    runtime: Runtime,
) -> None:
    hub = live_hub.Hub(runtime.redis, "feed", "user")
    credential = uuid.uuid4()
    talker = hub.attach(uuid.uuid4(), None, [(credential, "peer")])
    quiet = hub.attach(uuid.uuid4(), None, [(credential, "peer")])
    assert talker.pools is quiet.pools
    hub.beat()  # the first beat marks everyone quiet
    talker.offer("news")
    hub.beat()
    assert [talker.queue.get_nowait()] == ["news"] and talker.queue.empty()
    assert [quiet.queue.get_nowait()] == [live_hub.PING]
    hub.update(quiet, [(uuid.uuid4(), "expert")], None)
    hub.detach(talker)
    hub.beat()
    assert list(hub._pool_sets) == [quiet.pools]
