"""The scripted end-to-end run (bench/e2e.py) as a test: real `mcx serve` and `mcx worker`."""

from __future__ import annotations

from bench.e2e import run_e2e


async def test_earner_hears_every_step_from_real_processes() -> None:
    figures = await run_e2e()
    assert len(figures) == 5
    assert all(seconds >= 0 for seconds in figures.values())
