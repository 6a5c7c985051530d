"""The live hub on a unix-socket Redis, as the embedded default runs it (CI uses TCP)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from app.embedded import ensure_redis
from app.live import start_hub
from app.runtime import Urls, open_runtime
from app.settings import Settings


async def test_the_hub_subscribes_over_a_unix_socket(settings: Settings, services: Urls) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mcx-h-", dir="/tmp"))
    redis = await asyncio.to_thread(ensure_redis, folder)
    try:
        urls = Urls(database=services.database, redis=redis.url)
        runtime = await open_runtime(settings.model_copy(update={"redis_url": redis.url}), urls)
        hub = await start_hub(runtime)
        try:
            await asyncio.wait_for(hub.subscribed.wait(), 10)
        finally:
            await hub.stop()
            await runtime.close()
    finally:
        await asyncio.to_thread(redis.stop)
        shutil.rmtree(folder, ignore_errors=True)
