"""The baselines the claim race is measured against, as small Starlette apps (uvicorn --factory).

- `redis_ceiling`: the ceiling — one Redis call per request (SET NX), nothing else.
- `pg_only`: what teams build instead — a PostgreSQL-only claim: one conditional UPDATE.
- `hello`: the pages benchmark's floor, a bare hello-world.
The claim baselines take the reviewer from an `X-Reviewer` header (no auth: it only makes them faster).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def _ready(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


# `GET /readyz` on every baseline, so the harness knows when one is up.
READY = Route("/readyz", _ready)


def redis_ceiling() -> Starlette:
    redis = Redis.from_url(os.environ["REDIS_URL"])
    prefix = os.environ.get("MCX_REDIS_PREFIX", "mcx:") + "baseline:"

    async def claim(request: Request) -> JSONResponse:
        won = await redis.set(
            prefix + request.path_params["task_id"], request.headers["x-reviewer"], nx=True
        )
        return JSONResponse({"won": bool(won)}, status_code=201 if won else 409)

    return Starlette(routes=[Route("/claim/{task_id}", claim, methods=["POST"]), READY])


PG_CLAIM = """
UPDATE review_tasks
   SET state = 'claimed', reviewer_id = $1, lease_version = lease_version + 1,
       claimed_at = now(), lease_expires_at = now() + interval '30 minutes'
 WHERE id = $2 AND state = 'open'
RETURNING lease_version
"""


def pg_only() -> Starlette:
    dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    pool: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool["db"] = await asyncpg.create_pool(dsn, min_size=5, max_size=20)
        yield
        await pool["db"].close()

    async def claim(request: Request) -> JSONResponse:
        row = await pool["db"].fetchrow(
            PG_CLAIM,
            uuid.UUID(request.headers["x-reviewer"]),
            uuid.UUID(request.path_params["task_id"]),
        )
        if row is None:
            return JSONResponse({"error": "already_taken"}, status_code=409)
        return JSONResponse({"lease_version": row["lease_version"]}, status_code=201)

    return Starlette(
        routes=[Route("/claim/{task_id}", claim, methods=["POST"]), READY], lifespan=lifespan
    )


def hello() -> Starlette:
    """The pages benchmark's floor: a bare Starlette hello-world."""

    async def hello_world(request: Request) -> PlainTextResponse:
        return PlainTextResponse("Hello, world")

    return Starlette(routes=[Route("/", hello_world), READY])
