"""Thin endpoints, one module per area, each with its `routes = [...]`."""

from __future__ import annotations

from starlette.requests import Request

from app.errors import ActionError


async def form_fields(request: Request) -> dict[str, str]:
    """The url-encoded form as plain strings (files are not accepted here). ActionError
    bad_text (400) for a NUL anywhere: PostgreSQL text cannot store one."""
    form = await request.form(max_files=0, max_fields=50)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if any("\x00" in key or "\x00" in value for key, value in fields.items()):
        raise ActionError("bad_text", "Text cannot contain NUL characters.", 400)
    return fields
