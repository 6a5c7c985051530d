"""The live queue's scripts go to Redis in one pipeline per turn of the event loop
(app/queue/scripts.py): every caller still gets its own answer or its own error."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from app.autopipe import BATCH_LIMIT
from app.queue.scripts import Scripts
from app.runtime import Runtime

SOURCES = {
    "echo": "return ARGV[1] .. ':' .. ARGV[2]",
    "refuse": "return redis.error_reply('refused ' .. ARGV[1])",
}


async def _connections(redis: Redis, name: str) -> int:
    return sum(1 for client in await redis.client_list() if client.get("name") == name)


async def test_scripts_of_one_moment_share_one_connection_and_keep_their_answers(
    runtime: Runtime,
) -> None:
    name = f"mcx-test-{uuid.uuid4().hex[:8]}"
    own = Redis.from_url(runtime.settings.redis_url, decode_responses=True, client_name=name)
    try:
        scripts = Scripts(own, SOURCES)
        count = BATCH_LIMIT + 88  # more than one pipeline's worth
        answers = await asyncio.gather(*(scripts.run("echo", i, "x") for i in range(count)))
        assert answers == [f"{i}:x" for i in range(count)]
        # Unbatched, each of these would have checked out a connection of its own.
        assert await _connections(runtime.redis, name) <= 2
    finally:
        await own.aclose()


async def test_one_callers_error_is_theirs_alone(runtime: Runtime) -> None:
    scripts = Scripts(runtime.redis, SOURCES)
    answers = await asyncio.gather(
        *(scripts.run("refuse" if i % 3 == 0 else "echo", i, "y") for i in range(30)),
        return_exceptions=True,
    )
    for i, answer in enumerate(answers):
        if i % 3 == 0:
            assert isinstance(answer, ResponseError)
            assert str(answer) == f"refused {i}"
        else:
            assert answer == f"{i}:y"


async def test_a_redis_that_forgot_the_scripts_is_taught_them_again(runtime: Runtime) -> None:
    scripts = Scripts(runtime.redis, SOURCES)
    assert await scripts.run("echo", "a", "b") == "a:b"
    await runtime.redis.script_flush()
    answers = await asyncio.gather(*(scripts.run("echo", i, "z") for i in range(20)))
    assert answers == [f"{i}:z" for i in range(20)]
    assert await scripts.run("echo", "alone", "z") == "alone:z"


async def test_a_caller_who_stops_waiting_leaves_the_others_their_answers(
    runtime: Runtime,
) -> None:
    scripts = Scripts(runtime.redis, SOURCES)
    calls = [asyncio.ensure_future(scripts.run("echo", i, "c")) for i in range(10)]
    calls[4].cancel()
    answers = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(answers[4], asyncio.CancelledError)
    assert [a for i, a in enumerate(answers) if i != 4] == [f"{i}:c" for i in range(10) if i != 4]


async def test_every_caller_hears_that_redis_is_unreachable() -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    try:
        scripts = Scripts(unreachable, SOURCES)
        answers = await asyncio.gather(
            *(scripts.run("echo", i, "d") for i in range(5)), return_exceptions=True
        )
        assert all(isinstance(answer, RedisConnectionError) for answer in answers)
        with pytest.raises(RedisConnectionError):
            await scripts.run("echo", "alone", "d")
    finally:
        await unreachable.aclose()
