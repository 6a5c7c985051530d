"""Verification for anyone (a principal, a district, a wallet): a page and a JSON endpoint.

By id or link (GET ?id=), by pasted JWT or JSON (form field `credential`, or GET ?credential=),
or by an uploaded baked PNG/SVG (multipart field `image`). Nothing is written.

/verify.json is public in the full sense: any client, no cookie and no CSRF token (it never
reads the session and changes nothing, see app.csrf.PUBLIC_PATHS), any origin (CORS `*`, no
credentials), and a per-address rate limit (MCX_VERIFY_PER_MINUTE).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app import throttle
from app.auth import current_user
from app.badges.baking import MAX_IMAGE_BYTES, BakingError, unbake
from app.badges.verdicts import Verdict, failed
from app.badges.verify import Verifier
from app.errors import ActionError
from app.templating import templates
from app.views.apikit import limited_body

MAX_TEXT = 256 * 1024
WINDOW_SECONDS = 60
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}


async def _verdict_from_query(request: Request) -> Verdict | None:
    given = request.query_params.get("id") or request.query_params.get("credential")
    if not given:
        return None
    return await _verify_text(request, given)


async def _verify_text(request: Request, text: str) -> Verdict:
    if len(text) > MAX_TEXT or "\x00" in text:
        return failed("format", "That is not a badge (too long, or not text).")
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        return await Verifier(session, runtime.settings).payload(text)


async def _verify_image(request: Request, data: bytes) -> Verdict:
    try:
        baked = unbake(data)
    except BakingError as error:
        return failed("format", str(error))
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        return await Verifier(session, runtime.settings).baked(baked)


async def _verdict_from_body(request: Request) -> Verdict:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with limited_body(request, MAX_IMAGE_BYTES + 64 * 1024).form(
            max_files=1, max_fields=3
        ) as form:
            upload = form.get("image")
            if isinstance(upload, UploadFile) and upload.filename:
                return await _verify_image(request, await upload.read(MAX_IMAGE_BYTES + 1))
            text = form.get("credential")
            if isinstance(text, str) and text.strip():
                return await _verify_text(request, text)
        return failed("format", "Choose a badge image, or paste a badge.")
    body = await limited_body(request, MAX_IMAGE_BYTES + 1).body()
    if content_type.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qs

        values = parse_qs(body.decode("utf-8", "replace")).get("credential", [""])
        return await _verify_text(request, values[0])
    if content_type.startswith(("image/png", "image/svg+xml")):
        return await _verify_image(request, body)
    try:
        return await _verify_text(request, body.decode("utf-8"))
    except UnicodeDecodeError:
        return failed("format", "Send a badge as text (JWT or JSON) or as a PNG/SVG image.")


def _render(request: Request, verdict: Verdict | None) -> Response:
    context: dict[str, Any] = {
        "verdict": verdict,
        "badge": verdict.as_json()["badge"] if verdict else None,
    }
    return templates.TemplateResponse(request, "badges/verify.html", context)


async def verify_page(request: Request) -> Response:
    """GET /verify[?id=…]: the form, or the result for a badge given by id or link."""
    await current_user(request)
    return _render(request, await _verdict_from_query(request))


async def verify_submit(request: Request) -> Response:
    """POST /verify: the result for a pasted or uploaded badge."""
    await current_user(request)
    try:
        verdict = await _verdict_from_body(request)
    except ActionError as error:
        verdict = failed("format", error.detail)
    return _render(request, verdict)


async def verify_json(request: Request) -> Response:
    """GET /verify.json?id=…|credential=…, or POST a JWT, JSON or image: the result as JSON.
    OPTIONS answers a browser's CORS preflight."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS)
    runtime = request.app.state.runtime
    address = request.client.host if request.client else "unknown"
    key = f"{runtime.settings.redis_prefix}verify:{address}"
    if not await throttle.allow(
        runtime.redis, key, runtime.settings.verify_per_minute, WINDOW_SECONDS
    ):
        return JSONResponse(
            {
                "error": "too_many_requests",
                "detail": f"At most {runtime.settings.verify_per_minute} verifications a "
                "minute from one address; try again in a minute.",
            },
            status_code=429,
            headers={**CORS, "Retry-After": str(WINDOW_SECONDS)},
        )
    if request.method == "GET":
        verdict = await _verdict_from_query(request)
        if verdict is None:
            return JSONResponse(
                {"error": "missing", "detail": "Give ?id= (a badge id or link) or ?credential=."},
                status_code=400,
                headers=CORS,
            )
    else:
        try:
            verdict = await _verdict_from_body(request)
        except ActionError as error:
            return JSONResponse(
                {"error": error.code, "detail": error.detail},
                status_code=error.status,
                headers=CORS,
            )
    return JSONResponse(verdict.as_json(), headers={**CORS, "Cache-Control": "no-store"})


routes = [
    Route("/verify", verify_page, methods=["GET"]),
    Route("/verify", verify_submit, methods=["POST"]),
    Route("/verify.json", verify_json, methods=["GET", "POST", "OPTIONS"]),
]
