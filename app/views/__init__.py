"""Thin endpoints, one module per area, each with its `routes = [...]`."""

from __future__ import annotations

from starlette.requests import Request


async def form_fields(request: Request) -> dict[str, str]:
    """The url-encoded form as plain strings (files are not accepted here)."""
    form = await request.form(max_files=0, max_fields=50)
    return {key: value for key, value in form.items() if isinstance(value, str)}
