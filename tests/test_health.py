"""Health probes: alive, ready, and a clear 503 naming the service that is down."""

from __future__ import annotations

import httpx

from app.main import create_app
from app.runtime import Urls
from app.settings import Settings


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
