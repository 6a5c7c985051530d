"""Sessions end on the server: log-out here (a copied cookie stops working too), log-out
everywhere with or without the personal API tokens, and how soon other processes agree."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import func, select

from app import auth
from app.actions import accounts
from app.main import create_app
from app.models import ApiToken, AuditEntry, CookieSession, User
from app.runtime import Runtime, Urls, open_runtime
from tests.conftest import _reset
from tests.factories import auth as bearer
from tests.helpers import csrf_from, log_in, make_user
from tests.served import mcx_serve
from tests.test_live import Server, phone, refusal, server  # noqa: F401  (server: a fixture)

EMAIL = "ada@school.example"


@pytest.fixture
async def other(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser on the same app (a phone, or whoever copied the cookie)."""
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver", follow_redirects=False
    ) as http:
        yield http


def _copy(cookie: str) -> dict[str, str]:
    return {"Cookie": f"mcx_session={cookie}"}


async def _sessions(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return (await session.exec(select(func.count()).select_from(CookieSession))).one()


async def _tokens(runtime: Runtime, user: User) -> list[str]:
    made = []
    async with runtime.sessions() as session:
        for name in ("export script", "phone app"):
            _, token = await accounts.create_api_token(session, user, name)
            made.append(token)
    return made


async def _flash(client: httpx.AsyncClient, response: httpx.Response) -> str:
    """The message the log-in page shows once after a log-out everywhere."""
    assert response.status_code == 303 and response.headers["location"] == "/login"
    page = await client.get("/login")
    flash = page.text.split('data-testid="login-flash">')[1].split("</p>")[0]
    again = await client.get("/login")
    assert 'data-testid="login-flash"' not in again.text  # shown once
    return flash


async def test_log_out_ends_the_session_for_every_copy_of_its_cookie(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_user(runtime, EMAIL, name="Ada Lovelace")
    await log_in(client, EMAIL)
    copied = client.cookies["mcx_session"]
    assert (await other.get("/api/v1/me", headers=_copy(copied))).status_code == 200

    csrf = await csrf_from(client, "/")  # the menu's "Log out"
    assert (await client.post("/logout", data={"csrf_token": csrf})).status_code == 303

    # The copy gets the logged-out treatment at once (the same process made the change).
    api = await other.get("/api/v1/me", headers=_copy(copied))
    assert api.status_code == 401 and api.json()["error"] == "unauthenticated"
    page = await other.get("/account/security", headers=_copy(copied))
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/account/security"
    review = await other.get("/review", headers=_copy(copied))
    assert review.status_code == 303 and review.headers["location"].startswith("/login")
    assert "Ada Lovelace" not in (await other.get("/", headers=_copy(copied))).text
    assert await _sessions(runtime) == 0
    # Still refused once nothing is cached: PostgreSQL holds the answer, not this process.
    auth.forget()
    assert (await other.get("/api/v1/me", headers=_copy(copied))).status_code == 401

    # Logging in again opens a new session; the old copy stays out.
    await log_in(client, EMAIL)
    assert (await client.get("/api/v1/me")).status_code == 200
    assert (await other.get("/api/v1/me", headers=_copy(copied))).status_code == 401


async def test_log_out_here_leaves_my_other_sessions_signed_in(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_user(runtime, EMAIL)
    await log_in(client, EMAIL)
    await log_in(other, EMAIL)
    page = await client.get("/account/security")
    assert "Signed-in sessions: 2 (this one included)" in page.text
    csrf = await csrf_from(client, "/account/security")
    await client.post("/logout", data={"csrf_token": csrf})
    assert (await client.get("/api/v1/me")).status_code == 401
    assert (await other.get("/api/v1/me")).status_code == 200
    assert (
        "Signed-in sessions: 1 (this one included)" in (await other.get("/account/security")).text
    )


async def test_a_logged_out_cookie_cannot_open_a_websocket(
    server: Server,  # noqa: F811 (the fixture imported above)
    runtime: Runtime,
) -> None:
    user = await make_user(runtime, EMAIL)
    async with httpx.AsyncClient(base_url=server.http) as http:
        await log_in(http, user.email)
        copied = http.cookies["mcx_session"]
        async with phone(server, origin=server.origin, cookie=copied) as ws:
            assert (await asyncio.wait_for(ws.recv(), 5)) is not None  # hello: it was let in
        csrf = await csrf_from(http, "/")
        assert (await http.post("/logout", data={"csrf_token": csrf})).status_code == 303
    async with phone(server, origin=server.origin, cookie=copied) as ws:
        message, code = await refusal(ws)
    assert code == 4401 and message["error"] == "unauthenticated"


@pytest.fixture
async def two_sessions(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime
) -> list[str]:
    """EMAIL signed in on both browsers, with two personal API tokens, each used once (so it
    is cached in this process and in Redis, the fast lane's look-up included); the tokens."""
    user = await make_user(runtime, EMAIL)
    tokens = await _tokens(runtime, user)
    await log_in(client, EMAIL)
    await log_in(other, EMAIL)
    for token in tokens:
        assert (await other.get("/api/v1/me", headers=bearer(token))).status_code == 200
    assert (await other.get("/api/v1/tasks", headers=bearer(tokens[0]))).status_code == 200
    return tokens


async def test_log_out_everywhere_keeps_the_api_tokens_unless_asked(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime, two_sessions: list[str]
) -> None:
    tokens = two_sessions
    page = await client.get("/account/security")
    assert "Signed-in sessions: 2" in page.text
    assert "Also revoke my 2 personal API tokens" in page.text

    csrf = await csrf_from(client, "/account/security")
    done = await client.post("/logout", data={"csrf_token": csrf, "everywhere": "1"})
    assert await _flash(client, done) == (
        "Signed out of 2 sessions (this one included); 2 personal API tokens still work."
    )
    assert (await other.get("/api/v1/me")).status_code == 401
    assert (await client.get("/api/v1/me")).status_code == 401
    for token in tokens:
        async with httpx.AsyncClient(transport=client._transport, base_url="http://t") as bare:
            assert (await bare.get("/api/v1/me", headers=bearer(token))).status_code == 200
    assert await _sessions(runtime) == 0


async def test_log_out_everywhere_can_revoke_every_api_token(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime, two_sessions: list[str]
) -> None:
    tokens = two_sessions
    csrf = await csrf_from(client, "/account/security")
    done = await client.post("/logout", data={"csrf_token": csrf, "everywhere": "1", "tokens": "1"})
    assert await _flash(client, done) == (
        "Signed out of 2 sessions (this one included); revoked 2 personal API tokens."
    )
    async with httpx.AsyncClient(transport=client._transport, base_url="http://t") as bare:
        for token in tokens:
            refused = await bare.get("/api/v1/me", headers=bearer(token))
            assert refused.status_code == 401
        fast = await bare.get("/api/v1/tasks", headers=bearer(tokens[0]))
        assert fast.status_code == 401
    assert (await other.get("/api/v1/me")).status_code == 401
    async with runtime.sessions() as session:
        rows = (await session.exec(select(ApiToken))).all()
        audit = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.action == "user.logged_out_everywhere")
            )
        ).one()
    assert all(row.revoked_at is not None for row in rows) and len(rows) == 2
    assert audit.data == {"sessions": 2, "tokens_revoked": 2}

    # Nothing left to revoke: the page says so, and the next log-out everywhere says 0.
    await log_in(client, EMAIL)
    page = await client.get("/account/security")
    assert "You have no personal API tokens." in page.text
    assert 'name="tokens"' not in page.text
    csrf = await csrf_from(client, "/account/security")
    done = await client.post("/logout", data={"csrf_token": csrf, "everywhere": "1", "tokens": "1"})
    assert await _flash(client, done) == "Signed out of 1 session (this one included)."


async def test_session_use_is_written_hourly_and_stale_sessions_are_pruned_at_log_in(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_user(runtime, EMAIL)
    await log_in(client, EMAIL)
    await log_in(other, EMAIL)
    await auth.flush_last_used(runtime.sessions)  # main.py runs this every 30 s

    async def seen() -> dict[str, object]:
        async with runtime.sessions() as session:
            rows = (await session.exec(select(CookieSession))).all()
        return {str(row.id): row.seen_at for row in rows}

    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE cookie_sessions SET seen_at = now() - interval '2 hours'"))
    before = await seen()
    assert (await client.get("/api/v1/me")).status_code == 200
    assert await seen() == before  # nothing written while answering
    assert await auth.flush_last_used(runtime.sessions) >= 1
    after = await seen()
    assert sum(after[sid] != before[sid] for sid in before) == 1  # only the one used
    assert (await client.get("/api/v1/me")).status_code == 200
    await auth.flush_last_used(runtime.sessions)
    assert await seen() == after  # to the hour is enough: not rewritten

    # Unseen for longer than a cookie lives: no cookie can name it; the next log-in prunes it.
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE cookie_sessions SET seen_at = now() - interval '15 days'"))
    await log_in(client, EMAIL)
    assert len(await seen()) == 1
    assert (await client.get("/api/v1/me")).status_code == 200
    assert (await other.get("/api/v1/me")).status_code == 401


async def test_other_processes_refuse_an_ended_session_within_the_cache_bound(
    services: Urls, tmp_path: Path
) -> None:
    """Process A (in this test) logs out; process B (`mcx serve`), which has the cookie and
    the token cached, refuses them within app.auth.CACHE_SECONDS."""
    bound = auth.CACHE_SECONDS + 1.5
    with mcx_serve(services, tmp_path) as served:
        urls = Urls(database=services.database, redis=services.redis)
        runtime = await open_runtime(served.settings, urls)
        app = create_app(served.settings, urls)
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://testserver"
                ) as here,
                httpx.AsyncClient(base_url=served.base, timeout=10) as there,
            ):
                user = await make_user(runtime, EMAIL)
                token = (await _tokens(runtime, user))[0]

                async def refused_there(headers: dict[str, str]) -> float:
                    """Seconds until B answers 401 (it answered 200 just before)."""
                    start = time.monotonic()
                    while (await there.get("/api/v1/me", headers=headers)).status_code != 401:
                        assert time.monotonic() - start < bound, "B still lets it in"
                        await asyncio.sleep(0.1)
                    return time.monotonic() - start

                await log_in(here, EMAIL)
                copied = here.cookies["mcx_session"]
                assert (await there.get("/api/v1/me", headers=_copy(copied))).status_code == 200
                csrf = await csrf_from(here, "/")
                await here.post("/logout", data={"csrf_token": csrf})
                assert (await here.get("/api/v1/me", headers=_copy(copied))).status_code == 401
                assert await refused_there(_copy(copied)) < bound

                await log_in(here, EMAIL)
                assert (await there.get("/api/v1/me", headers=bearer(token))).status_code == 200
                csrf = await csrf_from(here, "/account/security")
                await here.post(
                    "/logout", data={"csrf_token": csrf, "everywhere": "1", "tokens": "1"}
                )
                assert (await here.get("/api/v1/me", headers=bearer(token))).status_code == 401
                assert await refused_there(bearer(token)) < bound
        finally:
            await _reset(runtime)
            await runtime.close()
