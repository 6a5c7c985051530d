"""Security headers on every HTTP response: a Content-Security-Policy without inline script or
style, no framing by other sites, no MIME sniffing, a strict referrer, HSTS under https.

A pure ASGI middleware (websockets pass straight through). It only fills in what a response
left unset, so an endpoint that needs a different value says so itself and wins.

Evidence files (`/api/v1/artifacts/...`) are the one thing MCX frames: the reviewer's task
page shows a PDF in an `<object>` of the same origin. Those answers may be framed by MCX's own
pages (`frame-ancestors 'self'`, `X-Frame-Options: SAMEORIGIN`), never by anyone else. The
policy keeps `object-src 'self'` because Chromium draws a PDF through an embedded viewer that
inherits the PDF's own policy: `object-src 'none'` would blank it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Paths whose answers MCX's own pages embed (in <object>, <img>, <video>, <audio>).
EMBEDDABLE = ("/api/v1/artifacts/",)
HSTS = "max-age=31536000; includeSubDomains"
# Host headers that may name the websocket origin: a name or address and an optional port.
# Anything else (a header trying to smuggle a ';' into the policy) is left out of it.
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)

_BASE_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    # The earner's recorder previews the camera from a blob: URL.
    "media-src 'self' blob:",
    "object-src 'self'",
    "frame-src 'self'",
    "base-uri 'self'",
    "form-action 'self'",
)


def content_security_policy(*, host: str | None, https: bool, embeddable: bool) -> str:
    """The policy for one answer: `host` (the request's Host) names the websocket origin,
    `https` adds upgrade-insecure-requests, `embeddable` lets MCX's own pages frame it."""
    sockets = ""
    if host is not None and _HOST.fullmatch(host):
        # CSP 'self' covers a same-origin ws(s): in current browsers; older ones need it named.
        sockets = f" wss://{host}" if https else f" ws://{host} wss://{host}"
    directives = [
        *_BASE_DIRECTIVES,
        "frame-ancestors 'self'" if embeddable else "frame-ancestors 'none'",
        f"connect-src 'self'{sockets}",
    ]
    if https:
        directives.append("upgrade-insecure-requests")
    return "; ".join(directives)


def security_headers(*, host: str | None, https: bool, embeddable: bool) -> list[tuple[str, str]]:
    """Every header the middleware adds to one answer, in order."""
    headers = [
        (
            "Content-Security-Policy",
            content_security_policy(host=host, https=https, embeddable=embeddable),
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "SAMEORIGIN" if embeddable else "DENY"),
        # Earners record video and audio evidence from the packet page; nothing needs places.
        ("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if https:
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


class SecurityHeadersMiddleware:
    """Adds security_headers() to every HTTP response that does not set them itself."""

    def __init__(
        self, app: ASGIApp, *, base_url: str, embeddable: Sequence[str] = EMBEDDABLE
    ) -> None:
        self.app = app
        # The public origin decides, not the request's scheme: TLS usually ends at a proxy.
        self.https = base_url.startswith("https://")
        self.embeddable = tuple(embeddable)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Anything but HTTP (a websocket) gets the next app's own awaitable: no frame of this
        # middleware stays alive for as long as a socket is open.
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
        extra = security_headers(
            host=host, https=self.https, embeddable=scope["path"].startswith(self.embeddable)
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
