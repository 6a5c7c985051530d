"""Shared pieces of the JSON API: the caller, the body as a validated model, ids in paths."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message

from app.access import require_user
from app.auth import current_user
from app.errors import ActionError
from app.models import User
from app.runtime import Runtime

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
MAX_JSON = 256 * 1024
UPLOAD_CHUNK = 256 * 1024


async def caller(request: Request) -> tuple[Runtime, User]:
    """The runtime and the authenticated user (401 otherwise)."""
    return request.app.state.runtime, require_user(await current_user(request))


def path_id(request: Request, name: str) -> uuid.UUID:
    """The id in the path, in the UUID form the API document names (else 404)."""
    raw = request.path_params[name]
    try:
        parsed = uuid.UUID(raw)
    except ValueError:
        raise ActionError("not_found", "That was not found.", 404) from None
    if str(parsed) != raw.lower():  # braces, "urn:uuid:" or no dashes: not the documented form
        raise ActionError("not_found", "That was not found.", 404)
    return parsed


async def body(request: Request, model: type[M]) -> M:
    """The JSON body, validated; errors name the field."""
    raw = await request.body()
    if len(raw) > MAX_JSON:
        raise ActionError("too_large", "The request body is too large.", 413)
    if not raw.strip():
        # Every operation with a body needs one (the API document says so), even when each
        # of its fields has a default: an empty request is a mistake, not "all defaults".
        raise ActionError("invalid", "body: send a JSON object.", 422)
    try:
        data = json.loads(raw)
    # ValueError: bad JSON, bad UTF-8, or an integer of more than 4300 digits;
    # RecursionError: "[[[[..." nested deeper than the parser goes.
    except (ValueError, RecursionError):
        raise ActionError("bad_json", "The request body is not valid JSON.", 400) from None
    if _has_nul(data):
        raise ActionError("bad_text", "Text cannot contain NUL characters.", 400)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ActionError("invalid", f"{where}: {first['msg']}", 422) from None


def _has_nul(data: object) -> bool:
    """Whether any string in decoded JSON holds a NUL, which PostgreSQL text cannot store.
    A loop, not recursion: the document may be as deep as the parser allows."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
IDEMPOTENCY_SECONDS = 600


async def idempotent(
    request: Request, user: User, produce: Callable[[], Awaitable[JSONResponse]]
) -> JSONResponse:
    """Absorb double taps: the same `Idempotency-Key` from the same person on the same path
    gets the first answer again (for ten minutes) instead of doing the work twice."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return await produce()
    if not IDEMPOTENCY_KEY.match(key):
        raise ActionError(
            "bad_idempotency_key", "Idempotency-Key: 1-100 letters, digits, - or _.", 400
        )
    runtime: Runtime = request.app.state.runtime
    slot = f"{runtime.settings.redis_prefix}idem:{user.id}:{request.url.path}:{key}"
    try:
        cached = await runtime.redis.get(slot)
        busy = cached is None and not await runtime.redis.set(slot + ":busy", "1", nx=True, ex=30)
    except RedisError as exc:
        # Without Redis there is no replay store; the actions behind this (claim, submit a
        # review) answer a double tap with the first result themselves, so carry on.
        log.warning("idempotency store unavailable, handling %s directly: %s", key, exc)
        return await produce()
    if busy:
        raise ActionError("in_progress", "The same request is still being handled.", 409)
    if cached is not None:
        stored = json.loads(cached)
        return JSONResponse(stored["body"], status_code=stored["status"])
    try:
        response = await produce()
        if 200 <= response.status_code < 300:
            record = {"status": response.status_code, "body": json.loads(bytes(response.body))}
            with contextlib.suppress(RedisError):  # the work is done; a replay asks the action
                await runtime.redis.set(slot, json.dumps(record), ex=IDEMPOTENCY_SECONDS)
        return response
    finally:
        with contextlib.suppress(RedisError):  # the busy marker expires by itself
            await runtime.redis.delete(slot + ":busy")


def limited_body(request: Request, limit: int) -> Request:
    """The same request, but reading more than `limit` body bytes fails with 413."""
    seen = 0
    receive = request.receive

    async def limited_receive() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise ActionError(
                "too_large", f"Uploads are limited to {limit // (1024 * 1024)} MB.", 413
            )
        return message

    return Request(request.scope, limited_receive)


async def file_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(UPLOAD_CHUNK):
        yield chunk
