"""The websocket at /ws: who is asking and from which site, then the conversation with one phone.

Protocol (JSON text frames). Client → server: `ping`, `resume {after}`, `refresh`. Server →
client: `hello`, `notification`, feed events, `resync`, `resume_done`, `refreshed`, `pong`,
`ping`, `error`. A refused socket is accepted, told `{"type": "error", ...}`, then closed with
4401 (not authenticated) or 4403 (foreign Origin), so browser code can read why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.routing import WebSocketRoute
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.access import reviewer_pools
from app.auth import asked_once, bearer_token, user_from_session, user_from_token
from app.events import notification_json
from app.live import Hub, Listener, direct_writer
from app.models import Notification, User
from app.runtime import Runtime

MAX_MESSAGE_BYTES = 4096
MAX_BAD_IN_A_ROW = 20
RESUME_LIMIT = 500
# Resume and refresh query PostgreSQL: a burst for reconnects and paging, then a trickle.
REQUEST_BURST = 20
REQUEST_RATE = 2.0  # per second
MAX_ID = 2**63 - 1  # notification ids are BIGINT; a larger `after` is a bad message, not a 500
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_POLICY = 1008
CLOSE_INTERNAL_ERROR = 1011
log = logging.getLogger(__name__)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_FIELDS: dict[str, frozenset[str]] = {
    "ping": frozenset(),
    "refresh": frozenset(),
    "resume": frozenset({"after"}),
}


class Request(NamedTuple):
    """A valid client message."""

    type: str
    after: int = 0


class BadMessage(NamedTuple):
    detail: str


# -- the handshake ---------------------------------------------------------------------------


def origin_of(url: str) -> str:
    """scheme://host[:port], lowercased, default port dropped; ValueError if it has no host."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        raise ValueError(f"not an origin: {url!r}")
    port = parts.port  # raises ValueError for a malformed port
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_allowed(origin: str | None, base_url: str, *, via_token: bool) -> bool:
    """Browsers always send Origin on a websocket, and a page on another site must not ride on
    the user's cookie (cross-site websocket hijacking). No Origin: only non-browser clients,
    which must then bring a token."""
    if origin is None:
        return via_token
    try:
        return origin_of(origin) == origin_of(base_url)
    except ValueError:
        return False  # "null" and other opaque origins


def token_of(websocket: WebSocket) -> str | None:
    """The API token: the Authorization header, else `?token=` (for clients that cannot set
    headers; it may end up in access logs, so prefer the header)."""
    return bearer_token(websocket) or websocket.query_params.get("token") or None


async def authenticate(
    session: AsyncSession, websocket: WebSocket, token: str | None
) -> User | None:
    """A token, when one is given, is the only credential considered; else the session cookie."""
    with asked_once():  # one look-up per socket: not kept in the identity cache
        if token is not None:
            return await user_from_token(websocket.app.state.runtime, token)
        if "session" not in websocket.scope:
            return None
        return await user_from_session(session, websocket)


# -- client messages -------------------------------------------------------------------------


def parse_message(message: Message) -> Request | BadMessage:
    """Validate one received frame; nothing a client sends can raise past here."""
    text = message.get("text")
    if not isinstance(text, str):
        return BadMessage("Send JSON text frames, not binary ones.")
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode()) > MAX_MESSAGE_BYTES:
        return BadMessage(f"Messages are at most {MAX_MESSAGE_BYTES} bytes.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
        return BadMessage("That is not JSON.")
    if not isinstance(data, dict):
        return BadMessage("Send a JSON object.")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        return BadMessage("Unknown message type; expected one of: " + ", ".join(sorted(_FIELDS)))
    extra = set(data) - {"type"} - _FIELDS[kind]
    if extra:
        return BadMessage(f"Unexpected field(s) for {kind}: {', '.join(sorted(extra))[:200]}")
    if kind == "resume":
        after = data.get("after")
        # bool is an int in Python, not in the protocol.
        if type(after) is not int or not 0 <= after <= MAX_ID:
            return BadMessage("`after` must be a non-negative integer notification id.")
        return Request(kind, after)
    return Request(kind)


class Budget:
    """A token bucket: `burst` requests at once, refilled at `rate` per second."""

    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, burst: float = REQUEST_BURST, rate: float = REQUEST_RATE) -> None:
        self.burst, self.rate = burst, rate
        self.tokens, self.at = burst, time.monotonic()

    def spend(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


# -- the conversation ------------------------------------------------------------------------


class Socket:
    """One websocket written by the reader (replies) and, now and then, a drain task (events
    the hub could not write directly): sends are serialised, and nothing is sent after close.

    An idle socket costs no task of its own beyond the one uvicorn runs it in: the hub writes
    most events straight to the wire (app.live.DirectWriter) and pings every socket from one
    timer; a drain task exists only while the mailbox holds something."""

    __slots__ = ("_closed", "_drain", "_lock", "_sending", "listener", "websocket")

    def __init__(self, websocket: WebSocket, listener: Listener | None = None) -> None:
        self.websocket = websocket
        self.listener = listener
        self._lock = asyncio.Lock()
        self._sending = 0  # sends holding or waiting for the lock
        self._closed = False
        self._drain: asyncio.Task[None] | None = None

    def idle(self) -> bool:
        """Nothing being sent, waiting to be sent, or closed: another writer may put a whole
        frame on the wire without overtaking anything."""
        return not self._closed and self._sending == 0

    async def send(self, text: str) -> None:
        self._sending += 1
        try:
            async with self._lock:
                if not self._closed:
                    await self.websocket.send_text(text)
        finally:
            self._sending -= 1

    async def send_json(self, data: dict[str, Any]) -> None:
        await self.send(json.dumps(data))

    async def close(self, code: int, error: str | None = None, detail: str = "") -> None:
        self._sending += 1
        try:
            async with self._lock:
                if self._closed:
                    return
                if error is not None:
                    await self.websocket.send_text(
                        json.dumps({"type": "error", "error": error, "detail": detail})
                    )
                self._closed = True
                await self.websocket.close(code, error or "")
        finally:
            self._sending -= 1

    def wake(self) -> None:
        """The mailbox got something: make sure a drain task is on it."""
        if self._drain is None and not self._closed:
            self._drain = asyncio.create_task(self._drain_mailbox())

    async def _drain_mailbox(self) -> None:
        assert self.listener is not None
        mailbox = self.listener.queue
        try:
            while not mailbox.empty():
                await self.send(mailbox.get_nowait())
        except WebSocketDisconnect:
            pass  # the phone left; the reader hears it and ends the conversation
        except Exception:
            log.exception("could not send to a websocket; closing it")
            with contextlib.suppress(Exception):
                await self.close(CLOSE_INTERNAL_ERROR)
        finally:
            self._drain = None

    async def stop(self) -> None:
        """The conversation is over: no more draining."""
        self._closed = True
        drain, self._drain = self._drain, None
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await drain


async def register(
    runtime: Runtime, hub: Hub, websocket: WebSocket, token: str | None
) -> tuple[Listener, int] | None:
    """Authenticate, register with the hub, then read the newest notification id, in this
    order and in one database session: a notification committed after the read reaches the
    listener, and `hello`'s id covers the rest. None: not authenticated.

    Only the listener outlives this: not the ORM row, which would pin the session and its
    identity map for the socket's whole life."""
    async with runtime.sessions() as session:
        user = await authenticate(session, websocket, token)
        if user is None:
            return None
        pools = await reviewer_pools(session, user)
        listener = hub.attach(user.id, user.school, pools)
        try:
            last_id = (
                await session.exec(
                    select(func.max(Notification.id)).where(Notification.user_id == user.id)
                )
            ).one()
        except BaseException:
            hub.detach(listener)
            raise
    return listener, last_id or 0


async def live(websocket: WebSocket) -> None:
    """/ws: refuse (4403 / 4401) or register with the hub, say hello, then talk until closed.

    One coroutine for the socket's whole life (each extra frame alive per socket is memory
    times every socket)."""
    runtime: Runtime = websocket.app.state.runtime
    hub: Hub = websocket.app.state.hub
    token = token_of(websocket)
    origin_ok = origin_allowed(
        websocket.headers.get("origin"), runtime.settings.base_url, via_token=token is not None
    )
    # A foreign page learns nothing, not even whether the cookie is valid.
    registered = await register(runtime, hub, websocket, token) if origin_ok else None
    listener = registered[0] if registered is not None else None
    socket = Socket(websocket, listener)
    try:
        await websocket.accept()
        if not origin_ok:
            await socket.close(
                CLOSE_FORBIDDEN_ORIGIN, "forbidden_origin", "Connect from MCX itself."
            )
            return
        if registered is None or listener is None:
            await socket.close(
                CLOSE_UNAUTHENTICATED, "unauthenticated", "Log in, or connect with an API token."
            )
            return
        await socket.send_json(
            {"type": "hello", "user_id": listener.user_id, "last_notification_id": registered[1]}
        )
        del registered
        # From now on the hub may write frames straight to the wire (never before `hello`;
        # what it offered meanwhile waits in the mailbox, and direct writes wait behind it).
        listener.wake = socket.wake
        listener.direct = direct_writer(websocket.scope, socket.idle)
        if not listener.queue.empty():
            socket.wake()
        await _read(socket, runtime, hub, listener, token)
    except WebSocketDisconnect:
        pass  # the phone left: nothing to report
    finally:
        if listener is not None:
            hub.detach(listener)
            listener.wake = listener.direct = None
        await socket.stop()


async def _read(
    socket: Socket, runtime: Runtime, hub: Hub, listener: Listener, token: str | None
) -> None:
    """The client's side of the conversation, until it leaves or we close."""
    bad = 0
    budget: Budget | None = None  # made on the first database-backed request
    while True:
        message = await socket.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        request = parse_message(message)
        if isinstance(request, BadMessage):
            bad += 1
            if bad >= MAX_BAD_IN_A_ROW:
                await socket.close(CLOSE_POLICY, "bad_message", "Too many bad messages.")
                return
            await socket.send_json(
                {"type": "error", "error": "bad_message", "detail": request.detail}
            )
            continue
        bad = 0
        if request.type == "ping":
            await socket.send_json({"type": "pong"})
            continue
        budget = budget or Budget()
        if not budget.spend():
            await socket.send_json(
                {
                    "type": "error",
                    "error": "rate_limited",
                    "detail": "Too many requests; slow down.",
                }
            )
        elif request.type == "resume":
            await _resume(socket, runtime, listener, request.after)
        elif not await _refresh(socket, runtime, hub, listener, token):
            return


async def _resume(socket: Socket, runtime: Runtime, listener: Listener, after: int) -> None:
    """Every notification after `after`, oldest first, RESUME_LIMIT at most; `more` says to ask
    again from `last_id`. Live ones may arrive in between, so clients de-duplicate by id."""
    async with runtime.sessions() as session:
        rows = (
            await session.exec(
                select(Notification)
                .where(Notification.user_id == uuid.UUID(listener.user_id))
                .where(col(Notification.id) > after)
                .order_by(col(Notification.id))
                .limit(RESUME_LIMIT + 1)
            )
        ).all()
    batch = rows[:RESUME_LIMIT]
    for notification in batch:
        await socket.send_json(
            {"type": "notification", "notification": notification_json(notification)}
        )
    last_id = batch[-1].id if batch else after
    await socket.send_json(
        {"type": "resume_done", "last_id": last_id, "more": len(rows) > RESUME_LIMIT}
    )


async def _refresh(
    socket: Socket, runtime: Runtime, hub: Hub, listener: Listener, token: str | None
) -> bool:
    """Re-check the handshake's credential (a log-out everywhere or a revoked token ends the
    socket) and recompute the feeds this person may watch. False when the socket closed."""
    async with runtime.sessions() as session:
        user = await authenticate(session, socket.websocket, token)
        if user is None or str(user.id) != listener.user_id:
            await socket.close(CLOSE_UNAUTHENTICATED, "unauthenticated", "Log in again.")
            return False
        pools = await reviewer_pools(session, user)
    hub.update(listener, pools, user.school)
    await socket.send_json({"type": "refreshed"})
    return True


routes = [WebSocketRoute("/ws", live)]
