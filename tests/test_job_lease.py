"""A worker's hold on a running job is a short lease it renews (issue 16, item 4).

tests/faults/test_killed_mid_job.py shows a SIGKILLed worker's job running again within the
lease; these show the renewal keeps a live worker's long job its own and never shortens or
brings back a mark arq set itself.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from arq import create_pool
from arq.constants import in_progress_key_prefix
from arq.worker import func

from app.runtime import Runtime, arq_settings
from app.settings import Settings
from workers import main as worker_main
from workers.main import RENEW_LUA, LeasedWorker


async def test_a_live_worker_keeps_a_job_that_outlasts_the_lease(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_main, "JOB_LEASE_SECONDS", 1)
    runs: list[str] = []
    started = asyncio.Event()

    async def slow(ctx: dict[str, Any]) -> str:
        runs.append(ctx["job_id"])
        started.set()
        await asyncio.sleep(3)  # three leases long
        return "done"

    queue = settings.redis_prefix + "lease-test"
    redis_settings = arq_settings(settings.redis_url or "")

    def worker() -> LeasedWorker:
        return LeasedWorker(
            functions=[func(slow, name="slow")],
            redis_settings=redis_settings,
            queue_name=queue,
            job_timeout=300,
            poll_delay=0.05,
            handle_signals=False,
        )

    first, second = worker(), worker()
    assert first.in_progress_timeout_s == 1  # not the job timeout + 10 s
    pool = await create_pool(redis_settings, default_queue_name=queue)
    tasks = []
    try:
        job = await pool.enqueue_job("slow", _job_id=f"lease-{uuid.uuid4().hex}")
        assert job is not None
        tasks.append(asyncio.create_task(first.async_run()))
        await asyncio.wait_for(started.wait(), 10)
        tasks.append(asyncio.create_task(second.async_run()))  # polling for work all along
        assert await job.result(timeout=15) == "done"
        assert len(runs) == 1
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await first.close()
        await second.close()
        await pool.aclose()


async def test_renewal_extends_only_marks_that_exist_and_never_shortens_one(
    runtime: Runtime,
) -> None:
    running, finished_cron, gone = (
        in_progress_key_prefix + f"lease-{uuid.uuid4().hex}" for _ in range(3)
    )
    redis = runtime.redis
    await redis.set(running, "1", px=500)
    await redis.set(finished_cron, "1", px=60_000)  # arq keeps a finished cron job's mark 60 s
    try:
        await redis.eval(RENEW_LUA, 3, running, finished_cron, gone, "10000")  # type: ignore[misc]
        assert 9_000 < await redis.pttl(running) <= 10_000
        assert await redis.pttl(finished_cron) > 50_000
        assert await redis.exists(gone) == 0
    finally:
        await redis.delete(running, finished_cron)
