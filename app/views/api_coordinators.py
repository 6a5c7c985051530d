"""JSON API for appeals and rubric revisions (earners appeal; coordinators rule and revise)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import access
from app.actions import appeals, catalog
from app.errors import not_found
from app.models import Credential
from app.specs import RubricSpec
from app.views.api_shapes import text_at_least
from app.views.apikit import body, caller, path_id


# The patterns tell API clients what the actions check (text counted once stripped); the
# actions' own messages stay the ones people see.
class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        max_length=appeals.MAX_REASON, json_schema_extra={"pattern": text_at_least(10)}
    )


class RulingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overturn: bool = Field(strict=True)  # true or false, not 0 or "yes"
    ruling: str = Field(
        max_length=appeals.MAX_REASON, json_schema_extra={"pattern": text_at_least(1)}
    )


async def appeal(request: Request) -> JSONResponse:
    """Appeal the 'not yet' decision on my submission."""
    runtime, user = await caller(request)
    data = await body(request, AppealIn)
    made = await appeals.appeal_outcome(
        runtime, user, path_id(request, "submission_id"), data.reason
    )
    return JSONResponse({"appeal_id": str(made.id), "state": made.state}, status_code=201)


async def rule(request: Request) -> JSONResponse:
    """Rule on an appeal (coordinators of the issuer): uphold or overturn to a pass."""
    runtime, user = await caller(request)
    data = await body(request, RulingIn)
    ruled = await appeals.rule_on_appeal(
        runtime, user, path_id(request, "appeal_id"), overturn=data.overturn, ruling=data.ruling
    )
    return JSONResponse({"appeal_id": str(ruled.id), "state": ruled.state})


async def revise_rubric(request: Request) -> JSONResponse:
    """Publish a new rubric version for a credential (coordinators of the issuer)."""
    runtime, user = await caller(request)
    spec = await body(request, RubricSpec)
    async with runtime.sessions() as session:
        credential = await session.get(Credential, path_id(request, "credential_id"))
        if credential is None or not await access.is_coordinator_of(
            session, user, credential.organisation_id
        ):
            raise not_found("That credential")
        rubric = await catalog.revise_rubric(session, credential, spec)
    return JSONResponse({"rubric_id": str(rubric.id), "version": rubric.version}, status_code=201)


routes = [
    Route("/api/v1/submissions/{submission_id}/appeal", appeal, methods=["POST"]),
    Route("/api/v1/appeals/{appeal_id}/ruling", rule, methods=["POST"]),
    Route("/api/v1/credentials/{credential_id}/rubric", revise_rubric, methods=["PUT"]),
]
