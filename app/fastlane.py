"""The fast lane: the three requests of rush hour, from API clients, answered without the
page machinery.

`POST /api/v1/tasks/{id}/claim`, `POST /api/v1/tasks/claim-next` and `GET /api/v1/tasks` with
a bearer token (and no Idempotency-Key) go straight to the same actions the API views call.
Nothing a page needs applies to them: a bearer request carries no cookie session and needs
no CSRF token, and these requests have no body to pace. Everything else passes through to the
full stack. The answers are the API's own: the same JSON, status codes, 401/404/409, 503 with
Retry-After when PostgreSQL or Redis is unreachable, and the security headers.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.actions import tasks
from app.auth import user_from_token
from app.collector import InFlight
from app.errors import RETRY_AFTER_SECONDS, ActionError, is_unavailable
from app.models import User
from app.queue.feed import task_list
from app.runtime import Runtime
from app.security import security_headers
from app.views.api_tasks import LIST_LIMIT

log = logging.getLogger(__name__)

CLAIM_PATH = re.compile(r"/api/v1/tasks/([0-9a-fA-F-]{36})/claim")
Handler = Callable[[Runtime, User, str], Awaitable[tuple[int, bytes]]]


async def _claim(runtime: Runtime, user: User, task_id: str) -> tuple[int, bytes]:
    try:
        task = uuid.UUID(task_id)
    except ValueError:
        raise ActionError("not_found", "That was not found.", 404) from None
    claim = await tasks.claim_task(runtime, user, task)
    return 201, json.dumps(claim.json()).encode()


async def _claim_next(runtime: Runtime, user: User, _: str) -> tuple[int, bytes]:
    claim = await tasks.claim_next(runtime, user)
    return 201, json.dumps(claim.json()).encode()


async def _list(runtime: Runtime, user: User, _: str) -> tuple[int, bytes]:
    return 200, await task_list(runtime, user, LIST_LIMIT)


def _route(method: str, path: str) -> tuple[Handler, str] | None:
    if method == "POST":
        if path == "/api/v1/tasks/claim-next":
            return _claim_next, ""
        found = CLAIM_PATH.fullmatch(path)
        if found:
            return _claim, found.group(1)
    elif method == "GET" and path == "/api/v1/tasks":
        return _list, ""
    return None


class FastLane:
    """Pure ASGI, first of the app's middleware (scope["app"] is the Starlette app). It also
    counts the HTTP requests in flight, for app.collector."""

    def __init__(self, app: ASGIApp, *, base_url: str) -> None:
        self.app = app
        # As app.security: the public origin decides, not the request's scheme.
        self.https = base_url.startswith("https://")
        self._headers: dict[str | None, list[tuple[bytes, bytes]]] = {}

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: what passes through keeps no frame of this middleware alive (an
        # idle websocket would hold one for its whole life).
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        routed = _route(scope["method"], scope["path"])
        token = host = None
        if routed is not None:
            for name, value in scope["headers"]:
                if name == b"authorization":
                    scheme, _, rest = value.decode("latin-1").partition(" ")
                    token = rest.strip() if scheme.lower() == "bearer" else None
                elif name == b"idempotency-key" or name == b"cookie":
                    routed = None  # replays, and browsers' sessions: the full stack
                    break
                elif name == b"host":
                    host = value.decode("latin-1")
        if routed is None or not token:
            return InFlight.counted(self.app(scope, receive, send))
        return InFlight.counted(self._answer(scope, send, routed, token, host))

    async def _answer(
        self,
        scope: Scope,
        send: Send,
        routed: tuple[Handler, str],
        token: str,
        host: str | None,
    ) -> None:
        handler, arg = routed
        runtime: Runtime = scope["app"].state.runtime
        extra: list[tuple[bytes, bytes]] = []
        try:
            user = await user_from_token(runtime, token)
            if user is None:
                raise ActionError("unauthenticated", "Log in to continue.", 401)
            status, body = await handler(runtime, user, arg)
        except ActionError as exc:
            status = exc.status
            body = json.dumps({"error": exc.code, "detail": exc.detail}).encode()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning(
                "%s %s: backing service unavailable: %r", scope["method"], scope["path"], exc
            )
            status = 503
            detail = "MCX cannot reach its database or queue right now; try again in a moment."
            body = json.dumps({"error": "unavailable", "detail": detail}).encode()
            extra = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *extra,
            *self._security(host),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _security(self, host: str | None) -> list[tuple[bytes, bytes]]:
        found = self._headers.get(host)
        if found is None:
            if len(self._headers) > 1000:
                self._headers.clear()
            found = self._headers[host] = [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in security_headers(host=host, https=self.https, embeddable=False)
            ]
        return found
