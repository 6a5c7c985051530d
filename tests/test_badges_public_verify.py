"""/verify.json is public: any client, no cookie and no CSRF token, any origin (CORS), and a
rate limit per address; the CSRF check stays on every other state-changing route."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from app.csrf import PUBLIC_PATHS
from app.main import create_app
from app.runtime import Runtime, Urls
from app.settings import Settings
from tests import factories

FIXTURES = Path(__file__).parent / "data" / "openbadges" / "fixtures" / "ob30"
WALLET = "https://wallet.example"


@asynccontextmanager
async def stranger(
    settings: Settings, services: Urls, address: str = "198.51.100.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client from another site with no cookie at all, on an app of these settings."""
    app = create_app(settings, Urls(database=services.database, redis=services.redis))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers={"Origin": WALLET}
        ) as http:
            yield http


async def badge(runtime: Runtime) -> uuid.UUID:
    await factories.issuer(runtime)
    credential = await factories.credential(runtime)
    return await factories.award(runtime, await factories.person(runtime, "e"), credential)


async def test_anyone_posts_a_jwt_json_or_image_without_cookie_or_token(
    settings: Settings, services: Urls, runtime: Runtime
) -> None:
    award_id = await badge(runtime)
    async with stranger(settings, services) as http:
        token = (await http.get(f"/badges/{award_id}/credential.jwt")).text
        document = (await http.get(f"/badges/{award_id}/credential")).json()
        image = (await http.get(f"/badges/{award_id}/baked.png")).content
        sent = [
            (token, "text/plain"),
            (json.dumps(document), "application/json"),
            (image, "image/png"),
            ((FIXTURES / "simple-jwt.svg").read_bytes(), "image/svg+xml"),
        ]
        for body, kind in sent:
            answer = await http.post("/verify.json", content=body, headers={"content-type": kind})
            assert answer.status_code == 200, (kind, answer.text)
            assert answer.json()["result"] == "valid", answer.json()
            assert answer.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in answer.headers
            assert "set-cookie" not in answer.headers
        got = await http.get("/verify.json", params={"id": str(award_id)})
        assert got.json()["result"] == "valid"
        assert got.headers["access-control-allow-origin"] == "*"
        # A browser's preflight for a cross-origin POST of JSON.
        preflight = await http.options(
            "/verify.json",
            headers={
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert {"GET", "POST"} <= {
            m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")
        }
        assert "content-type" in preflight.headers["access-control-allow-headers"].lower()
        # The CSRF check still guards the rest: the HTML form and a cookie-riding write.
        assert (await http.post("/verify", data={"credential": token})).status_code == 403
        assert (await http.post("/logout")).status_code == 403
    assert PUBLIC_PATHS == {"/verify.json"}


async def test_verification_is_rate_limited_per_address(
    settings: Settings, services: Urls, runtime: Runtime
) -> None:
    award_id = await badge(runtime)
    limited = settings.model_copy(update={"verify_per_minute": 3})
    async with stranger(limited, services, "198.51.100.7") as busy:
        for _ in range(3):
            answer = await busy.get("/verify.json", params={"id": str(award_id)})
            assert answer.status_code == 200
        refused = await busy.post(
            "/verify.json", content=str(award_id), headers={"content-type": "text/plain"}
        )
        assert refused.status_code == 429
        assert refused.json()["error"] == "too_many_requests"
        assert "3 verifications a minute" in refused.json()["detail"]
        assert refused.headers["retry-after"] == "60"
        assert refused.headers["access-control-allow-origin"] == "*"
    # Another address has its own allowance.
    async with stranger(limited, services, "198.51.100.8") as other:
        answer = await other.get("/verify.json", params={"id": str(award_id)})
        assert answer.status_code == 200 and answer.json()["result"] == "valid"
