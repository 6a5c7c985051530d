"""The first run, as README says it: `make run` (then `make run PORT=8101`) in a fresh copy of
the repository, nothing started by hand, and the whole product driven through a browser.

The copy gets every file git knows (committed or not, never ignored ones) and borrows this
checkout's installed `.venv` (timestamps kept, so make finds it installed and does not reinstall:
`make -n run` must plan only `mcx run`). With no DATABASE_URL / REDIS_URL, MCX starts its own
PostgreSQL and Redis in the copy's `.mcx`. In each run an earner's packet reaches two reviewers'
open feeds live, both review it to a pass, and the badge appears on the earner's open page; the
links and the websocket work at the port actually served. The first run also kills the worker
(SIGKILL) before the packet is sent: only the restarted worker can check it. Ctrl-C (SIGINT to
the process group, as a terminal sends it) must stop everything MCX started.

Both runs take about a minute each on a 2-core machine; they are one test so that CI pays for
the copy and the embedded PostgreSQL's first start once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import psutil
import pytest
from playwright.async_api import Browser, BrowserContext, FilePayload, Page, expect

from tests import media
from tests.browser.conftest import PHONE, WAIT_MS
from tests.browser.pages import login, screenshot
from tests.browser.test_flows import (
    MEETS,
    Evidence,
    criterion_card,
    press,
    score_everything,
    status_is,
    submit_packet,
    submit_review,
    upload_all_evidence,
)

ROOT = Path(__file__).resolve().parent.parent.parent
# From `make run` to "MCX is running at": installing nothing, a first initdb, migrations, the
# demo's password hashes, the web app and the worker on a busy 2-core machine.
START_SECONDS = 240.0
STOP_SECONDS = 60.0
LIVE_MS = 30_000
CREDENTIAL = "/credentials/ctq/understanding-your-leadership-strengths"
REVIEWERS = (
    ("reviewer1@mcx.example", "reviewer-demo-1"),
    ("reviewer2@mcx.example", "reviewer-demo-2"),
)


def _reflection(words: int) -> str:
    sentence = "My colleagues rated my facilitation higher than I did, so I will lead inquiry. "
    text = (sentence * (words // len(sentence.split()) + 1)).split()[:words]
    return " ".join(text)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def fresh_copy(tmp_path: Path) -> Path:
    """The repository's files as a fresh clone would have them, with this checkout's venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    copy = tmp_path / "mcx"
    for raw in filter(None, listed):
        source = ROOT / os.fsdecode(raw)
        if not source.is_file():
            continue  # deleted but not yet committed
        target = copy / os.fsdecode(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)  # keeps mtimes: make compares them
    venv = Path(sys.prefix)
    if not (venv / ".installed").exists():
        pytest.fail(f"{venv} was not installed by make (no .installed); run make install-dev")
    (copy / ".venv").symlink_to(venv, target_is_directory=True)
    plan = subprocess.run(
        ["make", "-n", "run"],  # noqa: S607
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # A reinstall would point the shared venv's editable install at this temporary copy.
    assert "pip install" not in plan and "mcx run" in plan, plan
    return copy


@dataclass
class Running:
    base: str
    log: Path
    make: subprocess.Popen[bytes]

    def console(self) -> str:
        return self.log.read_text(errors="replace")

    def descendants(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return psutil.Process(self.make.pid).children(recursive=True)
        return []

    def worker_pid(self) -> int | None:
        for process in self.descendants():
            with contextlib.suppress(psutil.Error):
                if "worker" in process.cmdline() and "app.cli" in process.cmdline():
                    return process.pid
        return None


def _clean_env() -> dict[str, str]:
    # A newcomer's shell: no DATABASE_URL / REDIS_URL (embedded default), no MCX_* settings.
    drop = {"DATABASE_URL", "REDIS_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("MCX_")}


@contextlib.contextmanager
def make_run(copy: Path, *args: str, port: int) -> Iterator[Running]:
    """`make run ARGS` in the copy until "MCX is running at"; Ctrl-C afterwards, and every
    process it started must be gone."""
    if not _port_free(port):
        pytest.fail(f"port {port} is busy; README's `make run {' '.join(args)}` needs it")
    log = copy / f"make-run-{port}.log"
    with log.open("wb") as out:
        make = subprocess.Popen(  # noqa: S603
            ["make", "run", *args],  # noqa: S607
            cwd=copy,
            env=_clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGINT to it is a terminal's Ctrl-C
        )
    running = Running(base="", log=log, make=make)
    seen: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + START_SECONDS
        while "MCX is running at" not in running.console():
            assert make.poll() is None, (
                f"make run exited with {make.returncode}:\n{running.console()}"
            )
            assert time.monotonic() < deadline, f"not started in time:\n{running.console()}"
            time.sleep(0.25)
        found = re.search(r"MCX is running at (http://\S+)", running.console())
        assert found, running.console()
        running.base = found.group(1)
        seen.update({p.pid: p for p in running.descendants()})
        yield running
    finally:
        seen.update({p.pid: p for p in running.descendants()})
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    # Everything MCX started (web app, worker, PostgreSQL, Redis) stops with it.
    _, alive = psutil.wait_procs(list(seen.values()), timeout=STOP_SECONDS)
    assert not alive, f"still running after Ctrl-C: {[p.pid for p in alive]}\n{running.console()}"
    for pidfile in (copy / ".mcx/postgres/postmaster.pid", copy / ".mcx/redis/redis.pid"):
        assert not pidfile.exists(), f"{pidfile} left behind: its server did not stop"
    assert "Traceback" not in running.console(), running.console()


@contextlib.asynccontextmanager
async def phones(browser: Browser, base: str) -> AsyncIterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    try:
        for _ in range(3):
            context = await browser.new_context(base_url=base, **PHONE)
            context.set_default_timeout(WAIT_MS)
            made.append(context)
        yield made
    finally:
        for context in made:
            with contextlib.suppress(Exception):
                await context.close()


async def _live(page: Page) -> None:
    """The page's websocket is up: the "live updates are paused" banner stays hidden."""
    await page.wait_for_timeout(500)
    await expect(page.locator("[data-live-status]")).to_be_hidden()


async def journey(browser: Browser, base: str, earner: tuple[str, str], tag: str) -> None:
    """An earner's packet → two reviewers' open feeds live → two passing reviews → a badge."""
    async with phones(browser, base) as (mine_context, *reviewer_contexts):
        feeds = []
        for context, (email, password) in zip(reviewer_contexts, REVIEWERS, strict=True):
            feed = await context.new_page()
            await login(feed, email, password)
            await feed.goto("/review")
            await expect(feed.get_by_test_id("feed-list")).to_be_attached()
            await _live(feed)
            await feed.evaluate("() => { window.__mcxSamePage = true; }")
            feeds.append(feed)

        mine = await mine_context.new_page()
        await login(mine, *earner)
        await mine.goto(CREDENTIAL)
        async with mine.expect_navigation():
            await press(mine.get_by_test_id("start-submit"))
        await expect(status_is(mine, "draft")).to_be_visible()
        await _live(mine)
        await upload_all_evidence(
            mine,
            [
                Evidence(
                    "document",
                    FilePayload(name="self-assessment.pdf", mimeType="application/pdf",
                                buffer=media.pdf()),
                ),
                Evidence(
                    "image",
                    FilePayload(name="ratings.png", mimeType="image/png",
                                buffer=media.png((640, 360))),
                ),
            ],
        )  # fmt: skip
        card = criterion_card(mine, "reflection")
        await card.get_by_test_id("reflection-input").fill(_reflection(450))
        async with mine.expect_navigation():
            await press(card.get_by_test_id("reflection-save"))
        await submit_packet(mine)
        await screenshot(mine, f"first-run-{tag}", "01-packet-submitted")

        # Both feeds, open all along, get the work live (checked by the restarted worker).
        for feed in feeds:
            await expect(feed.get_by_test_id("task-card").first).to_be_visible(timeout=LIVE_MS)
            assert await feed.evaluate("() => window.__mcxSamePage === true"), "feed reloaded"
        await screenshot(feeds[0], f"first-run-{tag}", "02-feed-live")

        for feed in feeds:
            await expect(feed.get_by_test_id("task-card").first).to_be_visible(timeout=LIVE_MS)
            async with feed.expect_navigation(timeout=LIVE_MS):
                await press(feed.get_by_test_id("task-card").first.get_by_test_id("claim-button"))
            assert "/review/tasks/" in feed.url, feed.url
            await score_everything(feed, MEETS, "Meets the bar", "Clear plan; keep measuring.")
            await submit_review(feed)

        await expect(status_is(mine, "passed")).to_be_visible(timeout=LIVE_MS)
        badge = mine.get_by_test_id("badge-link")
        await expect(badge).to_be_visible(timeout=LIVE_MS)
        await screenshot(mine, f"first-run-{tag}", "03-passed")

        # The wallet's links name the address actually served, never another port.
        await mine.goto("/wallet")
        await expect(mine.get_by_test_id("wallet-badge")).to_have_count(1)
        await _live(mine)
        link = await mine.get_by_test_id("copy-link-input").first.input_value()
        assert link.startswith(base + "/badges/"), (link, base)
        linkedin = await mine.get_by_test_id("linkedin-link").first.get_attribute("href")
        assert linkedin and f"certUrl={base}/badges/" in unquote(linkedin), linkedin
        await screenshot(mine, f"first-run-{tag}", "04-wallet")


def _before_banner(console: str) -> str:
    return console.split("MCX is running at", 1)[0]


async def test_make_run_then_make_run_port_8101_give_a_working_mcx(
    fresh_copy: Path, browser: Browser
) -> None:
    with make_run(fresh_copy, port=8000) as first:
        assert first.base == "http://127.0.0.1:8000", first.console()
        console = _before_banner(first.console())
        # The log-ins and the address come last, not buried under the servers' own logs.
        assert "pgserver" not in console and "initdb" not in console, console
        assert len(console.splitlines()) < 40, console
        assert "earner1@mcx.example" in console and f"{first.base}/login" in console
        # A worker that dies is started again; only that worker can check the packet below.
        worker = first.worker_pid()
        assert worker is not None, "make run started no worker"
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (first.worker_pid() in (None, worker)) or "Worker started again" not in (
            first.console()
        ):
            assert time.monotonic() < deadline, first.console()
            await asyncio.sleep(0.2)
        await journey(browser, first.base, ("earner2@mcx.example", "earner-demo-2"), "8000")

    with make_run(fresh_copy, "PORT=8101", port=8101) as second:
        assert second.base == "http://127.0.0.1:8101", second.console()
        assert ":8000" not in second.console(), second.console()
        await journey(browser, second.base, ("earner3@mcx.example", "earner-demo-3"), "8101")
