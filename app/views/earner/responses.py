"""Answers shared by the earner's endpoints: a redirect after a form, JSON errors for scripts."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.errors import ActionError
from app.uploads import WrongOffset

Endpoint = Callable[[Request], Awaitable[Response]]


def see_other(url: str) -> RedirectResponse:
    """After a successful form post: the browser GETs the page (no re-post on reload)."""
    return RedirectResponse(url, status_code=303)


def json_errors(endpoint: Endpoint) -> Endpoint:
    """Endpoints called by earner.js answer errors as JSON ({"error", "detail"}) like the API,
    though they live outside /api/ (where the app's handler would render an HTML page); a
    refused chunk also says where the upload stands (`offset`, `Upload-Offset`)."""

    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ActionError as error:
            body: dict[str, object] = {"error": error.code, "detail": error.detail}
            headers = {"Cache-Control": "no-store"}
            if isinstance(error, WrongOffset):
                body["offset"] = error.offset
                headers["Upload-Offset"] = str(error.offset)
            return JSONResponse(body, status_code=error.status, headers=headers)

    return wrapped
