"""The live websocket through a real uvicorn server, real PostgreSQL and real Redis pub/sub.

Absence is asserted by order, never by waiting: after an event that must not reach a socket,
a marker that must reach it is published on the same Redis connection; Redis delivers in
publish order and the hub keeps it, so a socket whose next event is the marker never got the
first one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app import events
from app import live as live_hub
from app.actions import accounts, catalog
from app.main import create_app
from app.models import Credential, Organisation, Role, User
from app.runtime import Runtime, Urls
from app.settings import Settings
from app.specs import CredentialSpec, OrganisationSpec
from app.views import live as live_view
from tests.helpers import PASSWORD, log_in

HEARTBEAT = 1.0  # short, so the heartbeat test is quick; helpers skip pings
QUEUE_SIZE = 16
WAIT = 5.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    app: Starlette
    hub: live_hub.Hub
    http: str
    ws: str
    origin: str


@contextlib.asynccontextmanager
async def running(settings: Settings, services: Urls, **config: Any) -> AsyncIterator[Server]:
    """The app with /ws and a hub wired in its lifespan, served by uvicorn on a free port
    (`config`: more uvicorn options)."""
    app = create_app(
        settings,
        Urls(database=services.database, redis=services.redis),
        hub_options={"heartbeat": HEARTBEAT, "queue_size": QUEUE_SIZE},
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = {"lifespan": "on", "log_config": None, "timeout_graceful_shutdown": 3, **config}
    uvi = uvicorn.Server(uvicorn.Config(app, **options))
    task = asyncio.create_task(uvi.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(15):
            while not uvi.started:
                assert not task.done(), "uvicorn stopped while starting"
                await asyncio.sleep(0.02)
            await app.state.hub.subscribed.wait()
        yield Server(
            app=app,
            hub=app.state.hub,
            http=f"http://127.0.0.1:{port}",
            ws=f"ws://127.0.0.1:{port}/ws",
            origin=settings.base_url,
        )
    finally:
        uvi.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


@pytest.fixture
async def server(settings: Settings, services: Urls, runtime: Runtime) -> AsyncIterator[Server]:
    async with running(settings, services) as served:
        yield served


# -- data and phones -------------------------------------------------------------------------


@dataclass
class World:
    ipa: Organisation
    ctq: Organisation
    credential: Credential


async def make_world(runtime: Runtime) -> World:
    async with runtime.sessions() as session:
        ipa = await catalog.ensure_organisation(
            session,
            OrganisationSpec(slug="ipa", name="Illinois Principals Association"),
            secret_key=runtime.settings.secret_key,
        )
        ctq = await catalog.ensure_organisation(
            session,
            OrganisationSpec(slug="ctq", name="Center for Teaching Quality"),
            secret_key=runtime.settings.secret_key,
        )
        credential = await catalog.create_credential(
            session, CredentialSpec(slug="data-literacy", organisation="ipa", title="Data Literacy")
        )
    return World(ipa=ipa, ctq=ctq, credential=credential)


async def person(
    runtime: Runtime,
    email: str,
    memberships: list[tuple[Organisation, Role]] | None = None,
    school: str | None = None,
) -> tuple[User, str]:
    """A user and a fresh API token of theirs."""
    async with runtime.sessions() as session:
        user = await accounts.create_user(
            session,
            email=email,
            name=email.split("@")[0].title(),
            password=PASSWORD,
            school=school,
            memberships=memberships,
        )
        _, token = await accounts.create_api_token(session, user, "phone")
    return user, token


def phone(
    server: Server,
    token: str | None = None,
    *,
    origin: str | None = None,
    cookie: str | None = None,
    query: str = "",
    max_queue: int = 16,
) -> Any:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if cookie is not None:
        headers["Cookie"] = f"mcx_session={cookie}"
    return connect(
        server.ws + query,
        origin=origin,  # type: ignore[arg-type]
        additional_headers=headers,
        max_queue=max_queue,
        open_timeout=WAIT,
    )


async def next_event(ws: ClientConnection, *, within: float = WAIT) -> dict[str, Any]:
    """The next message that is not a heartbeat, within a bounded wait."""
    async with asyncio.timeout(within):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] != "ping":
                return message


async def hello(ws: ClientConnection) -> dict[str, Any]:
    message = await next_event(ws)
    assert message["type"] == "hello", message
    return message


async def refusal(ws: ClientConnection) -> tuple[dict[str, Any], int]:
    """The error a refused socket is told, and its close code."""
    message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), WAIT)
    assert closed.value.rcvd is not None
    return message, closed.value.rcvd.code


async def publish_task(
    runtime: Runtime,
    credential: Credential,
    pool: str = "peer",
    audience: dict[str, Any] | None = None,
) -> uuid.UUID:
    task_id = uuid.uuid4()
    await events.publish_feed(
        runtime.redis,
        runtime.settings,
        "task_opened",
        task_id=task_id,
        credential_id=credential.id,
        pool=pool,
        audience=audience,
        data={"title": credential.title},
    )
    return task_id


async def mark(runtime: Runtime, user: User) -> int:
    notification = await events.notify(
        runtime.engine, runtime.redis, runtime.settings, user.id, "marker", {}
    )
    assert notification.id is not None
    return notification.id


async def next_is_marker(ws: ClientConnection, marker_id: int) -> None:
    message = await next_event(ws)
    assert message["type"] == "notification", message
    assert message["notification"]["id"] == marker_id


# -- the handshake ---------------------------------------------------------------------------


async def test_unauthenticated_sockets_are_refused_with_4401(
    server: Server, runtime: Runtime
) -> None:
    async with phone(server, origin=server.origin) as ws:
        message, code = await refusal(ws)
    assert code == 4401
    assert message["type"] == "error" and message["error"] == "unauthenticated"
    async with phone(server, "mcx_not-a-real-token") as ws:
        assert (await refusal(ws))[1] == 4401


async def test_foreign_or_missing_origin_is_refused_with_4403(
    server: Server, runtime: Runtime
) -> None:
    user, token = await person(runtime, "ada@school.example")
    async with httpx.AsyncClient(base_url=server.http) as http:
        assert (await log_in(http, user.email)).status_code == 303
        cookie = http.cookies["mcx_session"]
    # The cookie alone works from MCX's own origin ...
    async with phone(server, origin=server.origin, cookie=cookie) as ws:
        assert (await hello(ws))["user_id"] == str(user.id)
    # ... but not from another site, nor with the port or scheme changed, nor without Origin.
    for origin in ("https://evil.example", server.origin.replace("8000", "8001"), "null", None):
        async with phone(server, origin=origin, cookie=cookie) as ws:
            message, code = await refusal(ws)
        assert code == 4403, origin
        assert message["error"] == "forbidden_origin"
    # A token does not make a foreign page acceptable either.
    async with phone(server, token, origin="https://evil.example") as ws:
        assert (await refusal(ws))[1] == 4403


async def test_token_authenticates_by_header_or_query(server: Server, runtime: Runtime) -> None:
    user, token = await person(runtime, "ada@school.example")
    note = await mark(runtime, user)
    async with phone(server, token) as ws:
        greeting = await hello(ws)
    assert greeting == {"type": "hello", "user_id": str(user.id), "last_notification_id": note}
    async with phone(server, query=f"?token={token}", origin=server.origin) as ws:
        assert (await hello(ws))["user_id"] == str(user.id)


# -- fan-out ---------------------------------------------------------------------------------


async def test_feed_event_reaches_only_eligible_reviewers(server: Server, runtime: Runtime) -> None:
    world = await make_world(runtime)
    reviewer, reviewer_token = await person(
        runtime, "rita@school.example", [(world.ipa, Role.reviewer)], school="Washington Middle"
    )
    people = {
        "outsider": await person(runtime, "otto@school.example", [(world.ctq, Role.reviewer)]),
        "earner": await person(runtime, "erin@school.example", [(world.ipa, Role.reviewer)]),
        "excluded": await person(runtime, "xavi@school.example", [(world.ipa, Role.reviewer)]),
        "same_school": await person(
            runtime, "sam@school.example", [(world.ipa, Role.reviewer)], school="LINCOLN High"
        ),
        "expert_only": await person(runtime, "eve@school.example", [(world.ipa, Role.expert)]),
    }
    audience = {
        "earner_id": str(people["earner"][0].id),
        "excluded_reviewer_ids": [str(people["excluded"][0].id)],
        "earner_school": "lincoln high",
        "exclude_same_school": True,
    }
    async with contextlib.AsyncExitStack() as stack:
        rita = await stack.enter_async_context(phone(server, reviewer_token))
        others = {
            name: await stack.enter_async_context(phone(server, token))
            for name, (_, token) in people.items()
        }
        for ws in [rita, *others.values()]:
            await hello(ws)

        task_id = await publish_task(runtime, world.credential, audience=audience)
        event = await next_event(rita)
        assert event == {
            "type": "task_opened",
            "task_id": str(task_id),
            "credential_id": str(world.credential.id),
            "pool": "peer",
            "data": {"title": "Data Literacy"},
        }  # no audience: who is excluded is not the phones' business
        markers = {name: await mark(runtime, people[name][0]) for name in others}
        for name, ws in others.items():
            await next_is_marker(ws, markers[name])

        # The expert pool is for experts; the same school is fine when the credential allows.
        await publish_task(runtime, world.credential, pool="expert")
        await publish_task(
            runtime, world.credential, audience={**audience, "exclude_same_school": False}
        )
        assert (await next_event(others["expert_only"]))["pool"] == "expert"
        assert (await next_event(others["same_school"]))["pool"] == "peer"
        assert (await next_event(rita))["pool"] == "peer"


async def test_malformed_feed_audience_reaches_nobody(server: Server, runtime: Runtime) -> None:
    world = await make_world(runtime)
    reviewer, token = await person(runtime, "rita@school.example", [(world.ipa, Role.reviewer)])
    async with phone(server, token) as ws:
        await hello(ws)
        await publish_task(
            runtime, world.credential, audience={"excluded_reviewer_ids": "everyone"}
        )
        await runtime.redis.publish(events.feed_channel(runtime.settings), "{not json")
        await next_is_marker(ws, await mark(runtime, reviewer))


async def test_notification_reaches_only_its_user(server: Server, runtime: Runtime) -> None:
    ada, ada_token = await person(runtime, "ada@school.example")
    bob, bob_token = await person(runtime, "bob@school.example")
    async with phone(server, ada_token) as ada_ws, phone(server, bob_token) as bob_ws:
        await hello(ada_ws)
        await hello(bob_ws)
        note = await events.notify(
            runtime.engine, runtime.redis, runtime.settings, ada.id, "review_done", {"score": 3}
        )
        message = await next_event(ada_ws)
        assert message["type"] == "notification"
        assert message["notification"] == events.notification_json(note)
        await next_is_marker(bob_ws, await mark(runtime, bob))


async def test_refresh_picks_up_new_pools_and_rechecks_the_session(
    server: Server, runtime: Runtime
) -> None:
    world = await make_world(runtime)
    reviewer, _ = await person(runtime, "rita@school.example", [(world.ipa, Role.reviewer)])
    async with httpx.AsyncClient(base_url=server.http) as http:
        await log_in(http, reviewer.email)
        cookie = http.cookies["mcx_session"]
    async with phone(server, origin=server.origin, cookie=cookie) as ws:
        await hello(ws)
        async with runtime.sessions() as session:
            later = await catalog.create_credential(
                session, CredentialSpec(slug="coaching", organisation="ipa", title="Coaching")
            )
        await publish_task(runtime, later)  # pools were computed at connect
        await next_is_marker(ws, await mark(runtime, reviewer))
        await ws.send(json.dumps({"type": "refresh"}))
        assert (await next_event(ws))["type"] == "refreshed"
        task_id = await publish_task(runtime, later)
        assert (await next_event(ws))["task_id"] == str(task_id)

        async with runtime.sessions() as session:
            await accounts.log_out_everywhere(session, reviewer)
        await ws.send(json.dumps({"type": "refresh"}))
        message, code = await refusal(ws)
    assert code == 4401 and message["error"] == "unauthenticated"


# -- client messages -------------------------------------------------------------------------


async def test_resume_returns_exactly_the_missed_notifications(
    server: Server, runtime: Runtime
) -> None:
    ada, token = await person(runtime, "ada@school.example")
    bob, _ = await person(runtime, "bob@school.example")
    seen = await mark(runtime, ada)
    await mark(runtime, bob)
    missed = [await mark(runtime, ada) for _ in range(3)]
    async with phone(server, token) as ws:
        assert (await hello(ws))["last_notification_id"] == missed[-1]
        await ws.send(json.dumps({"type": "resume", "after": seen}))
        got = [(await next_event(ws))["notification"]["id"] for _ in missed]
        done = await next_event(ws)
        assert got == missed
        assert done == {"type": "resume_done", "last_id": missed[-1], "more": False}
        await ws.send(json.dumps({"type": "resume", "after": missed[-1]}))
        assert await next_event(ws) == {"type": "resume_done", "last_id": missed[-1], "more": False}


async def test_resume_pages_by_500(server: Server, runtime: Runtime) -> None:
    ada, token = await person(runtime, "ada@school.example")
    ids = [await mark(runtime, ada) for _ in range(live_view.RESUME_LIMIT + 2)]
    async with phone(server, token) as ws:
        await hello(ws)
        await ws.send(json.dumps({"type": "resume", "after": 0}))
        for expected in ids[: live_view.RESUME_LIMIT]:
            assert (await next_event(ws))["notification"]["id"] == expected
        last = ids[live_view.RESUME_LIMIT - 1]
        assert await next_event(ws) == {"type": "resume_done", "last_id": last, "more": True}
        await ws.send(json.dumps({"type": "resume", "after": last}))
        assert [(await next_event(ws))["notification"]["id"] for _ in range(2)] == ids[-2:]
        assert (await next_event(ws))["more"] is False


BAD_MESSAGES: list[str | bytes] = [
    "not json",
    "[1, 2]",
    '"resume"',
    "{}",
    '{"type": "nope"}',
    '{"type": 7}',
    '{"type": "resume"}',
    '{"type": "resume", "after": -1}',
    '{"type": "resume", "after": "5"}',
    '{"type": "resume", "after": true}',
    '{"type": "resume", "after": 1.5}',
    '{"type": "resume", "after": 99999999999999999999}',
    '{"type": "ping", "extra": 1}',
    json.dumps({"type": "ping", "pad": "x" * live_view.MAX_MESSAGE_BYTES}),
    "[" * 3000,
    b'{"type": "ping"}',
]


async def test_malformed_messages_get_bad_message_and_the_socket_stays_usable(
    server: Server, runtime: Runtime
) -> None:
    ada, token = await person(runtime, "ada@school.example")
    async with phone(server, token) as ws:
        await hello(ws)
        for bad in BAD_MESSAGES:
            await ws.send(bad)
            reply = await next_event(ws)
            assert reply["type"] == "error" and reply["error"] == "bad_message", bad
            assert reply["detail"]
        await ws.send(json.dumps({"type": "ping"}))
        assert await next_event(ws) == {"type": "pong"}
        # A good message resets the count; 20 bad ones in a row close the socket.
        for _ in range(live_view.MAX_BAD_IN_A_ROW - 1):
            await ws.send("nope")
            assert (await next_event(ws))["error"] == "bad_message"
        await ws.send("nope")
        message, code = await refusal(ws)
    assert code == 1008 and message["error"] == "bad_message"


async def test_database_backed_requests_are_rate_limited(server: Server, runtime: Runtime) -> None:
    _, token = await person(runtime, "ada@school.example")
    async with phone(server, token) as ws:
        await hello(ws)
        sent = live_view.REQUEST_BURST + 5
        for _ in range(sent):
            await ws.send(json.dumps({"type": "resume", "after": 0}))
        replies = [(await next_event(ws)).get("error", "resume_done") for _ in range(sent)]
        assert replies.count("rate_limited") >= 1
        assert replies.count("resume_done") >= live_view.REQUEST_BURST
        await ws.send(json.dumps({"type": "ping"}))  # cheap requests are not counted
        assert await next_event(ws) == {"type": "pong"}


async def test_idle_sockets_get_heartbeats(server: Server, runtime: Runtime) -> None:
    _, token = await person(runtime, "ada@school.example")
    async with phone(server, token) as ws:
        await hello(ws)
        message = json.loads(await asyncio.wait_for(ws.recv(), HEARTBEAT * 5))
    assert message == {"type": "ping"}


# -- pressure and failure --------------------------------------------------------------------


async def test_a_slow_phone_gets_resync_instead_of_unbounded_memory(
    server: Server, runtime: Runtime
) -> None:
    world = await make_world(runtime)
    reviewer, token = await person(runtime, "rita@school.example", [(world.ipa, Role.reviewer)])
    async with phone(server, token, max_queue=1) as ws:
        await hello(ws)
        (listener,) = server.hub.listeners_of(reviewer.id)
        published = 0
        # Not reading: the socket buffers fill, the writer blocks, and the mailbox overflows.
        async with asyncio.timeout(60):
            while listener.resyncs == 0:
                assert published < 5000, "the mailbox never overflowed"
                for _ in range(25):
                    await events.publish_feed(
                        runtime.redis,
                        runtime.settings,
                        "task_opened",
                        task_id=uuid.uuid4(),
                        credential_id=world.credential.id,
                        pool="peer",
                        # Incompressible: permessage-deflate would shrink "xxxx..." to nothing.
                        data={"pad": base64.b64encode(os.urandom(12_000)).decode()},
                    )
                    published += 1
                await asyncio.sleep(0.01)  # let the hub fan out (polling, not a speed assertion)
        assert listener.queue.qsize() <= QUEUE_SIZE
        received = 0
        async with asyncio.timeout(30):
            while (await next_event(ws))["type"] != "resync":
                received += 1
        assert received < published
        task_id = await publish_task(runtime, world.credential)
        async with asyncio.timeout(30):
            while (await next_event(ws)).get("task_id") != str(task_id):
                pass


def test_a_full_mailbox_is_replaced_by_one_resync() -> None:
    listener = live_hub.Listener("u", None, frozenset(), asyncio.Queue(maxsize=3))
    for n in range(5):
        listener.offer(str(n))
    assert [listener.queue.get_nowait() for _ in range(listener.queue.qsize())] == [
        live_hub.RESYNC,
        "4",
    ]
    assert listener.resyncs == 1


async def test_hub_resubscribes_after_losing_redis_and_says_resync(
    server: Server, runtime: Runtime
) -> None:
    world = await make_world(runtime)
    reviewer, token = await person(runtime, "rita@school.example", [(world.ipa, Role.reviewer)])
    name = live_hub._client_name(runtime.settings.redis_prefix)
    async with phone(server, token) as ws:
        await hello(ws)
        (hub_conn,) = [
            c for c in await runtime.redis.client_list(_type="pubsub") if c["name"] == name
        ]
        # Only this hub's connection: other test runs may share the Redis server.
        await runtime.redis.client_kill_filter(_id=hub_conn["id"])
        assert await next_event(ws, within=15) == {"type": "resync"}
        assert server.hub.subscriptions == 2
        task_id = await publish_task(runtime, world.credential)
        assert (await next_event(ws))["task_id"] == str(task_id)


async def test_an_idle_hub_keeps_its_subscription_alive_with_pings(runtime: Runtime) -> None:
    hub = await live_hub.start_hub(runtime, idle_seconds=0.2)
    try:
        await asyncio.wait_for(hub.subscribed.wait(), WAIT)
        # Quiet for many idle periods: each PING is answered, so the hub never reconnects.
        await asyncio.sleep(1.5)
        assert hub.subscribed.is_set() and hub.subscriptions == 1
    finally:
        await hub.stop()


# -- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "via_token", "allowed"),
    [
        ("http://127.0.0.1:8000", False, True),
        ("HTTP://127.0.0.1:8000", False, True),
        ("http://127.0.0.1:8001", False, False),
        ("https://127.0.0.1:8000", False, False),
        ("http://127.0.0.1:8000.evil.example", False, False),
        ("null", False, False),
        ("http://127.0.0.1:notaport", True, False),
        (None, False, False),
        (None, True, True),
    ],
)
def test_origin_rules(origin: str | None, via_token: bool, allowed: bool) -> None:
    assert live_view.origin_allowed(origin, "http://127.0.0.1:8000", via_token=via_token) is allowed


def test_default_ports_are_the_same_origin() -> None:
    assert live_view.origin_of("https://mcx.example:443/") == "https://mcx.example"
    assert live_view.origin_of("http://[::1]:8000") == "http://[::1]:8000"


# -- static/live.js, run by Node against the real server --------------------------------------

NODE_SCRIPT = """
import { connectLive } from '%(module)s';
const store = new Map();
globalThis.localStorage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
};
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
let live;
const start = () => {
  live = connectLive({ url: process.argv[2], onEvent: (m) => say({ event: m }),
                       onStatus: (s) => say({ status: s }) });
};
start();
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  for (const line of chunk.split('\\n').filter(Boolean)) {
    if (line === 'close') { live.close(); say({ closed: true }); }
    if (line === 'open') start();
    if (line === 'exit') process.exit(0);
  }
});
"""


def node_websocket_flags() -> list[str] | None:
    """Node's flags for a global WebSocket (built in from Node 22, a flag on 20), or None."""
    if shutil.which("node") is None:
        return None
    probe = "process.exit(typeof WebSocket === 'function' ? 0 : 1)"
    for flags in ([], ["--experimental-websocket"]):
        if subprocess.run(["node", *flags, "-e", probe], capture_output=True).returncode == 0:
            return flags
    return None


async def test_live_js_resumes_what_it_missed(
    server: Server, runtime: Runtime, tmp_path: Path
) -> None:
    flags = await asyncio.to_thread(node_websocket_flags)
    if flags is None:
        pytest.skip("needs Node with a WebSocket global to run static/live.js")
    ada, token = await person(runtime, "ada@school.example")
    script = tmp_path / "drive.mjs"
    script.write_text(NODE_SCRIPT % {"module": (ROOT / "static" / "live.js").as_uri()})
    node = await asyncio.create_subprocess_exec(
        "node",
        *flags,
        "--no-warnings",
        str(script),
        f"{server.ws}?token={token}",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert node.stdin is not None and node.stdout is not None

    async def said(predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        assert node.stdout is not None
        async with asyncio.timeout(WAIT * 2):
            while not predicate(line := json.loads(await node.stdout.readline())):
                pass
        return line

    try:
        await said(lambda line: line.get("status") == "online")
        first = await mark(runtime, ada)
        got = await said(lambda line: "event" in line)
        assert got["event"]["notification"]["id"] == first
        node.stdin.write(b"close\n")
        await said(lambda line: line.get("closed") is True)
        missed = [await mark(runtime, ada) for _ in range(2)]
        node.stdin.write(b"open\n")  # a new connection, same localStorage: resumes after `first`
        ids = [(await said(lambda line: "event" in line))["event"]["notification"]["id"]]
        ids.append((await said(lambda line: "event" in line))["event"]["notification"]["id"])
        assert ids == missed
    finally:
        with contextlib.suppress(ProcessLookupError):
            node.kill()
        await node.wait()
