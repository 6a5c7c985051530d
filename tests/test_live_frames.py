"""The hub's direct path: each event's frame built once and written straight to idle sockets
of a real `mcx serve` (uvicorn's websockets-sansio), never out of order with the socket's own
replies, never lost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.frames import Frame
from websockets.streams import StreamReader

from app import events
from app.live import text_frame
from app.runtime import Urls, open_runtime
from tests import factories as f
from tests.conftest import _reset
from tests.factories import auth
from tests.served import mcx_serve

EVENTS = 200


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70001])
def test_a_text_frame_is_what_a_websocket_client_parses(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)
    reader = StreamReader()
    reader.feed_data(text_frame(text))
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as parsed:
        next(parser)
    frame: Frame = parsed.value.value
    assert frame.opcode.value == 1 and frame.fin and frame.data.decode() == text
    assert not reader.buffer  # nothing left over


async def test_events_written_directly_arrive_all_in_order_between_replies(
    services: Urls, tmp_path: Path
) -> None:
    with mcx_serve(services, tmp_path) as served:
        runtime = await open_runtime(
            served.settings, Urls(database=services.database, redis=services.redis)
        )
        try:
            await f.organisation(runtime)
            user = await f.person(runtime, "ada")
            token = await f.token_for(runtime, user)
            async with connect(served.ws, additional_headers=auth(token), open_timeout=10) as ws:
                assert json.loads(await ws.recv())["type"] == "hello"

                async def publish() -> list[int]:
                    ids = []
                    for i in range(EVENTS):
                        note = await events.notify(
                            runtime.engine, runtime.redis, runtime.settings, user.id, "n", {"i": i}
                        )
                        assert note.id is not None
                        ids.append(note.id)
                    return ids

                async def ask() -> None:
                    # Replies (pong, resume) go out through the socket's own send while the hub
                    # is writing events: they must interleave whole, never split a frame.
                    for _ in range(20):
                        await ws.send(json.dumps({"type": "ping"}))
                        await asyncio.sleep(0.005)

                ids, _ = await asyncio.gather(publish(), ask())
                heard: list[int] = []
                pongs = 0
                async with asyncio.timeout(30):
                    while len(heard) < EVENTS or pongs < 20:
                        message = json.loads(await ws.recv())
                        if message["type"] == "notification":
                            heard.append(message["notification"]["id"])
                        elif message["type"] == "pong":
                            pongs += 1
                        else:
                            assert message["type"] == "ping", message
                assert heard == ids  # every event once, in publish order
        finally:
            await _reset(runtime)
            await runtime.close()
