"""Hostile uploads over time: a body that stalls or drips is ended with 408 and leaves nothing;
one person's parallel uploads are capped (429) on every upload channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select
from starlette.applications import Starlette

from app.bodies import MAX_PARALLEL_UPLOADS
from app.main import create_app
from app.models import Artifact, Credential
from app.runtime import Runtime, Urls
from app.settings import Settings
from tests import factories as f
from tests import media
from tests.factories import auth

IDLE = 0.3  # seconds without a byte before a body counts as stalled (30 by default)


@pytest.fixture
async def paced(settings: Settings, services: Urls, runtime: Runtime) -> AsyncIterator[Starlette]:
    tuned = settings.model_copy(
        update={"body_idle_seconds": IDLE, "body_min_bytes_per_second": 512}
    )
    application = create_app(tuned, Urls(database=services.database, redis=services.redis))
    async with application.router.lifespan_context(application):
        yield application


async def _packet(
    client: httpx.AsyncClient, runtime: Runtime, earner: str = "earner"
) -> tuple[str, str, str]:
    """(earner token, submission id, the document criterion's id)."""
    async with runtime.sessions() as session:
        credential = (await session.exec(select(Credential))).first()
    credential = credential or await f.credential(runtime)
    token = await f.token_for(runtime, await f.person(runtime, earner))
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(token)
    )
    assert started.status_code == 201, started.text
    detail = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
    document = next(c for c in detail["submission_criteria"] if c["kind"] == "document")
    return token, started.json()["id"], document["criterion_id"]


def _stored_files(root: Path) -> list[Path]:
    return [p for p in (root / "uploads").rglob("*") if p.is_file()] if root.exists() else []


async def _artifacts(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(Artifact))).one())


async def test_a_stalled_or_dripping_upload_gets_408_and_leaves_nothing(
    paced: Starlette, runtime: Runtime, settings: Settings
) -> None:
    transport = httpx.ASGITransport(app=paced)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token, submission_id, criterion = await _packet(client, runtime)
        url = f"/api/v1/submissions/{submission_id}/artifacts/{criterion}"
        pdf = media.pdf()

        async def stalls() -> AsyncIterator[bytes]:
            yield pdf[:100]
            await asyncio.sleep(3600)  # the phone went quiet
            yield pdf[100:]

        async def drips() -> AsyncIterator[bytes]:
            for byte in pdf:
                yield bytes([byte])
                await asyncio.sleep(IDLE / 3)  # never idle long, but 10 bytes a second

        for body in (stalls(), drips()):
            answer = await client.post(
                url,
                content=body,
                headers={
                    **auth(token),
                    "Content-Type": "application/pdf",
                    "Content-Length": str(len(pdf)),
                    "X-Filename": "plan.pdf",
                },
            )
            assert answer.status_code == 408, answer.text
            assert answer.json()["error"] == "too_slow"
        assert await _artifacts(runtime) == 0
        assert _stored_files(settings.data_dir) == []

        # A body that arrives at a living pace is taken as always.
        fine = await client.post(
            url, content=pdf, headers={**auth(token), "Content-Type": "application/pdf"}
        )
        assert fine.status_code == 201, fine.text


async def test_a_dripping_form_post_is_cut_off_before_the_csrf_check_reads_it(
    paced: Starlette,
) -> None:
    async def drips() -> AsyncIterator[bytes]:
        for byte in b"email=a%40b.example&password=" + b"x" * 200:
            yield bytes([byte])
            await asyncio.sleep(IDLE / 3)

    transport = httpx.ASGITransport(app=paced)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.post(
            "/login",
            content=drips(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 408 and answer.json()["error"] == "too_slow"
    assert answer.headers["x-content-type-options"] == "nosniff"  # still inside the headers


async def test_one_person_sends_at_most_a_few_uploads_at_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token, submission_id, criterion = await _packet(client, runtime)
    url = f"/api/v1/submissions/{submission_id}/artifacts/{criterion}"
    pdf = media.pdf()
    release = asyncio.Event()
    started = asyncio.Semaphore(0)

    async def held() -> AsyncIterator[bytes]:
        yield pdf[:100]
        started.release()
        await release.wait()
        yield pdf[100:]

    def send(body: object) -> asyncio.Task[httpx.Response]:
        return asyncio.create_task(
            client.post(
                url,
                content=body,  # type: ignore[arg-type]
                headers={**auth(token), "Content-Type": "application/pdf", "X-Filename": "a.pdf"},
            )
        )

    holding = [send(held()) for _ in range(MAX_PARALLEL_UPLOADS)]
    for _ in holding:
        await started.acquire()  # each is inside its upload, mid-body
    refused = await client.post(
        url, content=pdf, headers={**auth(token), "Content-Type": "application/pdf"}
    )
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_uploads"
    # Someone else is not held up by this person's uploads.
    other_token, other_submission, other_criterion = await _packet(client, runtime, "other")
    theirs = await client.post(
        f"/api/v1/submissions/{other_submission}/artifacts/{other_criterion}",
        content=pdf,
        headers={**auth(other_token), "Content-Type": "application/pdf"},
    )
    assert theirs.status_code == 201, theirs.text
    release.set()
    answers = await asyncio.gather(*holding)
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    # Slots are given back: the next upload goes through.
    again = await client.post(
        url, content=pdf, headers={**auth(token), "Content-Type": "application/pdf"}
    )
    assert again.status_code == 201, again.text
