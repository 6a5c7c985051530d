"""Stacks: an ordered set of an organisation's credentials that together earn a stack badge
(completing every one of them awards it, automatically, with the last pass)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app import access
from app.actions import authoring
from app.auth import current_user
from app.errors import ActionError
from app.models import Credential, Stack, StackItem
from app.specs import StackSpec, error_sentence
from app.templating import templates
from app.views.apikit import body, caller
from app.views.coordinator.authoring import big_form, coordinated

STACK_FIELDS = {
    "organisation": "Organisation",
    "slug": "Short name (slug)",
    "title": "Title",
    "description": "Description",
    "credentials": "Credentials in the stack",
}

SLOTS = 8


async def _page(
    request: Request, values: dict[str, Any], errors: list[str], status: int = 200
) -> Response:
    user = access.require_user(await current_user(request))
    organisations = await coordinated(request, user)
    async with request.app.state.runtime.sessions() as session:
        credentials = (
            await session.exec(
                select(Credential)
                .where(col(Credential.organisation_id).in_([o.id for o in organisations]))
                .order_by(col(Credential.title))
            )
        ).all()
        stacks = (
            await session.exec(
                select(Stack)
                .where(col(Stack.organisation_id).in_([o.id for o in organisations]))
                .order_by(col(Stack.title))
            )
        ).all()
        members: dict[Any, list[str]] = {stack.id: [] for stack in stacks}
        for stack_id, title in (
            await session.exec(
                select(StackItem.stack_id, Credential.title)
                .join(Credential, col(Credential.id) == col(StackItem.credential_id))
                .where(col(StackItem.stack_id).in_(list(members)))
                .order_by(col(StackItem.position))
            )
        ).all():
            members[stack_id].append(title)
    slugs = {o.id: o.slug for o in organisations}
    return templates.TemplateResponse(
        request,
        "coordinator/stacks.html",
        {
            "organisations": organisations,
            "credentials": [(slugs[c.organisation_id], c.slug, c.title) for c in credentials],
            "stacks": [(s, members[s.id]) for s in stacks],
            "values": values,
            "errors": errors,
            "slots": range(SLOTS),
            "flash": request.session.pop("flash", None),
        },
        status_code=status,
    )


async def stacks_page(request: Request) -> Response:
    """GET /coordinate/stacks: my organisations' stacks; POST: make one."""
    if request.method == "GET":
        return await _page(request, {}, [])
    user = access.require_user(await current_user(request))
    form = await big_form(request)
    members = [form.get(f"credential-{i}", "") for i in range(SLOTS)]
    data = {
        "organisation": form.get("organisation", ""),
        "slug": form.get("slug", ""),
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "credentials": [m for m in members if m],
    }
    try:
        spec = StackSpec.model_validate(data)
    except ValidationError as exc:
        said: dict[str, str] = {}  # one sentence per field, however many items failed
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "stack"
            said.setdefault(
                field,
                f"{STACK_FIELDS.get(field, 'Stack')}: {error_sentence(field, e)}.",
            )
        errors = list(said.values())
        return await _page(request, form, errors, 422)
    try:
        async with request.app.state.runtime.sessions() as session:
            await authoring.author_stack(session, user, spec)
    except ActionError as refused:
        if refused.status == 404:
            raise
        return await _page(request, form, [refused.detail], 422)
    request.session["flash"] = f"Stack “{spec.title}” made."
    return RedirectResponse("/coordinate/stacks", status_code=303)


async def api_create_stack(request: Request) -> JSONResponse:
    """POST /api/v1/stacks: a StackSpec (credentials by slug, in order); 201."""
    runtime, user = await caller(request)
    spec = await body(request, StackSpec)
    async with runtime.sessions() as session:
        stack = await authoring.author_stack(session, user, spec)
    return JSONResponse({"id": str(stack.id)}, status_code=201)


routes = [
    Route("/coordinate/stacks", stacks_page, methods=["GET", "POST"]),
    Route("/api/v1/stacks", api_create_stack, methods=["POST"]),
]
