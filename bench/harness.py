"""What every benchmark needs: a fresh MCX (database, Redis prefix, demo) and real processes.

Processes are started with the same commands production uses (`mcx serve`, `mcx worker`, or
uvicorn for a baseline app), on 127.0.0.1 only, and always stopped; the database and the Redis
keys are dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from alembic import command
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import alembic_config
from app.runtime import Runtime, Urls, open_runtime, resolve_urls
from app.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
PYTHON = [sys.executable, "-m", "app.cli"]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@dataclass
class Mcx:
    """One isolated MCX: its environment for child processes and an in-process runtime."""

    env: dict[str, str]
    urls: Urls
    data_dir: Path
    runtime: Runtime
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    async def start(
        self,
        name: str,
        argv: list[str],
        *,
        ready_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start a child process (logging to the data folder; `env` adds to or overrides this
        MCX's environment); wait until ready_url answers."""
        log = (self.data_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv, env={**self.env, **(env or {})}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append((name, proc))
        if ready_url is None:
            return
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {self.log_tail(name)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(ready_url)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready: {self.log_tail(name)}")

    async def serve(
        self,
        port: int,
        *extra: str,
        name: str = "serve",
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> str:
        """`mcx serve` on 127.0.0.1:port (`--workers N` when workers > 1); its base URL once it
        answers `/readyz` (with several web processes: once 20 fresh connections in a row
        were answered, so every process is up, not only the first)."""
        base = f"http://127.0.0.1:{port}"
        argv = [*PYTHON, "serve", "--port", str(port), "--log-level", "warning", *extra]
        if workers > 1:
            argv += ["--workers", str(workers)]
        await self.start(name, argv, ready_url=base + "/readyz", env=env)
        if workers > 1:
            await _answered_in_a_row(base + "/readyz", 20, time_limit=60)
        return base

    async def uvicorn(self, name: str, factory: str, port: int) -> str:
        """A baseline app (`module:factory` returning a Starlette app, with `GET /readyz`) on
        uvicorn, one process, on 127.0.0.1:port; its base URL once it answers."""
        base = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "uvicorn", "--factory", "--log-level", "warning"]
        await self.start(name, [*argv, factory, "--port", str(port)], ready_url=base + "/readyz")
        return base

    def stop(self, name: str) -> None:
        """Stop one child process (SIGTERM, then SIGKILL after 10 s)."""
        for entry in [e for e in self.procs if e[0] == name]:
            _stop(entry[1])
            self.procs.remove(entry)

    def pid(self, name: str) -> int:
        return next(proc.pid for n, proc in self.procs if n == name)

    def log_tail(self, name: str) -> str:
        return (self.data_dir / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        for _, proc in self.procs:
            proc.terminate()
        for _, proc in self.procs:
            _stop(proc)
        self.procs.clear()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


async def _answered_in_a_row(url: str, count: int, *, time_limit: float) -> None:
    """Wait until `count` requests in a row, each on a new connection, got 200."""
    deadline = time.monotonic() + time_limit
    streak = 0
    while streak < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer {count} times in a row")
        try:
            async with httpx.AsyncClient() as http:
                ok = (await http.get(url)).status_code == 200
        except httpx.HTTPError:
            ok = False
        streak = streak + 1 if ok else 0
        if not ok:
            await asyncio.sleep(0.2)


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop when it is installed (a cheaper load client), else the default."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


@contextlib.asynccontextmanager
async def fresh_mcx(*, demo: bool = True, base_url: str | None = None) -> AsyncIterator[Mcx]:
    """A new database (migrated, optionally with the demo) and Redis prefix on the configured
    servers (or the embedded ones); everything is dropped on the way out."""
    urls = await asyncio.to_thread(resolve_urls, load_settings())
    name = f"mcx_bench_{uuid.uuid4().hex[:8]}"
    await admin(urls.database, f'CREATE DATABASE "{name}"')
    database = make_url(urls.database).set(database=name).render_as_string(hide_password=False)
    prefix = f"mcx:bench:{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory(prefix="mcx-bench-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": database,
            "REDIS_URL": urls.redis,
            "MCX_REDIS_PREFIX": prefix,
            "MCX_DATA_DIR": tmp,
            "MCX_BASE_URL": base_url or "http://127.0.0.1:8000",
        }
        runtime = None
        mcx = None
        try:
            await asyncio.to_thread(command.upgrade, alembic_config(database), "head")
            if demo:
                await asyncio.to_thread(
                    subprocess.run,
                    [*PYTHON, "demo"],
                    env=env,
                    cwd=ROOT,
                    check=True,
                    capture_output=True,
                )
            settings = load_settings(
                database_url=database, redis_url=urls.redis, redis_prefix=prefix, data_dir=Path(tmp)
            )
            runtime = await open_runtime(settings, Urls(database=database, redis=urls.redis))
            mcx = Mcx(
                env=env,
                urls=Urls(database=database, redis=urls.redis),
                data_dir=Path(tmp),
                runtime=runtime,
            )
            yield mcx
        finally:
            if mcx is not None:
                mcx.stop_all()
            if runtime is not None:
                await runtime.close()
            await admin(urls.database, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            redis = Redis.from_url(urls.redis)
            keys = [k async for k in redis.scan_iter(match=prefix + "*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()
            await asyncio.to_thread(urls.stop_embedded)
