"""Post/redirect/get for refused forms: a browser's form post never leaves a page that a
reload would post again.

Views answer a refused form with the page it came from, carrying the message (and status
4xx). When the request is a browser's own form navigation (`Sec-Fetch-Mode: navigate`) from a
page of this site, that page is kept in Redis for a few minutes under a random key named in the
session, and the browser is sent back (303) to the page it came from, where this middleware
serves the kept page once. Reloading it then asks for the page afresh: the form is not posted
again. Scripts and API clients (no `Sec-Fetch-Mode: navigate`) get the answer directly, as
before. Successful posts already redirect (views answer 303).
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KEEP_SECONDS = 300
MAX_KEPT_BYTES = 2 * 1024 * 1024
SESSION_KEY = "refused_page"


def _redis_key(scope: Scope, token: str) -> str:
    runtime = scope["app"].state.runtime
    return f"{runtime.settings.redis_prefix}refused-page:{token}"


def _back_to(scope: Scope, headers: Headers) -> str | None:
    """The path (and query) of the page the form was on, when it is a page of this site."""
    referer = headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    host = headers.get("host", "")
    if parts.scheme not in {"http", "https"} or parts.netloc != host or not parts.path:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


class RefusedFormRedirectMiddleware:
    """Turns a refused browser form post into 303 + the page once (see the module docstring).

    Must sit inside SessionMiddleware (it reads and writes `scope["session"]`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET" and await self._serve_kept(scope, send):
            return
        headers = Headers(scope=scope)
        back = _back_to(scope, headers) if scope["method"] == "POST" else None
        if back is None or headers.get("sec-fetch-mode") != "navigate":
            await self.app(scope, receive, send)
            return
        await self._post(scope, receive, send, back)

    async def _serve_kept(self, scope: Scope, send: Send) -> bool:
        session: dict[str, Any] = scope.get("session", {})
        kept = session.get(SESSION_KEY)
        if not isinstance(kept, dict):
            return False
        target = scope["path"] + (f"?{scope['query_string'].decode()}" if scope["query_string"]
                                  else "")  # fmt: skip
        if kept.get("path") != target:
            return False
        del session[SESSION_KEY]  # once: a reload asks for the page afresh
        redis = scope["app"].state.runtime.redis
        key = _redis_key(scope, str(kept.get("token", "")))
        raw = await redis.getdel(key)
        if raw is None:
            return False  # expired: the page is built afresh
        page = json.loads(raw)
        await send(
            {
                "type": "http.response.start",
                "status": int(page["status"]),
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": page["body"].encode()})
        return True

    async def _post(self, scope: Scope, receive: Receive, send: Send, back: str) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        passing = False

        async def capture(message: Message) -> None:
            nonlocal start, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                content_type = Headers(raw=message["headers"]).get("content-type", "")
                if 400 <= message["status"] < 500 and content_type.startswith("text/html"):
                    start = message
                    return
                passing = True
                await send(message)
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if sum(map(len, chunks)) > MAX_KEPT_BYTES:
                    passing = True  # too big to keep: answer it as it is
                    await send(start)
                    await send({"type": "http.response.body", "body": b"".join(chunks),
                                "more_body": message.get("more_body", False)})  # fmt: skip

        await self.app(scope, receive, capture)
        if passing or start is None:
            return
        token = secrets.token_urlsafe(18)
        page = {"status": start["status"], "body": b"".join(chunks).decode("utf-8", "replace")}
        redis = scope["app"].state.runtime.redis
        await redis.set(_redis_key(scope, token), json.dumps(page), ex=KEEP_SECONDS)
        scope["session"][SESSION_KEY] = {"path": back, "token": token}
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", back.encode()), (b"cache-control", b"no-store")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
