"""Helpers shared by the earner's-journey tests (issue 10): people signed in on their own
HTTP "browser", packets started through the pages, reviews that decide an outcome."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from app.models import Credential, Role, SubmissionCriterion, User
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"


@asynccontextmanager
async def browser(app: Starlette, n: int = 1) -> AsyncIterator[httpx.AsyncClient]:
    """Another HTTP client with its own cookies: another browser or device."""
    transport = httpx.ASGITransport(app=app, client=(f"203.0.113.{20 + n}", 50000 + n))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def sign_in(client: httpx.AsyncClient, email: str) -> str:
    """Log `client` in as `email`; the CSRF token its pages carry."""
    assert (await log_in(client, email, PASSWORD)).status_code == 303
    return await csrf_from(client, "/me/submissions")


async def criteria(runtime: Runtime, credential: Credential) -> dict[str, uuid.UUID]:
    """The credential's submission criteria by title."""
    async with runtime.sessions() as session:
        rows = (
            await session.exec(
                select(SubmissionCriterion).where(
                    SubmissionCriterion.credential_id == credential.id
                )
            )
        ).all()
    return {c.title: c.id for c in rows}


async def start(client: httpx.AsyncClient, token: str, credential: Credential) -> str:
    """A packet started through the credential page's form; its id."""
    started = await client.post(
        f"/credentials/{credential.id}/start", data={"csrf_token": token, "privacy": "reviewers"}
    )
    assert started.status_code == 303, started.text
    return started.headers["location"].rsplit("/", 1)[1]


async def put_draft(
    client: httpx.AsyncClient, token: str, submission_id: str, criterion_id: uuid.UUID, **body: str
) -> httpx.Response:
    return await client.put(
        f"/submissions/{submission_id}/drafts/{criterion_id}",
        json=body,
        headers={"X-CSRF-Token": token},
    )


async def reviewers(runtime: Runtime, count: int, prefix: str = "peer") -> list[str]:
    """API tokens of `count` peer reviewers of the ipa organisation."""
    tokens = []
    for i in range(count):
        person = await f.person(runtime, f"{prefix}{i}", [Role.reviewer])
        tokens.append(await f.token_for(runtime, person))
    return tokens


async def decide(client: httpx.AsyncClient, tokens: list[str], level: int) -> None:
    """Each reviewer claims the next task and scores every criterion at `level`."""
    for token in tokens:
        claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
        assert claim.status_code == 201, claim.text
        task_id = claim.json()["task_id"]
        version, scores = await f.scores_for(client, token, task_id, level)
        done = await client.post(
            f"/api/v1/tasks/{task_id}/review",
            json={"lease_version": version, "scores": scores, "feedback": "Feedback."},
            headers=auth(token),
        )
        assert done.status_code == 201, done.text


Finder = Callable[[User], str]
