"""Security headers, session cookie flags and CSRF on every state-changing route.

Covered elsewhere, not repeated here: the log-in rate limit (test_accounts.py,
test_log_in_is_rate_limited_per_email); malformed, oversized and foreign-channel websocket
messages (test_live.py, test_malformed_messages_get_bad_message_and_the_socket_stays_usable
and test_notification_reaches_only_its_user).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from app.actions.submissions import check_evidence
from app.csrf import PUBLIC_PATHS
from app.main import create_app
from app.models import Award, Role
from app.runtime import Runtime, Urls
from app.security import SecurityHeadersMiddleware, content_security_policy
from app.settings import Settings
from app.templating import STATIC_DIR, TEMPLATES_DIR
from tests import factories as f
from tests import media
from tests.factories import auth, latest_version_id
from tests.helpers import csrf_from, log_in
from tests.test_marketplace import _review

PASSWORD = "factory-password-1"
CSRF_REFUSAL = "did not come from MCX"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "camera=(self), microphone=(self), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}


def secured(app: Starlette, settings: Settings) -> Starlette:
    """The app with SecurityHeadersMiddleware outermost, unless create_app already lists it.
    Call before the app serves its first request (Starlette builds its stack then)."""
    if not any(m.cls is SecurityHeadersMiddleware for m in app.user_middleware):
        app.user_middleware.insert(
            0, Middleware(SecurityHeadersMiddleware, base_url=settings.base_url)
        )
    return app


@pytest.fixture
async def app(settings: Settings, services: Urls, runtime: Runtime) -> AsyncIterator[Starlette]:
    application = secured(
        create_app(settings, Urls(database=services.database, redis=services.redis)), settings
    )
    async with application.router.lifespan_context(application):
        yield application


def directives(response: httpx.Response) -> dict[str, str]:
    """The response's Content-Security-Policy as {directive: sources}."""
    policy = response.headers["content-security-policy"]
    parts = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def assert_secured(response: httpx.Response, *, framing: str = "'none'") -> None:
    """Every header the middleware promises, with MCX's own pages the only possible framers
    when `framing` is 'self'."""
    for name, value in ALWAYS.items():
        assert response.headers.get(name) == value, (response.url, name)
    csp = directives(response)
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert "unsafe-eval" not in response.headers["content-security-policy"]
    assert csp["default-src"] == "'self'" and csp["base-uri"] == "'self'"
    assert csp["form-action"] == "'self'" and csp["object-src"] == "'self'"
    assert csp["frame-ancestors"] == framing
    assert response.headers["x-frame-options"] == ("DENY" if framing == "'none'" else "SAMEORIGIN")


async def test_pages_api_static_and_errors_carry_the_headers(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.credential(runtime)
    paths = [
        "/",
        "/login",
        "/catalog",
        "/credentials/ipa/coaching",
        "/offline",
        "/sw.js",
        "/manifest.webmanifest",
        "/healthz",
        "/api/v1/credentials",
        "/api/v1/openapi.json",
        "/api/v1/me",  # 401
        "/static/mcx.css",
        "/static/app.js",
        "/no-such-page",  # 404
        f"/badges/{uuid.uuid4()}.json",  # 404
    ]
    for path in paths:
        response = await client.get(path)
        assert_secured(response)
        csp = directives(response)
        assert csp["connect-src"] == "'self' ws://testserver wss://testserver", path
        assert "upgrade-insecure-requests" not in csp and "strict-transport-security" not in (
            response.headers
        )
    # A refused form is answered by the CSRF middleware, inside this one: headers too.
    refused = await client.post("/login", data={"email": "x"})
    assert refused.status_code == 403
    assert_secured(refused)


async def test_evidence_may_be_framed_by_mcx_only_and_badges_carry_the_headers(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner = await f.token_for(runtime, await f.person(runtime, "earner"))
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(earner)
    )
    submission_id = started.json()["id"]
    criteria = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
    by_kind = {c["kind"]: c["criterion_id"] for c in criteria["submission_criteria"]}
    base = f"/api/v1/submissions/{submission_id}/artifacts"
    pdf = await client.post(
        f"{base}/{by_kind['document']}",
        content=media.pdf(),
        headers={**auth(earner), "X-Filename": "plan.pdf"},
    )
    assert pdf.status_code == 201, pdf.text
    download = await client.get(
        f"/api/v1/artifacts/{pdf.json()['artifact_id']}", headers=auth(earner)
    )
    assert download.status_code == 200
    # The reviewer's task page shows it in <object data=...>: same-origin framing only.
    assert_secured(download, framing="'self'")
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("inline;")
    missing = await client.get(f"/api/v1/artifacts/{uuid.uuid4()}", headers=auth(earner))
    assert missing.status_code == 404
    assert_secured(missing, framing="'self'")

    await client.post(f"{base}/{by_kind['reflection']}", json={"text": "R."}, headers=auth(earner))
    await client.post(f"/api/v1/submissions/{submission_id}/submit", headers=auth(earner))
    assert await check_evidence(runtime, await latest_version_id(runtime, submission_id)) == (
        "in_review"
    )
    reviewer = await f.token_for(runtime, await f.person(runtime, "peer", [Role.reviewer]))
    assert (await _review(client, reviewer, 3)).status_code == 201
    async with runtime.sessions() as session:
        award = (await session.exec(select(Award))).one()
    for path in (f"/badges/{award.id}", f"/badges/{award.id}.json"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert_secured(response)


async def test_https_origin_adds_hsts_upgrades_and_secure_cookies(
    settings: Settings, services: Urls, runtime: Runtime
) -> None:
    https = settings.model_copy(update={"base_url": "https://mcx.example"})
    application = secured(
        create_app(https, Urls(database=services.database, redis=services.redis)), https
    )
    await f.organisation(runtime)
    await f.person(runtime, "ada")
    transport = httpx.ASGITransport(app=application, client=("203.0.113.9", 50002))
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=transport, base_url="https://mcx.example") as browser,
    ):
        page = await browser.get("/login")
        assert_secured(page)
        assert page.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        csp = directives(page)
        assert "upgrade-insecure-requests" in csp
        assert csp["connect-src"] == "'self' wss://mcx.example"
        logged_in = await log_in(browser, "ada@mcx.example", PASSWORD)
        assert logged_in.status_code == 303
    cookie = logged_in.headers["set-cookie"].lower()
    assert cookie.startswith("mcx_session=")
    assert "; httponly" in cookie and "; samesite=lax" in cookie and "; secure" in cookie


async def test_http_origin_session_cookie_is_httponly_and_lax_without_hsts(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    await f.person(runtime, "ada")
    logged_in = await log_in(client, "ada@mcx.example", PASSWORD)
    assert logged_in.status_code == 303
    cookie = logged_in.headers["set-cookie"].lower()
    assert "; httponly" in cookie and "; samesite=lax" in cookie and "; secure" not in cookie
    assert "strict-transport-security" not in logged_in.headers


def _sample_path(path_format: str) -> str:
    """A concrete path for a route pattern: any id will do, CSRF is checked before routing."""
    return re.sub(
        r"{(\w+)(:\w+)?}",
        lambda m: uuid.uuid4().hex if m.group(1) == "upload_id" else str(uuid.uuid4()),
        path_format,
    )


def state_changing_routes(app: Starlette) -> list[tuple[str, str]]:
    """(method, path pattern) of every HTTP route that can change something, pages and API;
    the public endpoints that change nothing (app.csrf.PUBLIC_PATHS) are left out, and
    tests/test_badges_public_verify.py keeps that list to /verify.json."""
    found = []
    for route in app.routes:
        if isinstance(route, Route) and route.path_format not in PUBLIC_PATHS:
            for method in sorted((route.methods or set()) & UNSAFE):
                found.append((method, route.path_format))
    # Logging out ends the session the rest of the table needs: last.
    return sorted(found, key=lambda item: (item[1] == "/logout", item))


async def test_every_state_changing_route_refuses_a_cookie_session_without_the_token(
    app: Starlette, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    await f.person(runtime, "ada", [Role.reviewer, Role.coordinator])
    assert (await log_in(client, "ada@mcx.example", PASSWORD)).status_code == 303
    token = await csrf_from(client, "/notifications")
    table = state_changing_routes(app)
    # The table is built from the app, so a new route is in it; these anchor it.
    for known in [
        ("POST", "/logout"),
        ("POST", "/submissions/{submission_id}/privacy"),
        ("PATCH", "/uploads/{upload_id}"),
        ("DELETE", "/uploads/{upload_id}"),
        ("POST", "/coordinate/credentials/{credential_id}"),
        ("PUT", "/api/v1/tasks/{task_id}/review"),
    ]:
        assert known in table
    assert len(table) >= 35
    for method, pattern in table:
        path = _sample_path(pattern)
        for data in ({"text": "x", "privacy": "public"}, {"csrf_token": "forged"}):
            refused = await client.request(method, path, data=data)
            assert refused.status_code == 403, (method, pattern, data)
            assert CSRF_REFUSAL in refused.text, (method, pattern)
        bare = await client.request(method, path, json={"name": "x"})
        assert bare.status_code == 403, (method, pattern, "json")
        # With the session's token the same request gets past CSRF (whatever it then says),
        # so the 403 above was CSRF's and not the endpoint's own refusal.
        passed = await client.request(method, path, headers={"X-CSRF-Token": token})
        assert passed.status_code != 403, (method, pattern)
        assert CSRF_REFUSAL not in passed.text


def test_templates_carry_no_inline_script_handler_or_style() -> None:
    """`script-src 'self'` and `style-src 'self'` block these; move them to static files."""
    problems = []
    templates = sorted(TEMPLATES_DIR.rglob("*.html"))
    scripts = sorted(STATIC_DIR.glob("*.js"))
    assert len(templates) > 10 and len(scripts) > 3  # the scan had files to read
    for template in templates:
        text = template.read_text()
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{template.relative_to(TEMPLATES_DIR)}:{number}"
            if re.search(r"<script(?![^>]*\ssrc=)[^>]*>", line):
                problems.append(f"{where}: inline <script>")
            if re.search(r"\son[a-z]+\s*=", line, re.IGNORECASE):
                problems.append(f"{where}: inline event handler")
            if re.search(r"\sstyle\s*=|<style[\s>]", line, re.IGNORECASE):
                problems.append(f"{where}: inline style")
            if re.search(r"javascript:", line, re.IGNORECASE):
                problems.append(f"{where}: javascript: URL")
    for script in scripts:
        for number, line in enumerate(script.read_text().splitlines(), start=1):
            where = f"static/{script.name}:{number}"
            # CSSOM (`el.style.x = ...`) is allowed by CSP; a style attribute or eval is not.
            if re.search(r"setAttribute\(\s*['\"](style|on[a-z]+)['\"]", line):
                problems.append(f"{where}: style/handler attribute")
            if re.search(r"\beval\(|new Function\(|setTimeout\(\s*['\"]", line):
                problems.append(f"{where}: eval-like code")
    assert problems == []


def _probe_app() -> Starlette:
    async def plain(request: Request) -> Response:
        return PlainTextResponse("hi")

    async def own_policy(request: Request) -> Response:
        return PlainTextResponse(
            "pdf",
            headers={"Content-Security-Policy": "sandbox", "X-Frame-Options": "SAMEORIGIN"},
        )

    return Starlette(
        routes=[
            Route("/plain", plain),
            Route("/files/own", own_policy),
            Route("/files/plain", plain),
        ],
        middleware=[
            Middleware(
                SecurityHeadersMiddleware, base_url="https://mcx.example", embeddable=("/files/",)
            )
        ],
    )


async def test_a_header_the_endpoint_set_is_kept() -> None:
    transport = httpx.ASGITransport(app=_probe_app())
    async with httpx.AsyncClient(transport=transport, base_url="https://mcx.example") as http:
        own = await http.get("/files/own")
        assert own.headers["content-security-policy"] == "sandbox"
        assert own.headers["x-frame-options"] == "SAMEORIGIN"
        assert own.headers["x-content-type-options"] == "nosniff"  # filled in, not replaced
        framed = await http.get("/files/plain")
        assert "frame-ancestors 'self'" in framed.headers["content-security-policy"]
        plain = await http.get("/plain")
        assert "frame-ancestors 'none'" in plain.headers["content-security-policy"]
        assert len(plain.headers.get_list("content-security-policy")) == 1


async def test_websockets_pass_through_untouched() -> None:
    seen: list[tuple[Scope, Receive, Send]] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        raise AssertionError("the middleware itself never answers")

    scope: Scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", b"mcx.example")]}
    await SecurityHeadersMiddleware(inner, base_url="https://mcx.example")(scope, receive, send)
    assert seen == [(scope, receive, send)]


@pytest.mark.parametrize(
    "host",
    ["evil.example; script-src *", "a b", "x\u00e9.example", "", "evil.example/'unsafe-inline'"],
)
def test_a_strange_host_header_never_reaches_the_policy(host: str) -> None:
    policy = content_security_policy(host=host, https=False, embeddable=False)
    assert "connect-src 'self';" in policy + ";"
    assert "unsafe-inline" not in policy and "script-src *" not in policy


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "mcx.example", "[::1]:8000", "localhost"])
def test_the_websocket_origin_comes_from_the_host(host: str) -> None:
    policy = content_security_policy(host=host, https=True, embeddable=False)
    assert f"connect-src 'self' wss://{host}" in policy
