"""The JSON API under /api/v1: errors as {"error": code, "detail": message}."""

from __future__ import annotations

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.access import require_user, roles_of
from app.auth import current_user
from app.errors import ActionError
from app.events import notification_json
from app.models import Notification
from app.views.openapi import openapi_document


async def me(request: Request) -> JSONResponse:
    """Who I am, and my roles per organisation."""
    user = require_user(await current_user(request))
    async with request.app.state.runtime.sessions() as session:
        roles = await roles_of(session, user)
    return JSONResponse(
        {
            "id": str(user.id),
            "email": user.email,
            "name": user.name,
            "school": user.school,
            "roles": [
                {"organisation": str(org), "role": role}
                for org, role in sorted(roles, key=lambda r: (str(r[0]), r[1]))
            ],
        }
    )


routes = [Route("/api/v1/me", me)]


async def notifications(request: Request) -> JSONResponse:
    """My notifications after an id (catch-up after being offline), oldest first."""
    user = require_user(await current_user(request))
    raw = request.query_params.get("after", "0")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
        raise ActionError("invalid", "after: must be a non-negative integer", 422)
    async with request.app.state.runtime.sessions() as session:
        rows = (
            await session.exec(
                select(Notification)
                .where(Notification.user_id == user.id)
                .where(col(Notification.id) > int(raw))
                .order_by(col(Notification.id))
                .limit(500)
            )
        ).all()
    return JSONResponse({"notifications": [notification_json(n) for n in rows]})


async def openapi(request: Request) -> JSONResponse:
    """This API's OpenAPI 3.1 document."""
    return JSONResponse(openapi_document(request.app.routes))


routes += [
    Route("/api/v1/notifications", notifications),
    Route("/api/v1/openapi.json", openapi),
]
