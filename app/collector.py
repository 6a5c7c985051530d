"""The cyclic garbage collector, kept out of rush hour.

CPython walks its young objects whenever enough more of them are alive than at the last walk.
In a burst of taps (a thousand requests in flight at once) that happens again and again, and
every walk visits every live request's objects to free next to nothing: a pause in the middle
of the race, paid by every tap waiting behind it.

So the web process lets young objects pile up to BURST_YOUNG before CPython walks them on its
own (a hard bound on what waits), and a tick every TICK_SECONDS walks them sooner, at the
ordinary QUIET_YOUNG, whenever fewer than BUSY HTTP requests are in flight: between bursts,
and all the time on a quiet server or one holding idle websockets, memory stays where it was.
The older generations are walked on the same tick, when CPython's own counts ask for it.
What the process built to serve (modules, templates, the app) is frozen out of sight first.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable

BURST_YOUNG = 200_000
QUIET_YOUNG = 50_000
BUSY = 100  # HTTP requests in flight: a burst
TICK_SECONDS = 0.1


class InFlight:
    """HTTP requests being answered by this process (counted by app.fastlane)."""

    count = 0

    @classmethod
    async def counted(cls, answer: Awaitable[None]) -> None:
        cls.count += 1
        try:
            await answer
        finally:
            cls.count -= 1


def settle() -> None:
    """At start-up, once the app is built: collect, freeze, raise the young threshold."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(BURST_YOUNG, middle, old)


def due() -> int | None:
    """The generation to collect now, or None: the oldest whose count asks for it."""
    young, middle, old = gc.get_count()
    _, middle_limit, old_limit = gc.get_threshold()
    if young < QUIET_YOUNG or InFlight.count >= BUSY:
        return None
    if old >= old_limit:
        return 2
    if middle >= middle_limit:
        return 1
    return 0


async def keep_collecting() -> None:
    """The tick; runs for the life of the web process."""
    while True:
        await asyncio.sleep(TICK_SECONDS)
        generation = due()
        if generation is not None:
            gc.collect(generation)
