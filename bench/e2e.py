"""End to end through real processes: `mcx serve` and `mcx worker`, one earner, two peers.

The earner submits a packet with generated video, image, PDF and reflection; the worker checks
it into the queue; two peer reviewers claim and score it over HTTP; the earner's websocket
hears every step. Prints the latency of each step as the earner saw it.

    python -m bench.e2e            # against DATABASE_URL / REDIS_URL, or the embedded servers
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import select

from app.actions import accounts
from app.db import alembic_config
from app.models import User
from app.runtime import Urls, open_runtime, resolve_urls
from app.settings import load_settings
from tests.media import mp4, pdf, png, wav

ROOT = Path(__file__).resolve().parent.parent
CREDENTIAL = "collaborative-leadership-coaching"
EARNER, PEERS = "earner2@mcx.example", ("reviewer2@mcx.example", "reviewer3@mcx.example")
WAIT = 30.0
SAMPLES = {
    "video": ("lesson.mp4", mp4),
    "image": ("board.png", lambda: png((64, 48))),
    "document": ("plan.pdf", pdf),
    "audio": ("debrief.wav", wav),
}


@dataclass
class Run:
    base: str
    env: dict[str, str]
    urls: Urls
    heard: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def heard_kind(self, kind: str, after: float) -> float:
        """Seconds from `after` until a notification of `kind` reached the earner's socket."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for at, message in self.heard:
                if message["notification"]["kind"] == kind and at >= after:
                    return at - after
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), deadline - time.monotonic())
        raise TimeoutError(f"the earner never heard {kind}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def mcx_processes(data_dir: Path) -> AsyncIterator[Run]:
    """A fresh database and Redis prefix, the demo, a web process and a worker; all undone."""
    settings = load_settings()
    urls = await asyncio.to_thread(resolve_urls, settings)
    name = f"mcx_e2e_{uuid.uuid4().hex[:8]}"
    await _admin(urls.database, f'CREATE DATABASE "{name}"')
    database = make_url(urls.database).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(command.upgrade, alembic_config(database), "head")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    prefix = f"mcx:e2e:{uuid.uuid4().hex[:8]}:"
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "REDIS_URL": urls.redis,
        "MCX_REDIS_PREFIX": prefix,
        "MCX_DATA_DIR": str(data_dir),
        "MCX_BASE_URL": base,
    }
    python = [sys.executable, "-m", "app.cli"]
    subprocess.run([*python, "demo"], env=env, cwd=ROOT, check=True, capture_output=True)
    logs = [open(data_dir / f"{n}.log", "w") for n in ("serve", "worker")]
    procs = [
        subprocess.Popen(
            [*python, "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            cwd=ROOT,
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [*python, "worker"], env=env, cwd=ROOT, stdout=logs[1], stderr=subprocess.STDOUT
        ),
    ]
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("mcx serve did not become ready")
        yield Run(base=base, env=env, urls=Urls(database=database, redis=urls.redis))
    except BaseException:
        for log in logs:
            log.flush()
            tail = Path(log.name).read_text()[-3000:]
            print(f"--- {Path(log.name).name} ---\n{tail}", file=sys.stderr)
        raise
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                proc.kill()
        for log in logs:
            log.close()
        await _admin(urls.database, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        from redis.asyncio import Redis

        redis = Redis.from_url(urls.redis)
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await asyncio.to_thread(urls.stop_embedded)


async def _tokens(run: Run) -> dict[str, str]:
    settings = load_settings(
        database_url=run.urls.database,
        redis_url=run.urls.redis,
        redis_prefix=run.env["MCX_REDIS_PREFIX"],
    )
    runtime = await open_runtime(settings, run.urls)
    try:
        tokens = {}
        async with runtime.sessions() as session:
            for email in (EARNER, *PEERS):
                user = (await session.exec(select(User).where(User.email == email))).one()
                _, tokens[email] = await accounts.create_api_token(session, user, "e2e")
        return tokens
    finally:
        await runtime.close()


async def _listen(run: Run, token: str, ready: asyncio.Event) -> None:
    ws_url = run.base.replace("http://", "ws://") + "/ws"
    async with websockets.connect(
        ws_url, additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "hello":
                ready.set()
            if message["type"] == "notification":
                run.heard.append((time.monotonic(), message))
                run.arrived.set()


async def scenario(run: Run) -> dict[str, float]:
    """The whole journey; returns seconds per step as the earner experienced it."""
    tokens = await _tokens(run)
    ready = asyncio.Event()
    listener = asyncio.create_task(_listen(run, tokens[EARNER], ready))
    await asyncio.wait_for(ready.wait(), WAIT)
    figures: dict[str, float] = {}

    def auth(email: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[email]}"}

    try:
        async with httpx.AsyncClient(base_url=run.base, timeout=WAIT) as http:
            credentials = (await http.get("/api/v1/credentials")).json()["credentials"]
            credential = next(c for c in credentials if c["slug"] == CREDENTIAL)
            detail = (await http.get(f"/api/v1/credentials/{credential['id']}")).json()
            started = await http.post(
                "/api/v1/submissions",
                json={"credential_id": credential["id"]},
                headers=auth(EARNER),
            )
            started.raise_for_status()
            submission = started.json()["id"]
            for criterion in detail["submission_criteria"]:
                url = f"/api/v1/submissions/{submission}/artifacts/{criterion['criterion_id']}"
                kind = criterion["kind"]
                if kind in SAMPLES:
                    filename, make = SAMPLES[kind]
                    sent = await http.post(
                        url, content=make(), headers={**auth(EARNER), "X-Filename": filename}
                    )
                elif kind == "link":
                    sent = await http.post(
                        url, json={"url": "https://example.org/lesson"}, headers=auth(EARNER)
                    )
                else:
                    sent = await http.post(
                        url,
                        json={"text": "What I tried, what changed, what I learned."},
                        headers=auth(EARNER),
                    )
                sent.raise_for_status()
            t0 = time.monotonic()
            (
                await http.post(f"/api/v1/submissions/{submission}/submit", headers=auth(EARNER))
            ).raise_for_status()
            figures["submit → checked into the queue (worker)"] = await run.heard_kind(
                "submission.queued", t0
            )
            for i, peer in enumerate(PEERS):
                t_claim = time.monotonic()
                claim = await http.post("/api/v1/tasks/claim-next", headers=auth(peer))
                claim.raise_for_status()
                task_id = claim.json()["task_id"]
                if i == 0:
                    figures["claim → earner told 'claimed'"] = await run.heard_kind(
                        "submission.claimed", t_claim
                    )
                task = (await http.get(f"/api/v1/tasks/{task_id}", headers=auth(peer))).json()
                scores = [
                    {
                        "criterion_id": c["criterion_id"],
                        "level_id": c["levels"][2]["level_id"],
                        "comment": "Clear evidence.",
                    }
                    for c in task["rubric"]["criteria"]
                ]
                t_review = time.monotonic()
                done = await http.post(
                    f"/api/v1/tasks/{task_id}/review",
                    json={
                        "lease_version": task["lease_version"],
                        "scores": scores,
                        "feedback": "Well done.",
                    },
                    headers=auth(peer),
                )
                done.raise_for_status()
            figures["first review → earner told 'review received'"] = await run.heard_kind(
                "review.received", t_claim
            )
            figures["last review → outcome on the earner's socket"] = await run.heard_kind(
                "submission.decided", t_review
            )
            figures["last review → badge on the earner's socket"] = await run.heard_kind(
                "badge.awarded", t_review
            )
            final = (
                await http.get(f"/api/v1/submissions/{submission}", headers=auth(EARNER))
            ).json()
            if final["state"] != "passed":
                raise AssertionError(f"expected a pass, got {final['state']}")
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
    return figures


async def run_e2e() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="mcx-e2e-") as tmp:
        async with mcx_processes(Path(tmp)) as run:
            return await scenario(run)


def main() -> int:
    figures = asyncio.run(run_e2e())
    width = max(map(len, figures))
    print("End-to-end through mcx serve + mcx worker (one earner, two peers):")
    for step, seconds in figures.items():
        print(f"  {step:<{width}}  {seconds * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
