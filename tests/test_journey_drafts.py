"""Drafts that never lose work, and the self-check before submit (issue 10), through HTTP as
the pages and earner.js drive them, against real PostgreSQL and Redis."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from app import evidence
from app.actions.submissions import check_evidence
from app.actions.submissions.selfcheck import link_problem, self_assessment_of
from app.models import Artifact, ReviewTask, Role, SubmissionVersion
from app.runtime import Runtime
from app.settings import Settings
from tests import factories as f
from tests import media
from tests.factories import latest_version_id
from tests.journey import browser, criteria, put_draft, sign_in, start

CRITERIA = [
    {"title": "Reflection", "kind": "reflection", "required": True, "min_words": 12},
    {"title": "Lesson plan", "kind": "document", "required": True},
    {"title": "Class website", "kind": "link", "required": False},
    {"title": "Classroom photo", "kind": "image", "required": False},
]
LONG = "I planned the unit with my team, tried it twice, and changed the exit ticket after."


async def test_a_draft_saved_on_one_device_is_there_on_another(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, token, credential)
    ids = await criteria(runtime, credential)

    saved = await put_draft(client, token, submission_id, ids["Reflection"], text="First words")
    assert saved.status_code == 200, saved.text
    assert saved.json()["kept"] is True and saved.json()["words"] == 2
    again = await put_draft(client, token, submission_id, ids["Reflection"], text=LONG)
    assert again.json()["words"] == 16
    link = await put_draft(
        client, token, submission_id, ids["Class website"], url="https://school.example/unit"
    )
    assert link.status_code == 200

    # The phone: another browser, the same person, finds every word and the link.
    async with browser(app) as phone:
        await sign_in(phone, "ada@mcx.example")
        page = await phone.get(f"/submissions/{submission_id}")
    assert page.status_code == 200
    assert LONG in page.text
    assert 'value="https://school.example/unit"' in page.text
    async with runtime.sessions() as session:
        artifacts = (await session.exec(select(Artifact))).all()
    # Saved in place: one artifact per criterion, however many saves.
    assert sorted(a.kind for a in artifacts) == ["link", "reflection"]


async def test_refused_drafts_change_nothing_and_emptying_clears(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, token, credential)
    ids = await criteria(runtime, credential)
    await put_draft(client, token, submission_id, ids["Class website"], url="https://a.example/")
    bad = await put_draft(client, token, submission_id, ids["Class website"], url="javascript:x")
    assert bad.status_code == 400 and bad.json()["error"] == "bad_link"
    nul = await put_draft(client, token, submission_id, ids["Reflection"], text="a\x00b")
    assert nul.status_code == 400
    wrong = await put_draft(client, token, submission_id, ids["Lesson plan"], text="words")
    assert wrong.status_code == 422 and wrong.json()["error"] == "file_required"
    extra = await client.put(
        f"/submissions/{submission_id}/drafts/{ids['Reflection']}",
        json={"text": "x", "sql": "drop"},
        headers={"X-CSRF-Token": token},
    )
    assert extra.status_code == 422
    no_csrf = await client.put(
        f"/submissions/{submission_id}/drafts/{ids['Reflection']}", json={"text": "x"}
    )
    assert no_csrf.status_code == 403
    async with runtime.sessions() as session:
        urls = (await session.exec(select(Artifact.url))).all()
    assert urls == ["https://a.example/"]
    cleared = await put_draft(client, token, submission_id, ids["Class website"], url="")
    assert cleared.json()["kept"] is False
    async with runtime.sessions() as session:
        assert (await session.exec(select(Artifact))).all() == []

    # Someone else's packet: not found, and nothing saved.
    await f.person(runtime, "eve")
    async with browser(app) as eve:
        eve_token = await sign_in(eve, "eve@mcx.example")
        stolen = await put_draft(eve, eve_token, submission_id, ids["Reflection"], text="mine")
    assert stolen.status_code == 404
    async with runtime.sessions() as session:
        assert (await session.exec(select(Artifact))).all() == []


async def test_the_self_check_names_what_blocks_a_packet_and_submit_agrees(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, token, credential)
    ids = await criteria(runtime, credential)
    await put_draft(client, token, submission_id, ids["Reflection"], text="Too short to count.")

    page = await client.get(f"/submissions/{submission_id}/check")
    assert page.status_code == 200
    said = html.unescape(page.text)
    assert "'Lesson plan': required, and not added yet" in said
    assert "'Reflection': 4 words; write at least 12 words" in said
    assert 'data-testid="selfcheck-submit"' not in page.text
    refused = await client.post(f"/submissions/{submission_id}/submit", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "Lesson plan" in refused.text

    await put_draft(client, token, submission_id, ids["Reflection"], text=LONG)
    pdf = media.pdf()
    uploaded = await client.post(
        f"/submissions/{submission_id}/artifacts/{ids['Lesson plan']}",
        data={"csrf_token": token},
        files={"file": ("plan.pdf", pdf, "application/pdf")},
    )
    assert uploaded.status_code == 303, uploaded.text
    ready = await client.get(f"/submissions/{submission_id}/check")
    assert 'data-testid="selfcheck-submit"' in ready.text
    assert "Fix these before submitting" not in ready.text


async def test_the_self_check_finds_media_that_will_not_open(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, token, credential)
    ids = await criteria(runtime, credential)
    pdf = media.pdf()
    await client.post(
        f"/submissions/{submission_id}/artifacts/{ids['Lesson plan']}",
        data={"csrf_token": token},
        files={"file": ("plan.pdf", pdf, "application/pdf")},
    )
    # The stored file is damaged after upload (a disk fault, say).
    stored = evidence.path_for(settings.uploads_dir, hashlib.sha256(pdf).hexdigest())
    stored.write_bytes(pdf[:-10])
    page = await client.get(f"/submissions/{submission_id}/check")
    assert "plan.pdf will not open" in page.text


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self.send_response(200 if self.path == "/ok" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> AsyncIterator[str]:
    """A web server on 127.0.0.1 whose /ok answers 200 and everything else 404."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_links_that_do_not_open_are_pointed_out(site: str, settings: Settings) -> None:
    local = settings.model_copy(update={"link_check_private": True, "link_check_seconds": 2.0})
    assert await link_problem(f"{site}/ok", local) is None
    assert (
        await link_problem(f"{site}/gone", local)
        == "the link does not open (the server answered 404)"
    )
    # A closed port: nothing answers.
    closed = site.rsplit(":", 1)[0] + ":9"
    assert "no server answered" in (await link_problem(f"{closed}/", local) or "")
    # Without the opt-in, MCX never fetches addresses inside its own network (SSRF).
    assert "cannot reach this address" in (await link_problem(f"{site}/ok", settings) or "")


async def test_link_warnings_show_on_the_self_check_page(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, site: str
) -> None:
    settings.link_check_private = True  # the app's settings: the site is on 127.0.0.1
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, token, credential)
    ids = await criteria(runtime, credential)
    await put_draft(client, token, submission_id, ids["Class website"], url=f"{site}/missing")
    page = await client.get(f"/submissions/{submission_id}/check")
    assert "the link does not open (the server answered 404)" in page.text
    await put_draft(client, token, submission_id, ids["Class website"], url=f"{site}/ok")
    page = await client.get(f"/submissions/{submission_id}/check")
    assert "the link does not open" not in page.text


async def test_a_self_assessment_reaches_reviewers_only_when_shared(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, token, credential)
    page = await client.get(f"/submissions/{submission_id}/check")
    radios = re.findall(r'name="(level-[0-9a-f-]+)" value="([0-9a-f-]+)"', page.text)
    first_levels: dict[str, str] = {}
    for name, value in radios:
        first_levels.setdefault(name, value)
    assert len(first_levels) == 2
    private = await client.post(
        f"/submissions/{submission_id}/self-assessment", data={"csrf_token": token, **first_levels}
    )
    assert private.status_code == 303
    async with runtime.sessions() as session:
        sid = (await session.exec(select(SubmissionVersion.id))).one()
        assert await self_assessment_of(session, sid, shared_only=True) == []
        assert await self_assessment_of(session, sid, shared_only=False) == [
            ("Plans", "Not yet"),
            ("Acts", "Not yet"),
        ]
    shared = await client.post(
        f"/submissions/{submission_id}/self-assessment",
        data={"csrf_token": token, "share": "yes", **first_levels},
    )
    assert shared.status_code == 303
    async with runtime.sessions() as session:
        assert len(await self_assessment_of(session, sid, shared_only=True)) == 2
    # A level from another criterion is refused and changes nothing.
    (a, b) = list(first_levels)
    crossed = await client.post(
        f"/submissions/{submission_id}/self-assessment",
        data={"csrf_token": token, a: first_levels[b]},
    )
    assert crossed.status_code == 422
    async with runtime.sessions() as session:
        assert len(await self_assessment_of(session, sid, shared_only=True)) == 2


async def test_reviewers_see_a_self_assessment_only_when_the_earner_shared_it(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    for share, label in (("yes", "shared"), ("", "private")):
        credential = await f.credential(runtime, label)
        submission_id = await start(client, token, credential)
        ids = await criteria(runtime, credential)
        await put_draft(client, token, submission_id, ids["Reflection"], text=LONG)
        page = await client.get(f"/submissions/{submission_id}/check")
        radios = dict(re.findall(r'name="(level-[0-9a-f-]+)" value="([0-9a-f-]+)"', page.text))
        assert len(radios) == 2  # the last level of each criterion wins: Exceeds
        rated = await client.post(
            f"/submissions/{submission_id}/self-assessment",
            data={"csrf_token": token, "share": share, **radios},
        )
        assert rated.status_code == 303
        sent = await client.post(f"/submissions/{submission_id}/submit", data={"csrf_token": token})
        assert sent.status_code == 303
        await check_evidence(runtime, await latest_version_id(runtime, submission_id))
        reviewer = await f.person(runtime, f"rev-{label}", [Role.reviewer])
        async with runtime.sessions() as session:
            task_id = (
                await session.exec(
                    select(ReviewTask.id).where(
                        ReviewTask.submission_id == uuid.UUID(submission_id)
                    )
                )
            ).first()
        claim = await client.post(
            f"/api/v1/tasks/{task_id}/claim",
            headers=f.auth(await f.token_for(runtime, reviewer)),
        )
        assert claim.status_code == 201, claim.text
        async with browser(app) as phone:
            await sign_in(phone, f"rev-{label}@mcx.example")
            task = await phone.get(f"/review/tasks/{claim.json()['task_id']}")
        assert task.status_code == 200
        assert ('data-testid="self-rating"' in task.text) is bool(share), label
        assert ("Plans: Exceeds" in task.text) is bool(share), label


async def test_the_self_check_is_the_earners_alone(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    await f.person(runtime, "ada")
    await f.person(runtime, "coord", [Role.coordinator])
    token = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, token, credential)
    async with browser(app) as other:
        coord = await sign_in(other, "coord@mcx.example")
        # The coordinator may read the packet, but the self-check is the earner's own.
        assert (await other.get(f"/submissions/{submission_id}")).status_code == 200
        assert (await other.get(f"/submissions/{submission_id}/check")).status_code == 404
        rated = await other.post(
            f"/submissions/{submission_id}/self-assessment", data={"csrf_token": coord}
        )
        assert rated.status_code == 404
    assert (await client.get(f"/submissions/{submission_id}/check")).status_code == 200
