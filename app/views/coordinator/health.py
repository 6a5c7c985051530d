"""The queue health dashboard: figures and server-rendered SVG charts for the organisations
this person coordinates, over 7 or 30 days; kept live by static/health.js, which re-reads the
dashboard's section every 15 seconds."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app import access, queue_health
from app.auth import current_user
from app.errors import ActionError
from app.templating import templates
from app.views.coordinator.authoring import coordinated
from app.views.coordinator.settings import duration


def _days(request: Request) -> int:
    raw = request.query_params.get("days", "7")
    if raw not in {str(d) for d in queue_health.WINDOWS}:
        raise ActionError("bad_window", "Choose a window of 7 or 30 days.", 422)
    return int(raw)


def hours_text(seconds: float | None) -> str:
    return "—" if seconds is None else duration(seconds)


async def _health(request: Request) -> queue_health.Health:
    user = access.require_user(await current_user(request))
    days = _days(request)
    organisations = await coordinated(request, user)
    async with request.app.state.runtime.sessions() as session:
        return await queue_health.queue_health(session, [o.id for o in organisations], days)


async def dashboard(request: Request) -> Response:
    """GET /coordinate/health?days=7|30 (and /coordinate/health/live: the section alone)."""
    health = await _health(request)
    section_only = request.url.path.endswith("/live")
    return templates.TemplateResponse(
        request,
        "coordinator/_health.html" if section_only else "coordinator/health.html",
        {"health": health, "hours": hours_text, "windows": queue_health.WINDOWS},
        headers={"Cache-Control": "no-store"},
    )


async def dashboard_json(request: Request) -> JSONResponse:
    """GET /coordinate/health.json?days=7|30: the same figures, for scripts and tests."""
    return JSONResponse((await _health(request)).json(), headers={"Cache-Control": "no-store"})


routes = [
    Route("/coordinate/health", dashboard),
    Route("/coordinate/health/live", dashboard),
    Route("/coordinate/health.json", dashboard_json),
]
