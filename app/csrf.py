"""CSRF protection for every state-changing request that rides on the session cookie.

The token lives in the session. It may come in an `X-CSRF-Token` header (scripts, fetch), a
`csrf_token` field of a url-encoded form (read here, then replayed to the app), or the first
field of a multipart form (only that first part is read here, so uploads still stream). Never
in the address: addresses land in access logs, proxies and browser history. Requests
authenticated by a bearer token carry no ambient authority and are exempt, and so are the few
public endpoints in PUBLIC_PATHS: they never read the session and change nothing, so a forged
cross-site request gains nothing (they are open to any origin by design).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD = "csrf_token"
HEADER = "x-csrf-token"
MAX_FORM_BYTES = 1024 * 1024
# Open to any client (no cookie, no token): verification of a badge someone holds.
PUBLIC_PATHS = frozenset({"/verify.json"})
# How much of a multipart body may be read looking for its first field (the token).
MAX_FIRST_PART_BYTES = 64 * 1024
_UNFINISHED = object()


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
        if scope["method"] in SAFE_METHODS or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if conn.headers.get("authorization", "").lower().startswith("bearer "):
            await self.app(scope, receive, send)
            return
        expected = conn.session.get("csrf")
        given = conn.headers.get(HEADER)
        boundary = _multipart_boundary(conn)
        if given is None and boundary:
            given, receive = await _first_field(receive, boundary)
        elif given is None and _is_urlencoded(conn):
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


def _multipart_boundary(conn: HTTPConnection) -> bytes | None:
    kind, _, params = conn.headers.get("content-type", "").partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    return None


def _token_in_first_part(body: bytes, boundary: bytes) -> object:
    """The first part's value when it is the `csrf_token` field, None when the first part is
    something else, _UNFINISHED when more of the body is needed to tell."""
    delimiter = b"--" + boundary
    start = body.find(delimiter)
    if start < 0:
        return _UNFINISHED
    head_end = body.find(b"\r\n\r\n", start)
    if head_end < 0:
        return _UNFINISHED
    headers = body[start + len(delimiter) : head_end].decode("latin-1").lower()
    if f'name="{FIELD}"' not in headers:
        return None
    value_end = body.find(b"\r\n" + delimiter, head_end + 4)
    if value_end < 0:
        return _UNFINISHED
    return body[head_end + 4 : value_end].decode("latin-1")


async def _first_field(receive: Receive, boundary: bytes) -> tuple[str | None, Receive]:
    """The token from the multipart body's first field (forms put it first), reading no more
    than that; the receive that replays what was read, then streams the rest."""
    body = b""
    more = True
    while more and len(body) <= MAX_FIRST_PART_BYTES:
        message = await receive()
        if message["type"] == "http.disconnect":
            more = False
            break
        body += message.get("body", b"")
        more = message.get("more_body", False)
        found = _token_in_first_part(body, boundary)
        if found is not _UNFINISHED:
            return (found if isinstance(found, str) else None), _replay(body, receive, more)
    return None, _replay(body, receive, more)


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


def _replay(body: bytes, original: Receive, more: bool = False) -> Receive:
    """Hand the app the body we already read, then the real stream (the rest of the body when
    `more`, else just its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
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
