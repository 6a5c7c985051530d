"""Shared pieces of the JSON API: the caller, the body as a validated model, ids in paths."""

from __future__ import annotations

import json
import uuid
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from app.access import require_user
from app.auth import current_user
from app.errors import ActionError
from app.models import User
from app.runtime import Runtime

M = TypeVar("M", bound=BaseModel)
MAX_JSON = 256 * 1024


async def caller(request: Request) -> tuple[Runtime, User]:
    """The runtime and the authenticated user (401 otherwise)."""
    return request.app.state.runtime, require_user(await current_user(request))


def path_id(request: Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params[name])
    except ValueError:
        raise ActionError("not_found", "That was not found.", 404) from None


async def body(request: Request, model: type[M]) -> M:
    """The JSON body, validated; errors name the field."""
    raw = await request.body()
    if len(raw) > MAX_JSON:
        raise ActionError("too_large", "The request body is too large.", 413)
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ActionError("bad_json", "The request body is not valid JSON.", 400) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ActionError("invalid", f"{where}: {first['msg']}", 422) from None
