"""WorkerSettings for arq: the jobs, the cron schedule, and startup reusing app.runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from arq import cron, func
from arq.worker import Worker
from redis.exceptions import RedisError

from app.db import require_current_schema
from app.runtime import arq_settings, open_runtime, resolve_urls
from app.settings import Settings
from workers.badges import notify_expiring_badges
from workers.evidence import check_evidence
from workers.integrity import scan_evidence
from workers.leases import expire_leases
from workers.media import prepare_media
from workers.nudges import send_nudges
from workers.outcomes import reconcile_outcomes
from workers.overdue import offer_overdue
from workers.rebuild import rebuild_queue
from workers.uploads import sweep_uploads

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 1.0


def worker_settings(settings: Settings, redis_url: str) -> dict[str, Any]:
    """The arq settings for one MCX: its queue name, jobs and cron jobs."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["runtime"] = await open_runtime(settings)
        await require_current_schema(ctx["runtime"].engine)
        # Transcoding uses every core: one file at a time per worker unless told otherwise.
        ctx["media_slots"] = asyncio.Semaphore(settings.media_transcodes)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "runtime" in ctx:
            await ctx["runtime"].close()

    return {
        "functions": [
            check_evidence,
            expire_leases,
            rebuild_queue,
            reconcile_outcomes,
            sweep_uploads,
            notify_expiring_badges,
            offer_overdue,
            scan_evidence,
            send_nudges,
            func(prepare_media, timeout=settings.media_job_timeout_seconds, max_tries=2),
        ],
        "cron_jobs": [
            # The rebuild runs first at start: Redis may have lost everything meanwhile.
            cron(rebuild_queue, second={5}, unique=True, run_at_startup=True),
            cron(expire_leases, second={0, 15, 30, 45}, unique=True, run_at_startup=True),
            cron(reconcile_outcomes, second={30}, unique=True, run_at_startup=True),
            cron(sweep_uploads, minute={17}, second={0}, unique=True),
            cron(notify_expiring_badges, minute={23}, second={0}, unique=True),
            cron(offer_overdue, minute=set(range(0, 60, 5)), second={40}, unique=True),
            cron(send_nudges, minute={7, 22, 37, 52}, second={0}, unique=True),
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": arq_settings(redis_url),
        "queue_name": settings.redis_prefix + "arq:queue",
        "max_jobs": 20,
        # Also how long a job whose worker died stays claimed before another worker takes it.
        "job_timeout": settings.job_timeout_seconds,
        # arq polls its queue; 0.1 s instead of 0.5 s puts a packet in the queue 4x sooner.
        "poll_delay": 0.1,
    }


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    """An arq worker for these settings (whose URLs must already be resolved)."""
    return Worker(**worker_settings(settings, settings.redis_url or ""), burst=burst)


async def _work(settings: Settings, *, burst: bool) -> None:
    """Run the worker; when Redis goes away, start a new one once it answers again (its first
    jobs rebuild the queue, which may have come back empty)."""
    while True:
        # Built inside the running loop: arq's Worker binds to the loop current at construction.
        worker = build_worker(settings, burst=burst)
        try:
            await worker.async_run()
            return
        except (RedisError, OSError) as exc:
            if burst:
                raise
            log.warning("lost Redis (%s); starting again in %.0f s", exc, RECONNECT_SECONDS)
        finally:
            # Closing tries to tidy up in Redis, which may be the thing that is gone.
            with contextlib.suppress(RedisError, OSError):
                await worker.close()
            if "runtime" in worker.ctx:  # close() stops before on_shutdown when Redis is gone
                with contextlib.suppress(RedisError, OSError):
                    await worker.ctx.pop("runtime").close()
        await asyncio.sleep(RECONNECT_SECONDS)


def run_worker(settings: Settings, *, burst: bool = False) -> int:
    urls = resolve_urls(settings)
    settings = settings.model_copy(update={"database_url": urls.database, "redis_url": urls.redis})
    try:
        asyncio.run(_work(settings, burst=burst))
    finally:
        urls.stop_embedded()
    return 0
