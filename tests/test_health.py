"""Health probes: alive, ready, and a clear 503 naming the service that is down."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.main import create_app
from app.models import Role
from app.runtime import Runtime, Urls
from app.settings import Settings
from tests import factories as f
from tests.factories import auth


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "alive"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "postgres": "ok", "redis": "ok"}


async def test_readyz_names_the_service_that_is_down(services: Urls, settings: Settings) -> None:
    # Port 1 on loopback: nothing listens there, so Redis cannot answer.
    app = create_app(settings, Urls(database=services.database, redis="redis://127.0.0.1:1/0"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["postgres"] == "ok"
    assert body["redis"].startswith("error:")


async def test_home_page_shows_the_catalogue(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert "Catalogue" in page.text
    assert "No credentials are published yet" in page.text


async def test_a_postgresql_out_of_connection_slots_is_a_503_not_a_500(
    services: Urls, settings: Settings, runtime: Runtime
) -> None:
    """PostgreSQL refusing a new connection ('too many clients', SQLSTATE 53300) is the
    database being unavailable for a moment, as on a busy server: a 503 with Retry-After, not
    a 500. Here MCX runs as a role that is then allowed no more connections: the claim's own
    pool, opened on the first claim, is refused exactly so."""
    await f.organisation(runtime)
    reviewer = await f.person(runtime, "reviewer", [Role.reviewer])
    token = await f.token_for(runtime, reviewer)
    role = f"mcx_full_{uuid.uuid4().hex[:8]}"
    admin = make_url(services.database).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE ROLE "{role}" LOGIN')
        await conn.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        await conn.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        database = make_url(services.database).set(username=role, password=None)
        app = create_app(
            settings, Urls(database=database.render_as_string(False), redis=services.redis)
        )
        async with app.router.lifespan_context(app):
            # The connection the start-up opened stays in the pool; no new one is allowed.
            await conn.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT 0')
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                path = f"/api/v1/tasks/{uuid.uuid4()}/claim"
                claimed = await http.post(path, headers=auth(token))
    finally:
        await conn.execute(f'DROP OWNED BY "{role}"')
        await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        await conn.close()
    assert claimed.status_code == 503, claimed.text
    assert claimed.json()["error"] == "unavailable"
    assert claimed.headers["retry-after"]
