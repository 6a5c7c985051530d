"""The JSON API of credential review panels: the quality rubric, convening a panel, a
panellist's own scores, closing, and a credential's panel-certified mark. Bodies are
validated by the models below, which the OpenAPI document publishes."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import panels
from app.actions import panels as panel_actions
from app.models import PanelScore, User
from app.views.api_catalogue import visible_credential
from app.views.api_shapes import text_at_least
from app.views.apikit import body, caller, path_id

Component = Literal[
    "competency",
    "key_method",
    "method_components",
    "research_resources",
    "submission_criteria",
    "rubric",
]


class PanelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": text_at_least(1)})
    panellists: list[Annotated[str, Field(min_length=3, max_length=320)]] = Field(
        min_length=panel_actions.MIN_PANELLISTS, max_length=panel_actions.MAX_PANELLISTS
    )
    organisation: str | None = Field(default=None, pattern="^[a-z0-9][a-z0-9-]{0,63}$")


class PanelScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    component: Component
    level: int = Field(ge=0, le=3, strict=True)  # a number, not false or "2"
    comment: str = Field(default="", max_length=2000)


class PanelScoresIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scores: list[PanelScoreIn] = Field(max_length=6)
    submit: bool = Field(default=False, strict=True)  # true or false, not 0 or "yes"


async def quality_rubric(request: Request) -> JSONResponse:
    """The quality rubric panels score credentials against (MCX ships it)."""
    return JSONResponse(panels.quality_rubric_json())


async def certification(request: Request) -> JSONResponse:
    """A credential's panel-certified mark: current, expired (and why), or none."""
    credential = await visible_credential(request)
    async with request.app.state.runtime.sessions() as session:
        mark = await panels.mark_of(session, credential.id)
    return JSONResponse({"mark": mark.as_json() if mark else None})


async def convene(request: Request) -> JSONResponse:
    """Convene a review panel of your organisation's experts for a credential."""
    runtime, user = await caller(request)
    given = await body(request, PanelIn)
    panel = await panel_actions.convene(
        runtime, user, given.credential_id, given.name, given.panellists, given.organisation
    )
    async with runtime.sessions() as session:
        return JSONResponse(await panels.panel_detail(session, panel), status_code=201)


async def _panel_json(request: Request, user: User, panel_id: uuid.UUID) -> JSONResponse:
    async with request.app.state.runtime.sessions() as session:
        panel, member = await panel_actions.access_panel(session, user, panel_id)
        detail = await panels.panel_detail(session, panel)
        if member:
            # A panellist sees their own scores, never another's before the decision.
            mine = (
                await session.exec(
                    select(PanelScore)
                    .where(PanelScore.panel_id == panel.id)
                    .where(PanelScore.user_id == user.id)
                    .order_by(col(PanelScore.component))
                )
            ).all()
            detail["my_scores"] = [
                {"component": s.component, "level": s.level, "comment": s.comment} for s in mine
            ]
    return JSONResponse(detail)


async def show_panel(request: Request) -> JSONResponse:
    """A panel: members, and the results with alpha once decided."""
    _, user = await caller(request)
    return await _panel_json(request, user, path_id(request, "panel_id"))


async def score_panel(request: Request) -> JSONResponse:
    """Save (submit=false) or submit (true, final) your own scores as a panellist."""
    runtime, user = await caller(request)
    given = await body(request, PanelScoresIn)
    panel_id = path_id(request, "panel_id")
    await panel_actions.score(
        runtime,
        user,
        panel_id,
        [panel_actions.Score(s.component, s.level, s.comment) for s in given.scores],
        final=given.submit,
    )
    return await _panel_json(request, user, panel_id)


async def close_panel(request: Request) -> JSONResponse:
    """Decide a panel on the scores submitted so far (its organisation's coordinators)."""
    runtime, user = await caller(request)
    panel_id = path_id(request, "panel_id")
    await panel_actions.close(runtime, user, panel_id)
    return await _panel_json(request, user, panel_id)


routes = [
    Route("/api/v1/quality-rubric", quality_rubric),
    Route("/api/v1/credentials/{credential_id}/certification", certification),
    Route("/api/v1/panels", convene, methods=["POST"]),
    Route("/api/v1/panels/{panel_id}", show_panel),
    Route("/api/v1/panels/{panel_id}/scores", score_panel, methods=["PUT"]),
    Route("/api/v1/panels/{panel_id}/close", close_panel, methods=["POST"]),
]
