"""Hostile websocket messages: asking for channels one may not hear, and frames far over the
limit on a real `mcx serve` (whose uvicorn refuses them before buffering)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app import events
from app.runtime import Runtime, Urls, open_runtime
from app.views import live as live_view
from tests import factories as f
from tests.conftest import _reset
from tests.factories import auth
from tests.served import mcx_serve
from tests.test_live import (  # noqa: F401  (server is a fixture)
    WAIT,
    Server,
    hello,
    mark,
    next_event,
    next_is_marker,
    person,
    phone,
    server,
)

# Every way a phone might ask to hear someone else: there is no such request in the protocol,
# so each is a bad message, and nothing about the other person follows.
FOREIGN_ASKS = [
    {"type": "subscribe", "channel": "mcx:ev:user"},
    {"type": "subscribe", "user_id": "{bob}"},
    {"type": "resume", "after": 0, "user_id": "{bob}"},
    {"type": "refresh", "pools": [["any-credential", "expert"]]},
    {"type": "refresh", "user_id": "{bob}"},
    {"type": "ping", "channel": "mcx:ev:feed"},
]


async def test_asking_for_someone_elses_channel_is_refused_and_hears_nothing(
    server: Server,  # noqa: F811 (the fixture imported above)
    runtime: Runtime,
) -> None:
    ada, ada_token = await person(runtime, "ada@school.example")
    bob, _ = await person(runtime, "bob@school.example")
    for _ in range(3):
        await events.notify(
            runtime.engine, runtime.redis, runtime.settings, bob.id, "private", {"secret": "bob"}
        )
    async with phone(server, ada_token) as ws:
        await hello(ws)
        for ask in FOREIGN_ASKS:
            await ws.send(json.dumps(ask).replace("{bob}", str(bob.id)))
            reply = await next_event(ws)
            assert reply["type"] == "error" and reply["error"] == "bad_message", ask
        # Catching up returns ada's own notifications only (she has none).
        await ws.send(json.dumps({"type": "resume", "after": 0}))
        assert await next_event(ws) == {"type": "resume_done", "last_id": 0, "more": False}
        # Bob's live events still do not reach her: her own marker comes next.
        await events.notify(
            runtime.engine, runtime.redis, runtime.settings, bob.id, "private", {"secret": "bob"}
        )
        await next_is_marker(ws, await mark(runtime, ada))


async def test_a_huge_frame_closes_only_that_socket_on_a_real_server(
    services: Urls, tmp_path: Path
) -> None:
    with mcx_serve(services, tmp_path) as served:
        runtime = await open_runtime(
            served.settings, Urls(database=services.database, redis=services.redis)
        )
        try:
            await f.organisation(runtime)
            tokens = [
                await f.token_for(runtime, await f.person(runtime, name)) for name in ("ada", "bob")
            ]
            async with (
                connect(served.ws, additional_headers=auth(tokens[0]), open_timeout=WAIT) as big,
                connect(served.ws, additional_headers=auth(tokens[1]), open_timeout=WAIT) as calm,
            ):
                for ws in (big, calm):
                    assert json.loads(await ws.recv())["type"] == "hello"
                await big.send(json.dumps({"type": "ping", "pad": "x" * (1024 * 1024)}))
                with pytest.raises(ConnectionClosed) as closed:
                    async with asyncio.timeout(WAIT):
                        while True:
                            await big.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
                # Just over the protocol's own limit, yet under the frame limit: a bad message.
                await calm.send(json.dumps({"pad": "x" * live_view.MAX_MESSAGE_BYTES}))
                reply = json.loads(await asyncio.wait_for(calm.recv(), WAIT))
                assert reply["type"] == "error" and reply["error"] == "bad_message"
                await calm.send(json.dumps({"type": "ping"}))
                while (reply := json.loads(await asyncio.wait_for(calm.recv(), WAIT)))[
                    "type"
                ] == "ping":
                    pass
                assert reply == {"type": "pong"}
        finally:
            await _reset(runtime)
            await runtime.close()
