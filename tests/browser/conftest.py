"""Fixtures for tests in a real browser: a live MCX (uvicorn and an arq worker in the test's
event loop), Debian's Chromium driven by Playwright, phone and desktop contexts, screenshots.

Chromium comes from the machine (`apt-get install chromium`); Playwright's own browser
downloads are never used. On CI a missing Chromium fails the run; on a laptop it skips these
tests with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from arq.worker import Worker
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    async_playwright,
)
from starlette.applications import Starlette

from app.main import create_app
from app.runtime import Runtime, Urls, open_runtime
from app.settings import Settings, load_settings
from tests.browser.pages import screenshot
from tests.conftest import TEST_SECRET, _reset
from workers.main import worker_settings

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Bounds for every wait: Playwright's own waits, and the server and worker starting.
WAIT_MS = 15_000
START_SECONDS = 20.0
STOP_SECONDS = 15.0
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": PHONE_UA,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}

ContextFactory = Callable[..., Awaitable[BrowserContext]]
Shot = Callable[[Page, str], Awaitable[Path]]


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test in this folder is a browser test, so `-m "not browser"` skips them all.
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    """A running MCX: `url` to browse, `runtime` to make data through actions, `settings`."""

    url: str
    runtime: Runtime
    settings: Settings
    app: Starlette
    worker: Worker


def _free_socket() -> socket.socket:
    # Bound before the settings are made: base_url must name the real port, since the
    # websocket refuses any Origin but base_url's.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def _serve(stack: contextlib.AsyncExitStack, app: Starlette, sock: socket.socket) -> None:
    """uvicorn in this loop, configured as `mcx serve` configures it; stopped by the stack."""
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        timeout_graceful_shutdown=3,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=64 * 1024,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="live-server")

    async def stop() -> None:
        server.should_exit = True
        await asyncio.wait_for(task, STOP_SECONDS)
        sock.close()

    stack.push_async_callback(stop)
    async with asyncio.timeout(START_SECONDS):
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("uvicorn stopped while starting")
            await asyncio.sleep(0.02)
        await app.state.hub.subscribed.wait()


async def _work(stack: contextlib.AsyncExitStack, settings: Settings) -> Worker:
    """An arq worker in this loop, started (its on_startup done); stopped by the stack."""
    # Not build_worker(): that one installs SIGINT/SIGTERM handlers, which would take Ctrl-C
    # away from pytest. Everything else is the production worker's settings.
    worker = Worker(**worker_settings(settings, settings.redis_url or ""), handle_signals=False)
    task = asyncio.create_task(worker.async_run(), name="live-worker")

    async def stop() -> None:
        # Stop polling, let jobs already running finish (bounded), then close: a job cancelled
        # half-way would make arq's close() re-raise its CancelledError.
        if worker.main_task is not None:
            worker.main_task.cancel()
        await asyncio.wait([task], timeout=STOP_SECONDS)
        running = [job for job in worker.tasks.values() if not job.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=STOP_SECONDS)
            for job in late:
                job.cancel()
            if late:
                await asyncio.wait(late)
        worker.tasks.clear()
        await worker.close()

    stack.push_async_callback(stop)
    async with asyncio.timeout(START_SECONDS):
        while "runtime" not in worker.ctx:
            if task.done():
                task.result()
                raise RuntimeError("the arq worker stopped while starting")
            await asyncio.sleep(0.02)
    return worker


@pytest.fixture
async def live_server(services: Urls, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """MCX on a free 127.0.0.1 port with its worker: submitted packets really get checked.

    Afterwards the server and worker stop, every table is emptied and the test's Redis keys
    (all under its own prefix) are deleted."""
    sock = _free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = load_settings(
        env="test",
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        base_url=url,
        database_url=services.database,
        redis_url=services.redis,
        redis_prefix=f"mcx:test:{uuid.uuid4().hex[:8]}:",
    )
    urls = Urls(database=services.database, redis=services.redis)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(sock.close)  # idempotent; covers a failure before uvicorn owns it
        runtime = await open_runtime(settings, urls)
        stack.push_async_callback(runtime.close)
        stack.push_async_callback(_reset, runtime)  # after the server and worker stopped
        app = create_app(settings, urls)
        await _serve(stack, app, sock)
        worker = await _work(stack, settings)
        yield LiveServer(url=url, runtime=runtime, settings=settings, app=app, worker=worker)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, one per test session."""
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required on CI (apt-get install chromium)", pytrace=False)
        pytest.skip("Chromium not installed: apt-get install chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@contextlib.asynccontextmanager
async def _contexts(
    browser: Browser, server: LiveServer, device: dict[str, Any]
) -> AsyncIterator[ContextFactory]:
    """Hands out contexts for `device` (each call a new person); closes them all afterwards.

    Any uncaught JavaScript error on their pages fails the test at teardown, listed."""
    made: list[BrowserContext] = []
    errors: list[str] = []

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))

        def refused(message: ConsoleMessage) -> None:
            # A Content-Security-Policy refusal is a broken feature, whether or not it throws.
            if "Content Security Policy" in message.text:
                errors.append(f"{page.url}: {message.text}")

        page.on("console", refused)

    async def make(**options: Any) -> BrowserContext:
        context = await browser.new_context(base_url=server.url, **{**device, **options})
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS)
        context.on("page", watch)
        made.append(context)
        return context

    try:
        yield make
    finally:
        for context in made:
            with contextlib.suppress(Error):  # a test may have closed it already
                await context.close()
    if errors:
        pytest.fail("uncaught JavaScript errors:\n  " + "\n  ".join(errors), pytrace=False)


@pytest.fixture
async def phone(browser: Browser, live_server: LiveServer) -> AsyncIterator[ContextFactory]:
    """`await phone(**overrides)`: a new phone (390×844, touch, 2x) context on live_server."""
    async with _contexts(browser, live_server, PHONE) as make:
        yield make


@pytest.fixture
async def desktop(browser: Browser, live_server: LiveServer) -> AsyncIterator[ContextFactory]:
    """`await desktop(**overrides)`: a new 1280×800 desktop context on live_server."""
    async with _contexts(browser, live_server, DESKTOP) as make:
        yield make


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """`await shot(page, name)`: a full-page screenshot named after the test and `name`."""

    async def take(page: Page, name: str) -> Path:
        return await screenshot(page, request.node.name, name)

    return take
