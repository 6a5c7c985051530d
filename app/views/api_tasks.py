"""JSON API for reviewers: open work, claim, claim-next, extend, release, review."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from app import access
from app.actions import reviews, tasks
from app.models import (
    Artifact,
    Review,
    ReviewScore,
    SubmissionCriterion,
)
from app.queue.feed import task_list
from app.views.apikit import body, caller, idempotent, path_id

LIST_LIMIT = 100


class ClaimRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The column is a PostgreSQL integer; a number, never true (which lax parsing reads as 1)
    # or "1".
    lease_version: int = Field(ge=1, le=2**31 - 1, strict=True)


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criterion_id: uuid.UUID
    level_id: uuid.UUID
    comment: str = Field(default="", max_length=reviews.MAX_COMMENT)


class ReviewIn(ClaimRef):
    scores: list[ScoreIn] = Field(default_factory=list, max_length=50)
    feedback: str = Field(default="", max_length=reviews.MAX_FEEDBACK)


async def list_tasks(request: Request) -> Response:
    """Open work I may claim, best first (the live queue's cards, joined as stored)."""
    runtime, user = await caller(request)
    return Response(await task_list(runtime, user, LIST_LIMIT), media_type="application/json")


async def claim(request: Request) -> JSONResponse:
    """Claim this task (409 when someone else has it); a double tap gets the same claim."""
    runtime, user = await caller(request)
    task_id = path_id(request, "task_id")

    async def produce() -> JSONResponse:
        result = await tasks.claim_task(runtime, user, task_id)
        return JSONResponse(result.json(), status_code=201)

    return await idempotent(request, user, produce)


async def claim_next(request: Request) -> JSONResponse:
    """Claim the best open task for me: oldest first, escalations ahead."""
    runtime, user = await caller(request)

    async def produce() -> JSONResponse:
        return JSONResponse((await tasks.claim_next(runtime, user)).json(), status_code=201)

    return await idempotent(request, user, produce)


async def extend(request: Request) -> JSONResponse:
    runtime, user = await caller(request)
    ref = await body(request, ClaimRef)
    result = await tasks.extend_claim(runtime, user, path_id(request, "task_id"), ref.lease_version)
    return JSONResponse(result.json())


async def release(request: Request) -> JSONResponse:
    runtime, user = await caller(request)
    ref = await body(request, ClaimRef)
    await tasks.release_claim(runtime, user, path_id(request, "task_id"), ref.lease_version)
    return JSONResponse({"released": True})


async def show_task(request: Request) -> JSONResponse:
    """A claimed task: the evidence and the rubric (never the earner's name under blind review)."""
    runtime, user = await caller(request)
    task_id = path_id(request, "task_id")
    async with runtime.sessions() as session:
        task, version, _credential = await access.access_claim(session, user, task_id)
        artifacts = (
            await session.exec(
                select(Artifact, SubmissionCriterion)
                .join(
                    SubmissionCriterion, col(SubmissionCriterion.id) == col(Artifact.criterion_id)
                )
                .where(Artifact.version_id == task.version_id)
                .order_by(col(SubmissionCriterion.position))
            )
        ).all()
        assert version.rubric_id is not None
        rubric, criteria, levels = await reviews.rubric_levels(session, version.rubric_id)
        draft = (await session.exec(select(Review).where(Review.task_id == task.id))).first()
        scores = (
            (await session.exec(select(ReviewScore).where(ReviewScore.review_id == draft.id))).all()
            if draft
            else []
        )
    return JSONResponse(
        {
            "task_id": str(task.id),
            "pool": task.pool,
            "lease_version": task.lease_version,
            "lease_expires_at": task.lease_expires_at.isoformat()
            if task.lease_expires_at
            else None,
            "extended": task.extended,
            "evidence": [
                {
                    "artifact_id": str(a.id),
                    "criterion": c.title,
                    "kind": a.kind,
                    "filename": a.filename,
                    "media_type": a.media_type,
                    "size_bytes": a.size_bytes,
                    "url": a.url,
                    "text": a.body,
                    "download": f"/api/v1/artifacts/{a.id}" if a.sha256 else None,
                }
                for a, c in artifacts
            ],
            "rubric": {
                "version": rubric.version,
                "min_level": rubric.min_level,
                "min_points": rubric.min_points,
                "criteria": [
                    {
                        "criterion_id": str(c.id),
                        "title": c.title,
                        "description": c.description,
                        "levels": [
                            {
                                "level_id": str(lv.id),
                                "label": lv.label,
                                "points": lv.points,
                                "descriptor": lv.descriptor,
                            }
                            for lv in sorted(
                                (lv for lv in levels.values() if lv.criterion_id == c.id),
                                key=lambda lv: lv.position,
                            )
                        ],
                    }
                    for c in criteria
                ],
            },
            "draft": {
                "feedback": draft.feedback if draft else "",
                "scores": [
                    {
                        "criterion_id": str(s.criterion_id),
                        "level_id": str(s.level_id),
                        "comment": s.comment,
                    }
                    for s in scores
                ],
            },
        }
    )


async def _write(request: Request, *, final: bool) -> JSONResponse:
    runtime, user = await caller(request)
    data = await body(request, ReviewIn)
    review = await reviews.write_review(
        runtime,
        user,
        path_id(request, "task_id"),
        data.lease_version,
        [reviews.ScoreInput(s.criterion_id, s.level_id, s.comment) for s in data.scores],
        data.feedback,
        final=final,
    )
    return JSONResponse(
        {
            "review_id": str(review.id),
            "state": review.state,
            "recommendation": review.recommendation,
        },
        status_code=201 if final else 200,
    )


async def save_draft(request: Request) -> JSONResponse:
    """Save a draft of the review under the live claim."""
    return await _write(request, final=False)


async def submit_review(request: Request) -> JSONResponse:
    """Submit the review (final); only within the live lease named by lease_version."""
    _, user = await caller(request)
    return await idempotent(request, user, lambda: _write(request, final=True))


class TaskRoute(Route):
    """A route whose {task_id} is never "claim-next": that path is a resource of its own
    (POST only), so a GET there is a 405 with Allow: POST, not a task looked up by that name.
    (Starlette takes a later route that matches fully over an earlier one that matches the
    path only.)"""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if child.get("path_params", {}).get("task_id") == "claim-next":
            return Match.NONE, {}
        return match, child


routes = [
    Route("/api/v1/tasks", list_tasks),
    Route("/api/v1/tasks/claim-next", claim_next, methods=["POST"]),
    TaskRoute("/api/v1/tasks/{task_id}", show_task),
    Route("/api/v1/tasks/{task_id}/claim", claim, methods=["POST"]),
    Route("/api/v1/tasks/{task_id}/extend", extend, methods=["POST"]),
    Route("/api/v1/tasks/{task_id}/release", release, methods=["POST"]),
    Route("/api/v1/tasks/{task_id}/review", save_draft, methods=["PUT"]),
    Route("/api/v1/tasks/{task_id}/review", submit_review, methods=["POST"]),
]
