"""A replaced upload's file leaves the evidence store at once, unless another row still holds
the same bytes (issue 16, item 8); a file is never deleted under a row that refers to it."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app import evidence
from app.actions import stored_files
from app.errors import ActionError
from app.runtime import Runtime
from tests import factories as f
from tests import media
from tests.factories import auth

SMALL, LARGE = media.png((16, 16)), media.png((24, 24))


def stored_path(runtime: Runtime, data: bytes) -> Path:
    return evidence.path_for(runtime.settings.uploads_dir, hashlib.sha256(data).hexdigest())


async def _packet(client: httpx.AsyncClient, runtime: Runtime, label: str) -> tuple[str, str]:
    """An earner's token and the URL of their new packet's image criterion."""
    credential = await f.credential(runtime, f"c-{label}")
    token = await f.token_for(runtime, await f.person(runtime, label))
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(token)
    )
    assert started.status_code == 201, started.text
    detail = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
    image = next(c for c in detail["submission_criteria"] if c["kind"] == "image")
    return token, f"/api/v1/submissions/{started.json()['id']}/artifacts/{image['criterion_id']}"


async def _send(client: httpx.AsyncClient, token: str, url: str, data: bytes) -> None:
    sent = await client.post(url, content=data, headers={**auth(token), "X-Filename": "p.png"})
    assert sent.status_code == 201, sent.text


async def test_a_replaced_upload_is_removed_from_disk_at_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    token, url = await _packet(client, runtime, "ada")
    await _send(client, token, url, SMALL)
    assert stored_path(runtime, SMALL).is_file()
    await _send(client, token, url, LARGE)
    assert not stored_path(runtime, SMALL).exists()
    assert stored_path(runtime, LARGE).is_file()
    # The same bytes again replace nothing on disk.
    await _send(client, token, url, LARGE)
    assert stored_path(runtime, LARGE).is_file()


async def test_a_replaced_file_another_artifact_holds_stays(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    ada, ada_url = await _packet(client, runtime, "ada")
    bea, bea_url = await _packet(client, runtime, "bea")
    await _send(client, ada, ada_url, SMALL)
    await _send(client, bea, bea_url, SMALL)  # the same bytes, stored once
    await _send(client, ada, ada_url, LARGE)
    assert stored_path(runtime, SMALL).is_file()  # Bea's packet still holds it
    await _send(client, bea, bea_url, LARGE)
    assert not stored_path(runtime, SMALL).exists()  # now nobody does


async def _store(runtime: Runtime, data: bytes) -> evidence.StoredFile:
    async def chunks():  # type: ignore[no-untyped-def]
        yield data

    return await evidence.store_stream(
        chunks(), uploads_dir=runtime.settings.uploads_dir, max_bytes=10**6, filename="p.png"
    )


async def test_a_file_being_referred_to_is_not_removed_under_the_new_row(
    runtime: Runtime,
) -> None:
    credential = await f.credential(runtime)
    stored = await _store(runtime, SMALL)
    async with runtime.sessions() as adding, runtime.sessions() as removing:
        # A badge image being set: the file is held, the row not yet committed.
        await stored_files.hold_file(adding, stored)
        await adding.exec(
            text("UPDATE credentials SET badge_image = :u WHERE id = :id"),  # type: ignore[call-overload]
            params={"u": f"/credential-images/{stored.sha256}.png", "id": credential.id},
        )
        removal = asyncio.create_task(
            stored_files.forget_file(removing, runtime.settings.uploads_dir, stored.sha256)
        )
        await asyncio.sleep(0.5)
        assert not removal.done()  # waits for the adder's transaction
        await adding.commit()
        assert await asyncio.wait_for(removal, 10) is False
    assert stored.path.is_file()


async def test_a_file_removed_before_its_row_commits_is_refused_not_pointed_at(
    runtime: Runtime,
) -> None:
    stored = await _store(runtime, SMALL)
    async with runtime.sessions() as session:
        assert await stored_files.forget_file(session, runtime.settings.uploads_dir, stored.sha256)
        with pytest.raises(ActionError) as refused:
            await stored_files.hold_file(session, stored)
    assert refused.value.code == "file_gone" and refused.value.status == 409
