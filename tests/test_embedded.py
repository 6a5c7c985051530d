"""The embedded PostgreSQL and Redis: start, keep data across restarts, share, stop."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedServerError,
    ensure_postgres,
    ensure_redis,
)

ROOT = Path(__file__).resolve().parents[1]

# A second MCX process: takes a handle, reports the server pid, holds it until stdin closes,
# then exits normally so its atexit hook lets go.
HOLDER = """
import sys
from pathlib import Path
from app import embedded
handle = getattr(embedded, sys.argv[1])(Path(sys.argv[2]))
print(handle.pid, flush=True)
sys.stdin.read()
"""

Handle = EmbeddedPostgres | EmbeddedRedis


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A short folder (unix socket paths are limited), with any server left in it stopped."""
    path = Path(tempfile.mkdtemp(prefix="mcx-e-", dir="/tmp"))
    try:
        yield path
    finally:
        # A failed test may leave a server behind: stop it by its own pid file.
        for pidfile, sig in (
            (path / "redis" / "redis.pid", signal.SIGTERM),
            (path / "postgres" / "postmaster.pid", signal.SIGINT),  # fast shutdown
        ):
            try:
                pid = int(pidfile.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if _alive(pid):
                os.kill(pid, sig)
                _gone(pid)
        subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture
def handles() -> Iterator[list[Handle]]:
    """Handles a test took; stopped at teardown (stop() is idempotent)."""
    taken: list[Handle] = []
    yield taken
    for handle in reversed(taken):
        handle.stop()


def _pg_host(url: str) -> str:
    prefix = "postgresql+asyncpg://postgres@/postgres?host="
    assert url.startswith(prefix), url
    return url.removeprefix(prefix)


async def _pg_run(url: str, *statements: str) -> list[Any]:
    conn = await asyncpg.connect(host=_pg_host(url), user="postgres", database="postgres")
    try:
        for statement in statements[:-1]:
            await conn.execute(statement)
        return [tuple(row) for row in await conn.fetch(statements[-1])]
    finally:
        await conn.close()


async def _sqlalchemy_scalar(url: str, sql: str) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()
    finally:
        await engine.dispose()


def test_postgres_keeps_data_across_stop_and_start(data_dir: Path, handles: list[Handle]) -> None:
    pg = ensure_postgres(data_dir)
    handles.append(pg)
    rows = asyncio.run(
        _pg_run(
            pg.url,
            "CREATE TABLE kept (note text)",
            "INSERT INTO kept VALUES ('survives')",
            "SELECT note FROM kept",
        )
    )
    assert rows == [("survives",)]
    # The URL is what the app hands SQLAlchemy.
    assert asyncio.run(_sqlalchemy_scalar(pg.url, "SELECT count(*) FROM kept")) == 1

    first = pg.pid
    pg.stop()
    assert _gone(first), "postgres still running after the last handle stopped"
    assert not (data_dir / "postgres" / "postmaster.pid").exists()

    again = ensure_postgres(data_dir)
    handles.append(again)
    assert again.pid != first
    assert asyncio.run(_pg_run(again.url, "SELECT note FROM kept")) == [("survives",)]
    again.stop()
    assert _gone(again.pid)


def test_redis_keeps_data_across_stop_and_start(data_dir: Path, handles: list[Handle]) -> None:
    rd = ensure_redis(data_dir)
    handles.append(rd)
    assert rd.url == f"unix://{data_dir}/redis/redis.sock"
    client = redis.Redis.from_url(rd.url)
    client.set("mcx:kept", "survives")
    client.close()

    # A second handle in the same process: stopping one of them keeps the server.
    second = ensure_redis(data_dir)
    handles.append(second)
    assert second.pid == rd.pid
    second.stop()
    assert _alive(rd.pid)

    rd.stop()
    assert _gone(rd.pid), "redis still running after the last handle stopped"
    assert not (data_dir / "redis" / "redis.sock").exists()

    again = ensure_redis(data_dir)
    handles.append(again)
    assert again.pid != rd.pid
    client = redis.Redis.from_url(again.url)
    assert client.get("mcx:kept") == b"survives"
    client.close()
    again.stop()
    assert _gone(again.pid)


def _holder(function: str, data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, function, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""
    if not line.strip():
        proc.kill()
        proc.wait()
        pytest.fail(f"the holder process did not report a server pid (exit {proc.returncode})")
    return proc, int(line)


ENSURE: dict[str, Callable[[Path], Handle]] = {
    "ensure_redis": ensure_redis,
    "ensure_postgres": ensure_postgres,
}


@pytest.mark.parametrize("function", ["ensure_redis", "ensure_postgres"])
def test_second_process_reuses_the_server_and_the_last_one_stops_it(
    function: str, data_dir: Path, handles: list[Handle]
) -> None:
    proc, server_pid = _holder(function, data_dir)
    try:
        here = ENSURE[function](data_dir)
        handles.append(here)
        assert here.pid == server_pid, "a second server was started"

        here.stop()
        assert _alive(server_pid), "stopped while another process still uses it"
        assert proc.stdin is not None
        proc.stdin.close()  # the holder exits; its atexit hook is the last user
        assert proc.wait(timeout=30) == 0
        assert _gone(server_pid), "server still running after the last process exited"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("function", ["ensure_redis", "ensure_postgres"])
def test_a_holder_that_died_does_not_keep_the_server_alive(
    function: str, data_dir: Path, handles: list[Handle]
) -> None:
    proc, server_pid = _holder(function, data_dir)
    proc.kill()  # no atexit: its pid stays in the handle list
    proc.wait()

    here = ENSURE[function](data_dir)
    handles.append(here)
    assert here.pid == server_pid
    here.stop()
    assert _gone(server_pid), "a dead holder's pid kept the server running"


def test_too_long_data_dir_names_mcx_data_dir(data_dir: Path) -> None:
    deep = data_dir / ("d" * 120)
    with pytest.raises(EmbeddedServerError, match="MCX_DATA_DIR"):
        ensure_redis(deep)
    assert not deep.exists()
