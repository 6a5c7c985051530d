"""`mcx run`: the whole product in one command, for a laptop.

It starts the embedded PostgreSQL and Redis (unless URLs are configured), migrates, loads the
demo, then runs `mcx serve` and `mcx worker` as two child processes on those servers and watches
them: a worker that dies is started again (with a growing pause), the web app dying or Ctrl-C
stops both, and the embedded servers stop last. Production runs `mcx serve` and `mcx worker`
separately (compose.yaml); this is only the supervisor a first run needs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType

import redis

log = logging.getLogger("mcx.run")

READY_SECONDS = 90.0  # the web app answering /readyz and the worker polling its queue
STOP_SECONDS = 15.0  # a child's graceful stop before it is killed
POLL_SECONDS = 0.2
# A worker that dies is started again after 1, 2, 4 ... at most 30 s; one that ran this long
# before dying starts again after 1 s.
RESTART_PAUSES = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_SECONDS = 60.0


def _child_preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Children leave the terminal's process group (Ctrl-C reaches only the supervisor, which
    # stops them in order); on Linux they are told to stop if the supervisor itself is killed.
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Child:
    """One supervised process: its command, the running Popen, and its restart history."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    failures_in_a_row: int = field(default=0)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.argv, env=env, start_new_session=True, preexec_fn=_child_preexec
        )
        self.started = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        """SIGTERM, wait up to STOP_SECONDS, then SIGKILL; returns once the process is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) did not stop in %.0f s; killing it", self.name, self.pid,
                        STOP_SECONDS)  # fmt: skip
            self.process.kill()
            self.process.wait()


class Stop(Exception):
    """Ctrl-C or SIGTERM reached the supervisor."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


@dataclass
class Supervisor:
    """Runs the web app and the worker until one of: Ctrl-C/SIGTERM, or the web app exits."""

    env: dict[str, str]
    host: str
    port: int
    redis_url: str
    health_key: str  # the arq worker's health-check key: written once it polls its queue
    log_level: str = "warning"
    web: Child = field(init=False)
    worker: Child = field(init=False)

    def __post_init__(self) -> None:
        python = [sys.executable, "-m", "app.cli"]
        self.web = Child(
            "web app",
            [*python, "serve", "--host", self.host, "--port", str(self.port),
             "--log-level", self.log_level],
        )  # fmt: skip
        self.worker = Child("worker", [*python, "worker", "--log-level", self.log_level])

    def _readyz(self) -> bool:
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        try:
            with urllib.request.urlopen(  # noqa: S310 - our own http URL
                f"http://{host}:{self.port}/readyz", timeout=2
            ) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _worker_polling(self, client: redis.Redis) -> bool:
        try:
            return bool(client.exists(self.health_key))
        except redis.RedisError:
            return False

    def start(self) -> None:
        """Start both and wait (bounded) until the web app is ready and the worker polls."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            with contextlib.suppress(redis.RedisError):
                client.delete(self.health_key)  # a previous run's key would look like ours
            self.web.start(self.env)
            self.worker.start(self.env)
            deadline = time.monotonic() + READY_SECONDS
            web_ready = worker_ready = False
            while not (web_ready and worker_ready):
                for child in (self.web, self.worker):
                    code = child.exit_code()
                    if code is not None:
                        raise RuntimeError(f"the {child.name} exited with {code} while starting")
                if time.monotonic() > deadline:
                    waiting = [n for n, ok in (("web app", web_ready), ("worker", worker_ready))
                               if not ok]  # fmt: skip
                    raise RuntimeError(
                        f"the {' and '.join(waiting)} did not start within {READY_SECONDS:.0f} s"
                    )
                web_ready = web_ready or self._readyz()
                worker_ready = worker_ready or self._worker_polling(client)
                time.sleep(POLL_SECONDS)
        finally:
            client.close()

    def _restart_worker(self, code: int) -> None:
        ran = time.monotonic() - self.worker.started
        if ran >= STABLE_SECONDS:
            self.worker.failures_in_a_row = 0
        pause = RESTART_PAUSES[min(self.worker.failures_in_a_row, len(RESTART_PAUSES) - 1)]
        self.worker.failures_in_a_row += 1
        print(
            f"The worker (pid {self.worker.pid}) exited with {code} after {ran:.0f} s; "
            f"starting it again in {pause:.0f} s.",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(pause)
        self.worker.start(self.env)
        self.worker.restarts += 1
        print(f"Worker started again (pid {self.worker.pid}).", file=sys.stderr, flush=True)

    def watch(self) -> int:
        """Until the web app exits: restart the worker whenever it dies. The web app's code."""
        while True:
            code = self.web.exit_code()
            if code is not None:
                print(f"The web app exited with {code}; stopping MCX.", file=sys.stderr)
                return code or 1
            code = self.worker.exit_code()
            if code is not None:
                self._restart_worker(code)
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """The web app first (no new work), then the worker (lets running jobs finish)."""
        self.web.stop()
        self.worker.stop()


def run(supervisor: Supervisor, banner: Sequence[str]) -> int:
    """Start, print the banner once both are up, watch until stopped; always stop both."""
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            supervisor.start()
        except RuntimeError as error:
            print(f"MCX did not start: {error}", file=sys.stderr)
            return 1
        print("\n".join(banner), flush=True)
        return supervisor.watch()
    except Stop as stop:
        print(f"\nStopping MCX ({stop}) ...", flush=True)
        return 0
    finally:
        # Signals arriving while children stop must not interrupt the stopping.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def children_env(database_url: str, redis_url: str, base_url: str) -> dict[str, str]:
    """The children's environment: the resolved servers and the served base URL."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MCX_BASE_URL": base_url,
    }
