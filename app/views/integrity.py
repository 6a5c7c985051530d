"""Honest evidence for coordinators: the open flags of their organisations, one flag with its
evidence side by side, and the decision (cleared, or misconduct), which is audited."""

from __future__ import annotations

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import access
from app.actions import integrity
from app.errors import ActionError
from app.models import Artifact, Award, Credential, Submission, User
from app.templating import templates
from app.views import form_fields
from app.views.apikit import caller, path_id
from app.views.earner.packet import ArtifactView
from app.views.earner.responses import see_other


async def index(request: Request) -> Response:
    """GET /integrity: undecided flags, oldest first."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        flags = await integrity.open_flags(session, user)
    return templates.TemplateResponse(request, "journey/integrity.html", {"flags": flags})


async def show(request: Request, *, error: ActionError | None = None) -> Response:
    """GET /integrity/{id}: both artifacts, the matching passages or hash, and who they are."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        flag = await access.access_flag(session, user, path_id(request, "flag_id"))
        sides = []
        for artifact_id, submission_id in (
            (flag.artifact_id, flag.submission_id),
            (flag.other_artifact_id, flag.other_submission_id),
        ):
            artifact = await session.get(Artifact, artifact_id)
            submission = await session.get(Submission, submission_id)
            assert artifact is not None and submission is not None
            earner = await session.get(User, submission.earner_id)
            credential = await session.get(Credential, submission.credential_id)
            award = (
                await session.exec(
                    select(Award)
                    .where(Award.user_id == submission.earner_id)
                    .where(Award.credential_id == submission.credential_id)
                )
            ).first()
            sides.append(
                {
                    "artifact": ArtifactView.of(artifact),
                    "submission": submission,
                    "earner": earner,
                    "credential": credential,
                    "award": award,
                }
            )
    return templates.TemplateResponse(
        request,
        "journey/flag.html",
        {"flag": flag, "sides": sides, "error": error.detail if error else None},
        status_code=error.status if error else 200,
    )


async def flag_page(request: Request) -> Response:
    return await show(request)


async def decide(request: Request) -> Response:
    """POST /integrity/{id}/decision (fields `decision`: cleared | misconduct, `note`)."""
    runtime, user = await caller(request)
    flag_id = path_id(request, "flag_id")
    form = await form_fields(request)
    try:
        await integrity.decide_flag(
            runtime, user, flag_id, form.get("decision", ""), form.get("note", "")
        )
    except ActionError as error:
        if error.status in (401, 404):
            raise
        return await show(request, error=error)
    return see_other(f"/integrity/{flag_id}")


routes = [
    Route("/integrity", index),
    Route("/integrity/{flag_id}", flag_page),
    Route("/integrity/{flag_id}/decision", decide, methods=["POST"]),
]
