"""The web process's garbage collector tick (app.collector): it collects young objects between
bursts, never during one, and counts the HTTP requests in flight honestly."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from app import collector
from app.collector import BUSY, QUIET_YOUNG, InFlight, due


@pytest.fixture
def young_objects() -> Iterator[list[list[int]]]:
    """More young container objects alive than QUIET_YOUNG, with automatic collection off so
    they stay young; everything as it was afterwards."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield [[] for _ in range(QUIET_YOUNG + 1_000)]
    finally:
        if was_enabled:
            gc.enable()
        InFlight.count = 0


def test_collects_young_objects_when_quiet(young_objects: list[list[int]]) -> None:
    assert gc.get_count()[0] >= QUIET_YOUNG
    assert due() is not None


def test_waits_while_a_burst_is_in_flight(young_objects: list[list[int]]) -> None:
    InFlight.count = BUSY
    assert due() is None
    InFlight.count = BUSY - 1
    assert due() is not None


def test_nothing_to_do_after_a_collection() -> None:
    gc.collect()
    assert gc.get_count()[0] < QUIET_YOUNG
    assert due() is None


def test_older_generations_when_their_counts_ask(young_objects: list[list[int]]) -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(saved[0], 1_000_000, 1_000_000)
        assert due() == 0
        gc.set_threshold(saved[0], 0, 1_000_000)
        assert due() == 1
        gc.set_threshold(saved[0], 0, 0)
        assert due() == 2
    finally:
        gc.set_threshold(*saved)


async def test_in_flight_counts_each_request_until_it_ends() -> None:
    started = asyncio.Event()
    finish = asyncio.Event()

    async def answer() -> None:
        started.set()
        await finish.wait()

    async def failing() -> None:
        raise RuntimeError("the handler failed")

    assert InFlight.count == 0
    task = asyncio.create_task(InFlight.counted(answer()))
    await started.wait()
    assert InFlight.count == 1
    with pytest.raises(RuntimeError):
        await InFlight.counted(failing())
    assert InFlight.count == 1  # a failed request is no longer in flight
    finish.set()
    await task
    assert InFlight.count == 0


async def test_the_tick_collects_between_bursts(young_objects: list[list[int]]) -> None:
    before = gc.get_stats()
    ticking = asyncio.create_task(collector.keep_collecting())
    try:
        await asyncio.sleep(collector.TICK_SECONDS * 3)
    finally:
        ticking.cancel()
    after = gc.get_stats()
    assert sum(s["collections"] for s in after) > sum(s["collections"] for s in before)
    assert gc.get_count()[0] < QUIET_YOUNG
