"""Coaching requests for coordinators: the open ones of their organisations, and closing one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.actions import coaching
from app.templating import templates
from app.views import form_fields
from app.views.apikit import caller, path_id
from app.views.earner.responses import see_other


async def index(request: Request) -> Response:
    """GET /coaching: open requests (an empty list for people who coordinate nothing)."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        rows = await coaching.open_requests(session, user)
    return templates.TemplateResponse(request, "journey/coaching.html", {"rows": rows})


async def close(request: Request) -> Response:
    """POST /coaching/{id}/close (field `note`)."""
    runtime, user = await caller(request)
    form = await form_fields(request)
    await coaching.close_coaching(
        runtime, user, path_id(request, "request_id"), form.get("note", "")
    )
    return see_other("/coaching")


routes = [
    Route("/coaching", index),
    Route("/coaching/{request_id}/close", close, methods=["POST"]),
]
