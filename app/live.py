"""The live hub: one Redis pub/sub subscription per process, fanned out in memory to websockets.

Each open socket is a `Listener` with a bounded mailbox. The hub reads the `feed` and `user`
channels (see app.events), decides per listener who may see each event, and hands it on.
Each event's websocket frame is built once; a socket that is idle (nothing queued, nothing
being sent, its connection taking data) gets those bytes written straight to its transport,
so one event costs 5,000 phones 5,000 writes, not 5,000 task wake-ups and send chains.
Otherwise the event waits in the mailbox as JSON text and the socket starts a drain task
(app.views.live) that ends when the mailbox is empty. Nothing here waits on a phone: a full
mailbox is emptied and replaced by one `resync`.

Memory per idle socket is kept near the framework's floor (bench/capacity.py): no task, timer
or queue of its own (one heartbeat timer per hub pings the quiet sockets), a mailbox that
holds a deque only while it holds events, pool sets shared between sockets, and middlewares
that keep no frame alive for a websocket (ServerConnectionMiddleware, SessionMiddleware here).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from base64 import b64decode
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from itsdangerous.exc import BadSignature
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.middleware import sessions
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from app import events
from app.runtime import Runtime

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 25.0
QUEUE_SIZE = 256
BACKOFF_FIRST = 0.25
BACKOFF_MAX = 30.0
# A subscribed connection only speaks when there is news; after this much silence the hub
# PINGs, and a PING unanswered for as long again means a half-open connection: reconnect.
REDIS_IDLE_SECONDS = 20.0
_POLL_SECONDS = 1.0

RESYNC = json.dumps({"type": "resync"})
PING = json.dumps({"type": "ping"})
# Feed kinds may not pose as the socket's own control messages.
CONTROL_TYPES = frozenset(
    {"hello", "ping", "pong", "resync", "notification", "resume_done", "refreshed", "error"}
)


def text_frame(text: str) -> bytes:
    """A server's unmasked, unfragmented websocket text frame (RFC 6455 section 5.2)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


# Where ServerConnectionMiddleware leaves the server's connection object in a websocket scope.
SERVER_CONNECTION = "mcx.server_connection"


class ServerConnectionMiddleware:
    """Keeps, in each websocket's scope, the object behind the server's ASGI `send` (uvicorn's
    websockets-sansio connection under `mcx serve`), so `direct_writer` can reach its
    transport. Outermost, before any middleware wraps `send`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "websocket":
            scope[SERVER_CONNECTION] = getattr(send, "__self__", None)
        # Handing on the app's own awaitable, not awaiting it in a coroutine of ours, keeps no
        # frame of this middleware alive for as long as a socket is open.
        return self.app(scope, receive, send)


class SessionMiddleware:
    """Starlette's session middleware (same options), except that for a websocket it only
    reads the cookie into `scope["session"]` and hands on the app's own awaitable. A websocket
    never sets a cookie (Starlette's `send` wrapper acts on `http.response.start` only), so that
    wrapper and its frame would be kept alive for nothing for as long as the socket is open."""

    def __init__(self, app: ASGIApp, /, **options: Any) -> None:
        self.app = app
        self.http = sessions.SessionMiddleware(app, **options)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "websocket":
            return self.http(scope, receive, send)
        scope["session"] = self.read(scope)
        return self.app(scope, receive, send)

    def read(self, scope: Scope) -> dict[str, Any]:
        """The session the cookie holds, read as Starlette reads it; {} when absent or forged."""
        cookie = HTTPConnection(scope).cookies.get(self.http.session_cookie)
        if cookie is None:
            return {}
        try:
            data = self.http.signer.unsign(cookie.encode("utf-8"), max_age=self.http.max_age)
        except BadSignature:
            return {}
        session = json.loads(b64decode(data))
        return session if isinstance(session, dict) else {}


class DirectWriter:
    """Writes a ready frame straight to one websocket's transport (uvicorn's websockets-sansio
    connection), only while `idle()` (no send of the socket's own in progress), the connection
    is open and the transport is not paused by flow control; says whether it wrote."""

    __slots__ = ("_connection", "_idle")

    def __init__(self, connection: Any, idle: Callable[[], bool]) -> None:
        self._connection, self._idle = connection, idle

    def __call__(self, frame: bytes) -> bool:
        connection = self._connection
        if (
            not self._idle()
            or not connection.writable.is_set()
            or connection.close_sent
            or connection.disconnected
            or connection.transport.is_closing()
        ):
            return False
        connection.transport.write(frame)
        return True


def direct_writer(scope: Scope, idle: Callable[[], bool]) -> Callable[[bytes], bool] | None:
    """A DirectWriter for this websocket, or None when the server is not one whose connection
    it understands (then the mailbox does the work)."""
    connection: Any = scope.get(SERVER_CONNECTION)
    understood = (
        getattr(connection, "transport", None) is not None
        and isinstance(getattr(connection, "writable", None), asyncio.Event)
        and isinstance(getattr(connection, "close_sent", None), bool)
        and isinstance(getattr(connection, "disconnected", None), bool)
        and getattr(connection, "handshake_complete", False) is True
    )
    return DirectWriter(connection, idle) if understood else None


class Frames:
    """Frames built on demand and at most once per text (one event, many sockets)."""

    def __init__(self) -> None:
        self._built: dict[str, bytes] = {}

    def of(self, text: str) -> bytes:
        frame = self._built.get(text)
        if frame is None:
            frame = self._built[text] = text_frame(text)
        return frame


class Mailbox:
    """A bounded FIFO of JSON texts that never waits: the socket's drain task empties it.

    Most sockets are idle and most events are written directly, so the deque exists only while
    something is queued (even an empty deque holds a 64-slot block: ~0.7 KiB per socket)."""

    __slots__ = ("_items", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[str] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items is not None else 0

    def empty(self) -> bool:
        return self._items is None

    def put_nowait(self, text: str) -> None:
        if self._items is None:
            self._items = deque()
        elif len(self._items) >= self.maxsize:
            raise asyncio.QueueFull
        self._items.append(text)

    def get_nowait(self) -> str:
        if self._items is None:
            raise asyncio.QueueEmpty
        text = self._items.popleft()
        if not self._items:
            self._items = None
        return text


@dataclass(eq=False, slots=True)
class Listener:
    """One open socket: who it is, what it may watch, and its bounded mailbox of JSON text.

    `direct`, when the server allows it, writes a ready frame to the socket at once and says
    whether it did (False: busy, paused or closing; the mailbox takes the event instead).
    `wake` is called whenever the mailbox got something, so the socket's side drains it.
    `quiet` is cleared by every offer and set by every heartbeat: a socket still quiet at the
    next heartbeat heard nothing for a whole period and is pinged."""

    user_id: str
    school: str | None
    pools: frozenset[tuple[str, str]]
    queue: Mailbox
    resyncs: int = 0
    direct: Callable[[bytes], bool] | None = None
    wake: Callable[[], None] | None = None
    quiet: bool = False

    def update(self, pools: Iterable[tuple[uuid.UUID, str]], school: str | None) -> None:
        """Replace the (credential, pool) feeds and school, e.g. after a `refresh`."""
        self.pools = frozenset((str(credential), pool) for credential, pool in pools)
        self.school = school.lower() if school else None

    def offer(self, text: str, frames: Frames | None = None) -> None:
        """Write at once when the socket is idle, else queue without waiting. When the queue is
        full, drop what is queued and ask for a resync instead: the phone refetches from
        PostgreSQL, and a slow phone never costs unbounded memory."""
        self.quiet = False
        # Only with nothing queued: a direct write must never overtake an earlier event.
        if self.direct is not None and frames is not None and self.queue.empty():
            if self.direct(frames.of(text)):
                return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)
            self.resyncs += 1
        if self.wake is not None:
            self.wake()


@dataclass(frozen=True)
class FeedEvent:
    """A parsed `feed` message: what phones see, and the audience rules they never see."""

    kind: str
    credential_id: str
    pool: str
    public: str
    earner_id: str | None = None
    excluded: frozenset[str] = field(default_factory=frozenset)
    earner_school: str | None = None
    exclude_same_school: bool = False

    def reaches(self, listener: Listener) -> bool:
        """The per-task half of eligibility (access.eligible_tasks has the same rules)."""
        if (self.credential_id, self.pool) not in listener.pools:
            return False
        if listener.user_id == self.earner_id:
            return False
        if listener.user_id in self.excluded:
            return False
        return not (
            self.exclude_same_school
            and self.earner_school is not None
            and listener.school == self.earner_school
        )


def parse_feed(raw: str) -> FeedEvent | None:
    """A FeedEvent, or None when the message is malformed: an audience we cannot read
    reaches nobody (fail closed)."""
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    kind, task_id = message.get("type"), message.get("task_id")
    credential_id, pool = message.get("credential_id"), message.get("pool")
    data, audience = message.get("data", {}), message.get("audience", {})
    if not (
        isinstance(kind, str)
        and isinstance(task_id, str)
        and isinstance(credential_id, str)
        and isinstance(pool, str)
    ):
        return None
    if kind in CONTROL_TYPES or not isinstance(data, dict) or not isinstance(audience, dict):
        return None
    earner_id = audience.get("earner_id")
    excluded = audience.get("excluded_reviewer_ids", [])
    school = audience.get("earner_school")
    same_school = audience.get("exclude_same_school", False)
    if earner_id is not None and not isinstance(earner_id, str):
        return None
    if not isinstance(excluded, list) or not all(isinstance(item, str) for item in excluded):
        return None
    if (school is not None and not isinstance(school, str)) or not isinstance(same_school, bool):
        return None
    public = {
        "type": kind,
        "task_id": task_id,
        "credential_id": credential_id,
        "pool": pool,
        "data": data,
    }
    return FeedEvent(
        kind=kind,
        credential_id=credential_id,
        pool=pool,
        public=json.dumps(public),
        earner_id=earner_id,
        excluded=frozenset(excluded),
        earner_school=school.lower() if school else None,
        exclude_same_school=same_school,
    )


class Hub:
    """The process's one subscriber. `start()` runs it; it reconnects by itself, with backoff,
    and every (re)subscription tells every socket to resync, since events may have been missed.
    It also keeps the sockets' heartbeat: one timer for all of them, not one per socket.
    """

    def __init__(
        self,
        redis: Redis,
        feed_channel: str,
        user_channel: str,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        queue_size: int = QUEUE_SIZE,
        idle_seconds: float = REDIS_IDLE_SECONDS,
    ) -> None:
        self.heartbeat = heartbeat
        self.queue_size = queue_size
        self.subscribed = asyncio.Event()
        self.subscriptions = 0
        self._redis = redis
        self._feed, self._user = feed_channel, user_channel
        self._channels = (feed_channel, user_channel)
        self._idle = idle_seconds
        self._listeners: set[Listener] = set()
        # Usually one socket per person: a list of one is a quarter of an empty set's size.
        self._by_user: dict[str, list[Listener]] = {}
        # Reviewers of the same pools share one frozenset; rebuilt at each heartbeat, so sets
        # nobody holds any more are let go.
        self._pool_sets: dict[frozenset[tuple[str, str]], frozenset[tuple[str, str]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._failures = 0  # since the last subscription: the backoff exponent

    # -- sockets ---------------------------------------------------------------------------

    def attach(
        self, user_id: uuid.UUID, school: str | None, pools: Iterable[tuple[uuid.UUID, str]]
    ) -> Listener:
        """Register a socket before telling it `hello`, so nothing falls between the two."""
        listener = Listener(
            user_id=str(user_id), school=None, pools=frozenset(), queue=Mailbox(self.queue_size)
        )
        self.update(listener, pools, school)
        self._listeners.add(listener)
        self._by_user.setdefault(listener.user_id, []).append(listener)
        return listener

    def update(
        self, listener: Listener, pools: Iterable[tuple[uuid.UUID, str]], school: str | None
    ) -> None:
        """Replace a socket's feeds and school (Listener.update), sharing equal pool sets."""
        listener.update(pools, school)
        listener.pools = self._pool_sets.setdefault(listener.pools, listener.pools)

    def detach(self, listener: Listener) -> None:
        self._listeners.discard(listener)
        mine = self._by_user.get(listener.user_id)
        if mine is not None:
            with contextlib.suppress(ValueError):
                mine.remove(listener)
            if not mine:
                del self._by_user[listener.user_id]

    def listeners_of(self, user_id: uuid.UUID | str) -> list[Listener]:
        return list(self._by_user.get(str(user_id), ()))

    @property
    def connections(self) -> int:
        return len(self._listeners)

    def beat(self) -> None:
        """One heartbeat: ping each socket that heard nothing since the last one, so phones
        notice a dead connection and proxies keep an idle one open (a socket is pinged after
        between one and two periods of silence)."""
        frames = Frames()
        for listener in self._listeners:
            if listener.quiet:
                listener.offer(PING, frames)
            listener.quiet = True
        self._pool_sets = {listener.pools: listener.pools for listener in self._listeners}

    # -- fan-out ---------------------------------------------------------------------------

    def deliver(self, channel: str, raw: str) -> None:
        """Fan one pub/sub message out to the mailboxes it is for."""
        if channel == self._feed:
            events.feed_changed()  # pages drawn from the old feed are stale now
            event = parse_feed(raw)
            if event is None:
                log.warning("dropped a malformed feed event: %.200s", raw)
                return
            # One pass over this process's sockets: a set-membership test each, cheap next to
            # the JSON and the frame, made once per event, not once per socket.
            frames = Frames()
            for listener in self._listeners:
                if event.reaches(listener):
                    listener.offer(event.public, frames)
        elif channel == self._user:
            self._deliver_notification(raw)

    def _deliver_notification(self, raw: str) -> None:
        try:
            message = json.loads(raw)
            user_id, notification = message["user_id"], message["notification"]
        except (ValueError, TypeError, KeyError):
            log.warning("dropped a malformed user event: %.200s", raw)
            return
        if not isinstance(user_id, str) or not isinstance(notification, dict):
            log.warning("dropped a malformed user event: %.200s", raw)
            return
        mine = self._by_user.get(user_id)
        if mine:
            text = json.dumps({"type": "notification", "notification": notification})
            frames = Frames()
            for listener in mine:
                listener.offer(text, frames)

    def broadcast(self, text: str) -> None:
        frames = Frames()
        for listener in self._listeners:
            listener.offer(text, frames)

    # -- the subscription ------------------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name="live-hub"),
                asyncio.create_task(self._beat(), name="live-heartbeat"),
            ]

    async def stop(self) -> None:
        """Stop listening and close the hub's Redis client; open sockets simply go quiet."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._redis.aclose()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            self.beat()

    async def _run(self) -> None:
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(*self._channels)
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Any failure, not only Redis's: a hub that dies leaves every phone silent.
                log.warning("live hub lost Redis (%s: %s); reconnecting", type(exc).__name__, exc)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** min(self._failures, 10))
            self._failures += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311  (jitter)

    async def _listen(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged_at: float | None = None
        while True:
            message = await pubsub.get_message(timeout=min(_POLL_SECONDS, self._idle / 2))
            now = loop.time()
            if message is None:
                if pinged_at is None and now - heard > self._idle:
                    await pubsub.ping()
                    pinged_at = now
                elif pinged_at is not None and now - pinged_at > self._idle:
                    raise RedisConnectionError("Redis did not answer the hub's PING")
                continue
            heard, pinged_at = now, None
            kind = message["type"]
            if kind == "message":
                self.deliver(message["channel"], message["data"])
            elif kind == "subscribe" and message["data"] == len(self._channels):
                # Every channel confirmed (first start, our reconnect, or redis-py's own
                # silent resubscribe): events may have been missed meanwhile.
                self._on_subscribed()

    def _on_subscribed(self) -> None:
        self.subscriptions += 1
        self._failures = 0
        self.subscribed.set()
        self.broadcast(RESYNC)


def _client_name(prefix: str) -> str:
    # Shown by CLIENT LIST, so operators (and tests) can find this connection.
    return "".join(ch if ch.isalnum() or ch in ":-_." else "_" for ch in prefix) + "live-hub"


async def start_hub(runtime: Runtime, **options: Any) -> Hub:
    """Start this process's hub on a Redis client of its own (a subscribed connection can do
    nothing else). `options` go to Hub (heartbeat, queue_size, idle_seconds)."""
    # TCP keepalive helps notice a dead Redis; a unix socket (the embedded Redis) has no such
    # option, and redis-py refuses it there.
    tcp = not runtime.urls.redis.startswith("unix://")
    redis = Redis.from_url(
        runtime.urls.redis,
        decode_responses=True,
        client_name=_client_name(runtime.settings.redis_prefix),
        **({"socket_keepalive": True} if tcp else {}),
    )
    hub = Hub(
        redis,
        events.feed_channel(runtime.settings),
        events.user_channel(runtime.settings),
        **options,
    )
    hub.start()
    return hub
