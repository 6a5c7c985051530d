"""Draft autosave for earner.js: each change to a reflection or a link, as JSON."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.actions.submissions.drafts import save_draft
from app.views.apikit import body, caller, path_id
from app.views.earner.responses import json_errors


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=40_000)
    url: str | None = Field(default=None, max_length=4_000)


@json_errors
async def save(request: Request) -> Response:
    """PUT /submissions/{id}/drafts/{criterion_id} {"text"} or {"url"}: keep it as typed.
    Answers {"kept", "saved_at", "words"}; a refused value (400/422) changes nothing."""
    runtime, user = await caller(request)
    submission_id = path_id(request, "submission_id")
    criterion_id = path_id(request, "criterion_id")
    draft = await body(request, DraftIn)
    async with runtime.sessions() as session:
        saved = await save_draft(
            session, user, submission_id, criterion_id, text=draft.text, url=draft.url
        )
    return JSONResponse(
        {"kept": saved.kept, "saved_at": saved.saved_at.isoformat(), "words": saved.words},
        headers={"Cache-Control": "no-store"},
    )
