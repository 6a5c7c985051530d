"""The feed of claimable work (page and JSON), and the two ways to claim from it."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app import events
from app.access import require_user
from app.actions import tasks
from app.auth import current_user
from app.errors import ActionError
from app.models import Role, User
from app.templating import templates
from app.views.apikit import path_id
from app.views.reviewer.cards import load_feed

# Outcomes announced on the feed after a redirect; only known codes, never echoed text.
NOTICES = {
    "released": "Released. The task is back in the queue for someone else.",
}


async def render_feed(
    request: Request, user: User, *, error: str | None = None, status: int = 200
) -> Response:
    """The feed page, optionally with an error from the action that brought us here."""
    now = datetime.now(UTC)
    feed = await load_feed(request.app.state.runtime, user, now)
    roles: frozenset[str] = getattr(request.state, "roles", frozenset())
    return templates.TemplateResponse(
        request,
        "reviewer/feed.html",
        {
            "feed": feed,
            "now": now,
            "error": error,
            "notice": NOTICES.get(request.query_params.get("done", "")),
            "in_a_pool": Role.reviewer in roles or Role.expert in roles,
        },
        status_code=status,
    )


# A reviewer's feed page, once drawn, is served again while the open work has not changed
# (events.feed_version: every change this process makes or hears of) and for at most
# PAGE_SECONDS; their own claim, release or submit draws it afresh.
PAGE_SECONDS = 2.0
_PAGES_MAX = 10_000
_pages: dict[tuple[uuid.UUID, str], tuple[float, int, bytes]] = {}


def forget_page(user: User) -> None:
    for key in [key for key in _pages if key[0] == user.id]:
        del _pages[key]


async def feed_page(request: Request) -> Response:
    """GET /review: the live feed; my claim pinned on top."""
    user = require_user(await current_user(request))
    csrf = request.session.get("csrf")
    key = (user.id, csrf) if isinstance(csrf, str) and not request.query_params else None
    now, version = time.monotonic(), events.feed_version()
    if key is not None:
        drawn = _pages.get(key)
        if drawn is not None and drawn[0] > now and drawn[1] == version:
            return HTMLResponse(drawn[2])
    response = await render_feed(request, user)
    if key is not None and response.status_code == 200:
        if len(_pages) >= _PAGES_MAX:
            _pages.clear()
        _pages[key] = (now + PAGE_SECONDS, version, bytes(response.body))
    return response


async def feed_json(request: Request) -> Response:
    """GET /review/feed.json: the same cards for reviewer.js (401 JSON, not a log-in page)."""
    user = await current_user(request)
    if user is None:
        return JSONResponse(
            {"error": "unauthenticated", "detail": "Log in to continue."}, status_code=401
        )
    now = datetime.now(UTC)
    feed = await load_feed(request.app.state.runtime, user, now)
    return JSONResponse(feed.json(now), headers={"Cache-Control": "no-store"})


async def claim(request: Request) -> Response:
    """POST /review/tasks/{id}/claim: one tap; the winner goes to the task, the rest see why."""
    user = require_user(await current_user(request))
    task_id = path_id(request, "task_id")
    forget_page(user)
    # A card stands for a packet's open tasks in one pool: if someone was quicker to this
    # one, the card's others (sent as `also`) are tried in turn.
    candidates = [task_id, *[other for other in await _others(request) if other != task_id]]
    for i, candidate in enumerate(candidates):
        try:
            won = await tasks.claim_task(request.app.state.runtime, user, candidate)
        except ActionError as error:
            if error.code == "already_taken" and i + 1 < len(candidates):
                continue
            return await render_feed(request, user, error=error.detail, status=error.status)
        return RedirectResponse(f"/review/tasks/{won.task_id}", status_code=303)
    raise AssertionError("unreachable: the loop answers for its last candidate")


MAX_OTHERS = 10


async def _others(request: Request) -> list[uuid.UUID]:
    """The card's other tasks (`also` fields): ids only, a few at most, the rest ignored."""
    form = await request.form()
    found = []
    for raw in form.getlist("also")[:MAX_OTHERS]:
        try:
            found.append(uuid.UUID(str(raw)))
        except ValueError:
            continue
    return found


async def claim_next(request: Request) -> Response:
    """POST /review/claim-next: the best open task for me (oldest first, escalations ahead)."""
    user = require_user(await current_user(request))
    forget_page(user)
    try:
        won = await tasks.claim_next(request.app.state.runtime, user)
    except ActionError as error:
        return await render_feed(request, user, error=error.detail, status=error.status)
    return RedirectResponse(f"/review/tasks/{won.task_id}", status_code=303)
