"""Small helpers for driving the app like a browser would."""

from __future__ import annotations

import re

import httpx

from app.actions import accounts
from app.models import User
from app.runtime import Runtime

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct-horse-battery"


async def csrf_from(client: httpx.AsyncClient, path: str = "/login") -> str:
    """The CSRF token a page hands the browser (and sets in the session cookie)."""
    page = await client.get(path)
    match = CSRF_INPUT.search(page.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


async def make_user(runtime: Runtime, email: str = "teacher@school.example", **fields: str) -> User:
    async with runtime.sessions() as session:
        return await accounts.create_user(
            session,
            email=email,
            name=fields.get("name", "Ada Teacher"),
            password=fields.get("password", PASSWORD),
            school=fields.get("school"),
        )


async def log_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    token = await csrf_from(client)
    return await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
