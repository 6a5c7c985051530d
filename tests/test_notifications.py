"""Notifications through HTTP: the page in words with links, mark read per person, the count."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from app import events
from app.main import create_app
from app.models import Notification, User
from app.runtime import Runtime, Urls
from app.settings import Settings
from app.views import notifications
from tests import factories as f
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"


@pytest.fixture
async def app(settings: Settings, services: Urls, runtime: Runtime) -> AsyncIterator[Starlette]:
    """The app, with the notification routes added before it starts if main.py lacks them."""
    application = create_app(settings, Urls(database=services.database, redis=services.redis))
    paths = {getattr(route, "path", None) for route in application.router.routes}
    if "/notifications" not in paths:
        # Before /static's Mount and the lifespan: as if create_app listed them.
        application.router.routes[-1:-1] = notifications.routes
    async with application.router.lifespan_context(application):
        yield application


async def _notify(runtime: Runtime, user: User, kind: str, **payload: Any) -> Notification:
    return await events.notify(
        runtime.engine, runtime.redis, runtime.settings, user.id, kind, payload
    )


async def _unread(client: httpx.AsyncClient) -> dict[str, int]:
    response = await client.get("/notifications/unread.json")
    assert response.status_code == 200
    return response.json()


async def test_the_page_lists_mine_newest_first_in_words_with_links(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    me = await f.person(runtime, "teacher")
    someone = await f.person(runtime, "someone")
    submission, award = str(uuid.uuid4()), str(uuid.uuid4())
    await _notify(
        runtime, me, "submission.checking", submission_id=submission, credential="Coaching"
    )
    await _notify(runtime, me, "submission.queued", submission_id=submission, credential="Coaching")
    await _notify(
        runtime, me, "submission.claimed", submission_id=submission, credential="Coaching"
    )
    await _notify(runtime, me, "submission.returned", submission_id=submission, reason="Bad file.")
    await _notify(runtime, me, "review.received", submission_id=submission, credential="Coaching")
    await _notify(
        runtime, me, "submission.decided", submission_id=submission, credential="Coaching",
        decision="pass", rule="peers agree",
    )  # fmt: skip
    await _notify(runtime, me, "badge.awarded", award_id=award, title="Coaching")
    await _notify(runtime, me, "claim.expired", task_id=str(uuid.uuid4()))
    await _notify(runtime, me, "appeal.opened", appeal_id=str(uuid.uuid4()), credential="Coaching")
    await _notify(
        runtime, me, "appeal.ruled", submission_id=submission, state="overturned", ruling="Fair."
    )
    await _notify(runtime, someone, "badge.awarded", award_id=award, title="Not mine")
    await log_in(client, "teacher@mcx.example", PASSWORD)
    page = await client.get("/notifications")
    assert page.status_code == 200
    html = page.text
    texts = re.findall(r'data-testid="notification" data-notification-id="(\d+)"', html)
    assert len(texts) == 10 and texts == sorted(texts, key=int, reverse=True)
    for sentence in (
        "Your packet for Coaching was handed in",
        "Your packet for Coaching is waiting for a reviewer.",
        "A reviewer picked up your packet for Coaching.",
        "Your packet came back to you before review. Bad file.",
        "New feedback arrived on your packet for Coaching.",
        "Your packet for Coaching passed.",
        "You earned the Coaching badge.",
        "Your claim ran out of time",
        "An earner appealed a decision on Coaching.",
        "the decision was overturned. Fair.",
    ):
        assert sentence in html, sentence
    assert f'href="/submissions/{submission}"' in html
    assert f'href="/badges/{award}"' in html and 'href="/review"' in html
    assert "Not mine" not in html
    assert 'data-testid="mark-all-read"' in html and 'name="csrf_token"' in html


async def test_payload_text_is_escaped_and_bad_ids_make_no_link(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    me = await f.person(runtime, "teacher")
    await _notify(
        runtime, me, "submission.queued", submission_id="javascript:alert(1)", credential="<b>x</b>"
    )
    await log_in(client, "teacher@mcx.example", PASSWORD)
    html = (await client.get("/notifications")).text
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "javascript:" not in html


async def test_mark_read_is_per_person_and_covers_what_the_page_showed(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    me = await f.person(runtime, "teacher")
    other = await f.person(runtime, "other")
    for i in range(3):
        await _notify(runtime, me, "claim.expired", task_id=str(i))
    await _notify(runtime, other, "claim.expired", task_id="x")
    await log_in(client, "teacher@mcx.example", PASSWORD)
    assert (await _unread(client))["unread"] == 3
    token = await csrf_from(client, "/notifications")
    newest = (await _unread(client))["last_id"]
    # One arrives after the page rendered: "mark all read" must not swallow it.
    late = await _notify(runtime, me, "claim.expired", task_id="late")
    marked = await client.post(
        "/notifications/read", data={"csrf_token": token, "up_to": str(newest)}
    )
    assert marked.status_code == 303 and marked.headers["location"] == "/notifications"
    assert await _unread(client) == {"unread": 1, "last_id": late.id}
    async with runtime.sessions() as session:
        theirs = (
            await session.exec(select(Notification).where(Notification.user_id == other.id))
        ).one()
        mine_unread = (
            await session.exec(
                select(Notification.id)
                .where(Notification.user_id == me.id)
                .where(col(Notification.read_at).is_(None))
            )
        ).all()
    assert theirs.read_at is None
    assert mine_unread == [late.id]
    page = (await client.get("/notifications")).text
    assert page.count("data-unread-item") == 1
    await client.post("/notifications/read", data={"csrf_token": token})
    assert (await _unread(client))["unread"] == 0
    assert 'data-testid="mark-all-read"' not in (await client.get("/notifications")).text


async def test_unread_count_needs_a_log_in_and_starts_at_zero(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    anonymous = await client.get("/notifications/unread.json")
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthenticated"
    assert (await client.get("/notifications")).status_code == 303
    await f.organisation(runtime)
    await f.person(runtime, "teacher")
    await log_in(client, "teacher@mcx.example", PASSWORD)
    assert await _unread(client) == {"unread": 0, "last_id": 0}
    page = (await client.get("/notifications")).text
    assert 'data-testid="notifications-empty"' in page


async def test_pages_of_older_notifications(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await f.organisation(runtime)
    me = await f.person(runtime, "teacher")
    made = [await _notify(runtime, me, "claim.expired", task_id=str(i)) for i in range(55)]
    await log_in(client, "teacher@mcx.example", PASSWORD)
    first = (await client.get("/notifications")).text
    assert first.count('data-testid="notification"') == notifications.PAGE_SIZE
    older = re.search(r'href="/notifications\?before=(\d+)"', first)
    assert older is not None
    second = (await client.get(f"/notifications?before={older.group(1)}")).text
    assert second.count('data-testid="notification"') == 5
    assert f'data-notification-id="{made[0].id}"' in second


async def test_mark_read_without_csrf_is_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    me = await f.person(runtime, "teacher")
    await _notify(runtime, me, "claim.expired", task_id="1")
    await log_in(client, "teacher@mcx.example", PASSWORD)
    assert (await client.post("/notifications/read", data={})).status_code == 403
    assert (await _unread(client))["unread"] == 1
