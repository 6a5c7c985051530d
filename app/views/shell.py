"""The app shell: the web app manifest, the service worker and the page it shows offline.

A teacher adds MCX to the home screen from the manifest. The service worker (`/sw.js`, served
from the root so its scope is the whole site) keeps only the shell: the stylesheet, the live
client, the icons and the offline page. It never stores pages, API answers, badges or evidence:
a phone shared in a staff room must not keep someone's packet.
"""

from __future__ import annotations

import functools
import hashlib

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from app.templating import STATIC_DIR, TEMPLATES_DIR, templates

NAME = "MCX"
THEME_COLOR = "#1f5fbf"  # --brand in static/mcx.css and base.html's theme-color
BACKGROUND_COLOR = "#f6f7fa"  # --bg in static/mcx.css: the splash matches the first paint
OFFLINE_URL = "/offline"
ICONS = [
    {"src": f"/static/icons/{stem}-{size}.png", "sizes": f"{size}x{size}", "purpose": purpose}
    for stem, purpose in (("icon", "any"), ("maskable", "maskable"))
    for size in (192, 512)
]
# What the worker precaches and then serves cache-first. Each must be public and identical for
# every visitor: the offline page is fetched without cookies for that reason.
SHELL = [
    "/static/mcx.css",
    "/static/app.js",
    "/static/live.js",
    *(icon["src"] for icon in ICONS),
    OFFLINE_URL,
]
# Paths the worker leaves entirely to the browser: the JSON API (evidence downloads included,
# /api/v1/artifacts/), the websocket, badge pages, and the worker script itself.
NEVER_CACHED = ["/api/", "/ws", "/badges/", "/sw.js"]
# The shell's content: the files behind SHELL, plus the templates the worker and offline page
# are rendered from. Their hash names the cache, so a deploy that changes any of them installs
# a new worker, which refills a new cache and deletes the old one.
_VERSIONED_FILES = [
    *(STATIC_DIR / path.removeprefix("/static/") for path in SHELL if path.startswith("/static/")),
    TEMPLATES_DIR / "offline.html",
    TEMPLATES_DIR / "base.html",
    TEMPLATES_DIR / "sw.js",
]


@functools.cache
def shell_version() -> str:
    """A short hash of the shell's files, computed once per process (a deploy restarts it)."""
    digest = hashlib.sha256()
    for path in _VERSIONED_FILES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def manifest_document() -> dict[str, object]:
    """The web app manifest (https://www.w3.org/TR/appmanifest/) as a JSON-ready dict."""
    return {
        "id": "/",
        "name": NAME,
        "short_name": NAME,
        "description": "Earn and review educator micro-credentials, live, from your phone.",
        "lang": "en",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "categories": ["education"],
        "icons": ICONS,
    }


async def manifest(request: Request) -> Response:
    return JSONResponse(manifest_document(), media_type="application/manifest+json")


async def service_worker(request: Request) -> Response:
    """The worker script. `no-cache`: a browser checks for a new shell on every visit."""
    body = templates.env.get_template("sw.js").render(
        version=shell_version(),
        shell=SHELL,
        offline_url=OFFLINE_URL,
        never_cached=NEVER_CACHED,
    )
    return Response(
        body,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


async def favicon(request: Request) -> Response:
    """The tab icon every browser asks for at the root (drawn by scripts/make_icons.py)."""
    return FileResponse(
        STATIC_DIR / "icons" / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


async def offline(request: Request) -> Response:
    # Deliberately anonymous (no current_user): the copy the worker keeps is shown to whoever
    # holds the phone, so it carries no name, no token and no link only one person may follow.
    return templates.TemplateResponse(request, "offline.html")


routes = [
    Route("/manifest.webmanifest", manifest),
    Route("/sw.js", service_worker),
    Route(OFFLINE_URL, offline),
    Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
]
