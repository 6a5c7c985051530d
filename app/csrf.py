"""CSRF protection for every state-changing request that rides on the session cookie.

The token lives in the session. It may come in an `X-CSRF-Token` header (scripts, fetch),
a `csrf_token` query parameter (multipart forms, so uploads still stream), or a `csrf_token`
field of a url-encoded form (read here, then replayed to the app). Requests authenticated by
a bearer token carry no ambient authority and are exempt.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import QueryParams
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD = "csrf_token"
HEADER = "x-csrf-token"
MAX_FORM_BYTES = 1024 * 1024


def csrf_token(conn: HTTPConnection) -> str:
    """This session's token, created on first use."""
    token = conn.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        conn.session["csrf"] = token
    return token


class CSRFMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Anything but HTTP (a websocket) gets the next app's own awaitable: no frame of this
        # middleware stays alive for as long as a socket is open.
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if conn.headers.get("authorization", "").lower().startswith("bearer "):
            await self.app(scope, receive, send)
            return
        expected = conn.session.get("csrf")
        given = conn.headers.get(HEADER) or QueryParams(scope.get("query_string", b"")).get(FIELD)
        if given is None and _is_urlencoded(conn):
            body = await _read_body(receive)
            if body is None:
                await _reject(scope, receive, send, "Form too large.", 413)
                return
            values = parse_qs(body.decode("latin-1")).get(FIELD)
            given = values[0] if values else None
            receive = _replay(body, receive)
        if not (isinstance(expected, str) and given and secrets.compare_digest(expected, given)):
            await _reject(
                scope,
                receive,
                send,
                "This form has expired or did not come from MCX. Reload the page and try again.",
                403,
            )
            return
        await self.app(scope, receive, send)


def _is_urlencoded(conn: HTTPConnection) -> bool:
    return conn.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, original: Receive) -> Receive:
    """Hand the app the body we already read, then the real stream (for its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive


async def _reject(scope: Scope, receive: Receive, send: Send, detail: str, status: int) -> None:
    response: Response
    if scope["path"].startswith("/api/"):
        body: dict[str, Any] = {"error": "csrf_failed", "detail": detail}
        response = JSONResponse(body, status_code=status)
    else:
        response = PlainTextResponse(detail, status_code=status)
    await response(scope, receive, send)
