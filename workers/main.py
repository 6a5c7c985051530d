"""WorkerSettings for arq: the jobs, the cron schedule, and startup reusing app.runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from arq import cron, func
from arq.constants import in_progress_key_prefix
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
from workers.overdue import offer_overdue, offer_stranded
from workers.push import announce_new_work, deliver_push, push_overdue, scan_push
from workers.rebuild import rebuild_queue
from workers.uploads import sweep_uploads

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 1.0

# How long a running job's "in progress" mark lasts unless its worker renews it. A live worker
# renews the marks of its running jobs every third of this; a killed worker stops, so another
# worker takes its jobs at most this long after the kill. (arq alone makes the mark last the
# whole job timeout + 10 s: a packet waited over 5 minutes.)
JOB_LEASE_SECONDS = 10

# Renews the in-progress marks of the jobs one worker is running.
# KEYS: their in-progress keys; ARGV[1]: the lease in milliseconds. Returns nothing.
# Extends a mark to the lease, never shortens one (arq keeps a finished cron job's mark for
# 60 s so no other worker runs it again) and never brings back one that is gone (a finished
# job's mark is deleted).
RENEW_LUA = """
for _, key in ipairs(KEYS) do
  local left = redis.call('PTTL', key)
  if left >= 0 and left < tonumber(ARGV[1]) then
    redis.call('PEXPIRE', key, ARGV[1])
  end
end
"""


class LeasedWorker(Worker):
    """arq's Worker with a short in-progress mark that it renews while a job runs, instead of
    one as long as the job timeout: a killed worker's jobs run again within JOB_LEASE_SECONDS.
    (Jobs are idempotent: a job cut off part-way, or one whose worker stalled past its lease,
    may run twice and does its work once.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_progress_timeout_s = JOB_LEASE_SECONDS
        self._renewed_at = 0.0

    async def heart_beat(self) -> None:
        # Called by arq once per poll (every poll_delay), however busy the worker is.
        await super().heart_beat()
        now = time.monotonic()
        if now - self._renewed_at >= JOB_LEASE_SECONDS / 3:
            self._renewed_at = now
            await self.renew_leases()

    async def renew_leases(self) -> None:
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        if running:
            keys = [in_progress_key_prefix + job_id for job_id in running]
            await self.pool.eval(  # type: ignore[misc]
                RENEW_LUA, len(keys), *keys, str(JOB_LEASE_SECONDS * 1000)
            )


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
            offer_stranded,
            scan_evidence,
            send_nudges,
            scan_push,
            announce_new_work,
            push_overdue,
            deliver_push,
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
            cron(offer_stranded, second={25}, unique=True),
            cron(send_nudges, minute={7, 22, 37, 52}, second={0}, unique=True),
            cron(scan_push, second=set(range(0, 60, 10)), unique=True),
            cron(announce_new_work, second={50}, unique=True),
            cron(push_overdue, minute={45}, second={20}, unique=True),
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": arq_settings(redis_url),
        "queue_name": settings.redis_prefix + "arq:queue",
        "max_jobs": 20,
        # The longest a job may run; a dead worker's job returns after JOB_LEASE_SECONDS.
        "job_timeout": settings.job_timeout_seconds,
        # arq polls its queue; 0.1 s instead of 0.5 s puts a packet in the queue 4x sooner.
        "poll_delay": 0.1,
    }


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    """An arq worker for these settings (whose URLs must already be resolved)."""
    return LeasedWorker(**worker_settings(settings, settings.redis_url or ""), burst=burst)


async def _work(settings: Settings, *, burst: bool) -> None:
    """Run the worker; when Redis goes away, start a new one once it answers again (its first
    jobs rebuild the queue, which may have come back empty)."""
    while True:
        # Built inside the running loop: arq's Worker binds to the loop current at construction.
        worker = build_worker(settings, burst=burst)
        try:
            await worker.async_run()
            return
        except asyncio.CancelledError:
            # arq cancels its main task on SIGINT/SIGTERM: a requested stop, not a failure.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
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
