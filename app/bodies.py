"""How request bodies may arrive: at a living pace (no slow drip), and not too many uploads at
once from one person.

A client that trickles bytes (or stops sending halfway) would otherwise hold a connection, a
worker slot and a temporary file for as long as it likes; uvicorn times out idle connections
between requests, not a body that stalls. Many uploads in parallel from one account would
fill the disk and the event loop for everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import ActionError
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_PARALLEL_UPLOADS = 4
# An upload slot nobody gave back (its process died) is forgotten after this long.
SLOT_SECONDS = 15 * 60

_TAKE_SLOT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class BodyTooSlow(ActionError):
    def __init__(self, detail: str) -> None:
        super().__init__("too_slow", detail, 408)


def too_slow(detail: str) -> BodyTooSlow:
    return BodyTooSlow(detail)


class BodyPaceMiddleware:
    """Ends a request whose body stalls (no bytes for `idle` seconds) or drips (after `idle`
    seconds, fewer than `min_rate` bytes a second on average) with 408. The endpoint sees the
    error where it reads the body, so its usual clean-up of a failed upload runs; a middleware
    reading the body first (the CSRF check of a form) gets the 408 from here."""

    def __init__(self, app: ASGIApp, *, idle: float, min_rate: int) -> None:
        self.app = app
        self.idle = idle
        self.min_rate = min_rate

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Anything but HTTP (a websocket) gets the next app's own awaitable: no frame of this
        # middleware stays alive for as long as a socket is open.
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        received = 0
        complete = False

        async def paced() -> Message:
            nonlocal received, complete
            if complete:  # the body is in; what follows is waiting for a disconnect
                return await receive()
            try:
                async with asyncio.timeout(self.idle):
                    message = await receive()
            except TimeoutError:
                raise too_slow(
                    f"The upload stalled: nothing arrived for {self.idle:g} seconds."
                ) from None
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            complete = not message.get("more_body", False)
            elapsed = time.monotonic() - started
            if not complete and elapsed > self.idle and received < self.min_rate * elapsed:
                raise too_slow(
                    f"The upload is arriving too slowly (under {self.min_rate} bytes a second)."
                )
            return message

        responded = False

        async def watched(message: Message) -> None:
            nonlocal responded
            responded = responded or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, paced, watched)
        except BodyTooSlow as exc:
            if responded:
                raise
            await JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=408)(
                scope, receive, send
            )


@contextlib.asynccontextmanager
async def upload_slot(redis: Redis, settings: Settings, user_id: uuid.UUID) -> AsyncIterator[None]:
    """One of the MAX_PARALLEL_UPLOADS a person may send at once (429 beyond), shared by every
    web process through Redis. Without Redis, uploads go on unlimited rather than stop."""
    key = f"{settings.redis_prefix}uploading:{user_id}"
    slot = uuid.uuid4().hex
    try:
        taken: int | None = int(
            await redis.eval(  # type: ignore[misc]
                _TAKE_SLOT, 1, key, slot, str(SLOT_SECONDS), str(MAX_PARALLEL_UPLOADS)
            )
        )
    except RedisError as exc:
        log.warning("upload limiter unavailable, not limiting: %s", exc)
        taken = None
    if taken == 0:
        raise ActionError(
            "too_many_uploads",
            f"At most {MAX_PARALLEL_UPLOADS} uploads at once: wait for one to finish.",
            429,
        )
    try:
        yield
    finally:
        if taken:
            with contextlib.suppress(RedisError):
                await redis.zrem(key, slot)
