"""create_app(): the table of contents of the web process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from python_multipart.exceptions import ParseError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles

from app import collector
from app.auth import SESSION_AGE, flush_last_used
from app.bodies import BodyPaceMiddleware
from app.csrf import CSRFMiddleware
from app.db import require_current_schema
from app.errors import RETRY_AFTER_SECONDS, UNAVAILABLE_TYPES, ActionError, is_unavailable
from app.fastlane import FastLane
from app.live import ServerConnectionMiddleware, SessionMiddleware, start_hub
from app.prg import RefusedFormRedirectMiddleware
from app.runtime import Runtime, Urls, open_runtime
from app.security import SecurityHeadersMiddleware
from app.settings import Settings, load_settings
from app.templating import STATIC_DIR, templates
from app.views import (
    accounts,
    api,
    api_catalogue,
    api_coordinators,
    api_journey,
    api_panels,
    api_submissions,
    api_tasks,
    badges,
    catalog,
    coaching,
    coordinator,
    earner,
    groups,
    growth,
    health,
    home,
    integrity,
    live,
    media,
    notifications,
    panels,
    push,
    quality,
    ratings,
    recognition,
    reports,
    reviewer,
    shell,
    waitlist,
    whatif,
)

log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _action_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ActionError)
    if _wants_json(request):
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=exc.status)
    if exc.status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return templates.TemplateResponse(
        request, "error.html", {"message": exc.detail}, status_code=exc.status
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (a path may be split over several routes:
    GET and PUT /api/v1/credentials/{id} live in different modules)."""
    matching = [
        route
        for route in request.app.routes
        if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE
    ]
    if not matching:
        return ""
    # The first match is the resource the router chose ("/tasks/claim-next" before
    # "/tasks/{task_id}"); its siblings share its path pattern.
    chosen = matching[0].path_format
    methods = {m for r in matching if r.path_format == chosen for m in (r.methods or set())}
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    if _wants_json(request):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "detail": exc.detail}, status_code=exc.status_code, headers=headers
        )
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=headers)


async def _malformed_form(request: Request, exc: Exception) -> Response:
    """A form body the parser cannot read (broken multipart, bad encoding), wherever a view
    reads it: 400 with the reason, before anything is looked up or written."""
    detail = (
        f"The form data could not be read ({exc}). Send a well-formed multipart/form-data "
        "or application/x-www-form-urlencoded body."
    )
    return await _action_error(request, ActionError("bad_form", detail, 400))


async def _unavailable(request: Request, exc: Exception) -> Response:
    """PostgreSQL or Redis unreachable: 503 with Retry-After (nothing was half-written: every
    action is one transaction). Any other error stays a 500."""
    if request.scope["type"] != "http" or not is_unavailable(exc):
        raise exc  # a websocket's failure closes it as before (1011); anything else is a 500
    log.warning("%s %s: backing service unavailable: %r", request.method, request.url.path, exc)
    detail = "MCX cannot reach its database or queue right now; try again in a moment."
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _wants_json(request):
        return JSONResponse(
            {"error": "unavailable", "detail": detail}, status_code=503, headers=headers
        )
    return PlainTextResponse(detail, status_code=503, headers=headers)


TOKEN_USE_FLUSH_SECONDS = 30.0


async def _flush_token_use(runtime: Runtime) -> None:
    """api_tokens.last_used_at and cookie_sessions.seen_at, in one batch every half minute,
    off the request path."""
    while True:
        await asyncio.sleep(TOKEN_USE_FLUSH_SECONDS)
        try:
            await flush_last_used(runtime.sessions)
        except Exception as exc:  # a failed batch is retried with the next uses; never fatal
            log.warning("could not record token and session use: %r", exc)


def create_app(
    settings: Settings | None = None,
    urls: Urls | None = None,
    hub_options: dict[str, float] | None = None,
) -> Starlette:
    """The web app. Connections open in the lifespan, never at import."""
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = await open_runtime(settings, urls)
        try:
            await require_current_schema(runtime.engine)
            app.state.runtime = runtime
            app.state.hub = await start_hub(runtime, **(hub_options or {}))
            flusher = asyncio.create_task(_flush_token_use(runtime))
            collector.settle()
            collecting = asyncio.create_task(collector.keep_collecting())
            try:
                yield
            finally:
                for task in (flusher, collecting):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                with contextlib.suppress(Exception):  # shutting down: PostgreSQL may be gone
                    await flush_last_used(runtime.sessions)
                await app.state.hub.stop()
        finally:
            await runtime.close()

    return Starlette(
        routes=[
            # First: the reviewers' API and pages, matched on every tap and reload of rush hour.
            *api_tasks.routes,
            *reviewer.routes,
            *home.routes,
            *accounts.routes,
            *health.routes,
            *api.routes,
            *api_submissions.routes,
            *api_coordinators.routes,
            *api_catalogue.routes,
            *api_journey.routes,
            *api_panels.routes,
            *badges.routes,
            *live.routes,
            *catalog.routes,
            *media.routes,
            *earner.routes,
            *coordinator.routes,
            *quality.routes,
            *whatif.routes,
            *ratings.routes,
            *panels.routes,
            *recognition.routes,
            *waitlist.routes,
            *reports.routes,
            *notifications.routes,
            *push.routes,
            *groups.routes,
            *coaching.routes,
            *integrity.routes,
            *growth.routes,
            *shell.routes,
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            # First: rush hour's three API requests skip what only pages need (app/fastlane.py).
            Middleware(FastLane, base_url=settings.base_url),
            # Outermost: notes the server's websocket connection before anything wraps `send`.
            Middleware(ServerConnectionMiddleware),
            # Outermost of ours: CSRF refusals and error pages get the headers too.
            Middleware(SecurityHeadersMiddleware, base_url=settings.base_url),
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret_key,
                session_cookie="mcx_session",
                max_age=int(SESSION_AGE.total_seconds()),
                same_site="lax",
                https_only=settings.secure_cookies,
            ),
            # A refused browser form post: 303 back to its page, shown once (no re-post on
            # reload). Inside the session, whose cookie names the kept page.
            Middleware(RefusedFormRedirectMiddleware),
            # Before the CSRF check, which may read a form's body; an endpoint reading the body
            # sees a stall as an error it cleans up after.
            Middleware(
                BodyPaceMiddleware,
                idle=settings.body_idle_seconds,
                min_rate=settings.body_min_bytes_per_second,
            ),
            Middleware(CSRFMiddleware),
        ],
        exception_handlers={
            ActionError: _action_error,
            HTTPException: _http_error,
            ParseError: _malformed_form,
            # Connection failures come as any of these; the handler re-raises the rest (500).
            **dict.fromkeys(UNAVAILABLE_TYPES, _unavailable),
        },
        lifespan=lifespan,
    )
