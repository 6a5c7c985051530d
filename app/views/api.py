"""The JSON API under /api/v1: errors as {"error": code, "detail": message}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.access import require_user, roles_of
from app.auth import current_user


async def me(request: Request) -> JSONResponse:
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
