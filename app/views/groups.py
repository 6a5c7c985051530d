"""Study groups: my groups, a new group, joining by invite link, a group's page (progress,
invite link), a fellow member's shared draft with comments per artifact, and a coordinator's
cohort. Group comments are informal feedback, never reviews."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import access
from app.actions import groups
from app.errors import ActionError
from app.models import Credential, CredentialStatus, Stack, StudyGroup
from app.templating import templates
from app.views import form_fields
from app.views.apikit import caller, path_id
from app.views.earner.packet import load_packet
from app.views.earner.responses import see_other


def _optional_id(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ActionError(
            "bad_target", "Choose a credential or a stack from the list.", 422
        ) from None


async def _choices(request: Request) -> dict[str, object]:
    runtime, _ = await caller(request)
    async with runtime.sessions() as session:
        credentials = (
            await session.exec(
                select(Credential)
                .where(
                    col(Credential.status).in_([CredentialStatus.published, CredentialStatus.pilot])
                )
                .order_by(col(Credential.title))
            )
        ).all()
        stacks = (await session.exec(select(Stack).order_by(col(Stack.title)))).all()
    return {"credentials": credentials, "stacks": stacks}


async def index(request: Request, *, error: ActionError | None = None) -> Response:
    """GET /groups: my groups and a form for a new one."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        mine = await groups.my_groups(session, user)
    return templates.TemplateResponse(
        request,
        "groups/index.html",
        {"groups": mine, "error": error.detail if error else None, **await _choices(request)},
        status_code=error.status if error else 200,
    )


async def my_groups(request: Request) -> Response:
    return await index(request)


def _target(form: dict[str, str]) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    kind, _, value = (form.get("target") or "").partition(":")
    if kind == "credential":
        return _optional_id(value), None
    if kind == "stack":
        return None, _optional_id(value)
    raise ActionError("bad_target", "Choose a credential or a stack for the group.", 422)


async def create(request: Request) -> Response:
    """POST /groups (fields `name`, `target` = credential:<id> or stack:<id>)."""
    runtime, user = await caller(request)
    form = await form_fields(request)
    try:
        credential_id, stack_id = _target(form)
        async with runtime.sessions() as session:
            group = await groups.create_group(
                session, user, form.get("name", ""), credential_id=credential_id, stack_id=stack_id
            )
    except ActionError as error:
        if error.status == 401:
            raise
        return await index(request, error=error)
    return see_other(f"/groups/{group.id}")


async def invitation(request: Request) -> Response:
    """GET /groups/join/{code}: what the group is, and a button to join."""
    runtime, _ = await caller(request)
    async with runtime.sessions() as session:
        group = await groups.group_by_code(session, request.path_params["code"])
    return templates.TemplateResponse(request, "groups/join.html", {"group": group})


async def join(request: Request) -> Response:
    """POST /groups/join/{code}: join, then the group's page."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        group = await groups.join_group(session, user, request.path_params["code"])
    return see_other(f"/groups/{group.id}")


async def show(request: Request) -> Response:
    """GET /groups/{id}: members and their progress, the invite link; members only."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        group = await access.group_member(session, user, path_id(request, "group_id"))
        progress = await groups.progress_of(session, group)
    return _group_page(request, group, progress, as_coordinator=False)


def _group_page(
    request: Request,
    group: StudyGroup,
    progress: list[groups.MemberProgress],
    *,
    as_coordinator: bool,
) -> Response:
    """A group's page (members' progress, the invite link), for a member or a coordinator."""
    base_url = request.app.state.runtime.settings.base_url
    return templates.TemplateResponse(
        request,
        "groups/show.html",
        {
            "group": group,
            "progress": progress,
            "invite": f"{base_url}/groups/join/{group.invite_code}",
            "as_coordinator": as_coordinator,
        },
    )


async def draft(request: Request) -> Response:
    """GET /groups/{id}/drafts/{submission_id}: a fellow member's packet, read-only, with a
    comment form per criterion."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        group, submission, credential = await access.access_group_draft(
            session, user, path_id(request, "group_id"), path_id(request, "submission_id")
        )
        packet = await load_packet(session, submission, credential, owner=False)
        comments = await groups.comments_on(session, submission.id)
    return templates.TemplateResponse(
        request,
        "groups/draft.html",
        {
            "group": group,
            "packet": packet,
            "comments": comments,
            "mine": submission.earner_id == user.id,
        },
    )


async def comment(request: Request) -> Response:
    """POST /groups/{id}/drafts/{submission_id}/comments/{criterion_id} (field `body`)."""
    runtime, user = await caller(request)
    group_id = path_id(request, "group_id")
    submission_id = path_id(request, "submission_id")
    criterion_id = path_id(request, "criterion_id")
    form = await form_fields(request)
    await groups.comment_on_draft(
        runtime, user, group_id, submission_id, criterion_id, form.get("body", "")
    )
    return see_other(f"/groups/{group_id}/drafts/{submission_id}#criterion-{criterion_id}")


async def leave(request: Request) -> Response:
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        await groups.leave_group(session, user, path_id(request, "group_id"))
    return see_other("/groups")


async def cohort_form(request: Request, *, error: ActionError | None = None) -> Response:
    """GET /cohorts/new: a coordinator's cohort for one of their credentials or stacks."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        await access.require_coordinator(session, user)
    return templates.TemplateResponse(
        request,
        "groups/cohort.html",
        {"error": error.detail if error else None, **await _choices(request)},
        status_code=error.status if error else 200,
    )


async def new_cohort(request: Request) -> Response:
    return await cohort_form(request)


async def create_cohort(request: Request) -> Response:
    """POST /cohorts (fields `name`, `target`, `emails`: one per line or comma-separated)."""
    runtime, user = await caller(request)
    form = await form_fields(request)
    emails = form.get("emails", "").replace(",", "\n").splitlines()
    try:
        credential_id, stack_id = _target(form)
        async with runtime.sessions() as session:
            group = await groups.create_cohort(
                session,
                user,
                form.get("name", ""),
                emails,
                credential_id=credential_id,
                stack_id=stack_id,
            )
    except ActionError as error:
        if error.status in (401, 404):
            raise
        return await cohort_form(request, error=error)
    return see_other(f"/cohorts/{group.id}")


async def cohort(request: Request) -> Response:
    """GET /cohorts/{id}: the cohort's progress, for a coordinator of its organisation."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        group = await access.access_cohort(session, user, path_id(request, "group_id"))
        progress = await groups.progress_of(session, group)
    return _group_page(request, group, progress, as_coordinator=True)


routes = [
    Route("/groups", my_groups),
    Route("/groups", create, methods=["POST"]),
    Route("/groups/join/{code}", invitation),
    Route("/groups/join/{code}", join, methods=["POST"]),
    Route("/groups/{group_id}", show),
    Route("/groups/{group_id}/leave", leave, methods=["POST"]),
    Route("/groups/{group_id}/drafts/{submission_id}", draft),
    Route(
        "/groups/{group_id}/drafts/{submission_id}/comments/{criterion_id}",
        comment,
        methods=["POST"],
    ),
    Route("/cohorts/new", new_cohort),
    Route("/cohorts", create_cohort, methods=["POST"]),
    Route("/cohorts/{group_id}", cohort),
]
