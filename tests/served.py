"""A real `mcx serve` process on this test run's database, with a Redis prefix of its own."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.runtime import Urls
from app.settings import Settings, load_settings
from bench.harness import PYTHON, ROOT, free_port


@dataclass
class Served:
    base: str
    settings: Settings  # the same database, Redis and prefix, for an in-process runtime
    log: Path
    pid: int  # the `mcx serve` process (with --workers, the parent of the workers)
    port: int

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws"


@contextlib.contextmanager
def mcx_serve(
    services: Urls, data_dir: Path, *extra: str, own_base_url: bool = False
) -> Iterator[Served]:
    """Started (`extra` are more `mcx serve` options), waited for (/readyz), and terminated by
    its pid on the way out; the server log must hold no traceback. With `own_base_url`,
    MCX_BASE_URL is the address it serves on, so the URLs in its documents resolve."""
    prefix = f"mcx:test:{uuid.uuid4().hex[:8]}:"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": services.database,
        "REDIS_URL": services.redis,
        "MCX_REDIS_PREFIX": prefix,
        "MCX_DATA_DIR": str(data_dir),
        **({"MCX_BASE_URL": base} if own_base_url else {}),
    }
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(  # noqa: S603 - our own command
            [*PYTHON, "serve", "--port", str(port), "--log-level", "warning", *extra],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Served(
        base=base,
        settings=load_settings(
            database_url=services.database,
            redis_url=services.redis,
            redis_prefix=prefix,
            data_dir=data_dir,
            **({"base_url": base} if own_base_url else {}),
        ),
        log=log,
        pid=server.pid,
        port=port,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(served.base + "/readyz").status_code == 200:
                    break
            assert time.monotonic() < deadline, "mcx serve did not become ready"
            time.sleep(0.1)
        yield served
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
