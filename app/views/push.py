"""Web Push pages: opting a device in or out, choosing what is pushed, and the landing page
a tapped push opens (which says so when the work was taken meanwhile)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app import access
from app.errors import ActionError
from app.models import PushMessage, ReviewTask, TaskState
from app.push import keys, subscriptions
from app.push.kinds import CATEGORIES
from app.templating import templates
from app.views import form_fields
from app.views.apikit import body, caller, path_id
from app.views.earner.responses import json_errors, see_other

RECENT = 10


class Keys(BaseModel):
    p256dh: str = Field(min_length=1, max_length=120)
    auth: str = Field(min_length=1, max_length=40)


class SubscriptionIn(BaseModel):
    """What PushSubscription.toJSON() gives, plus the server key the browser subscribed with."""

    endpoint: str = Field(min_length=1, max_length=1000)
    keys: Keys
    server_key: str = Field(min_length=1, max_length=100)


class EndpointIn(BaseModel):
    endpoint: str = Field(min_length=1, max_length=1000)


def _audiences(roles: frozenset[str]) -> set[str]:
    offered = {"earner"}
    if roles & {"reviewer", "expert"}:
        offered.add("reviewer")
    if "coordinator" in roles:
        offered.add("coordinator")
    return offered


async def settings_page(request: Request, *, error: ActionError | None = None) -> Response:
    """GET /me/push: this person's devices, what is pushed to them, and what was sent lately."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        key = await keys.current_key(session, runtime.settings.secret_key)
        devices = await subscriptions.devices(session, user)
        choices = await subscriptions.choices_of(session, user.id)
        recent = (
            await session.exec(
                select(PushMessage)
                .where(PushMessage.user_id == user.id)
                .order_by(col(PushMessage.created_at).desc())
                .limit(RECENT)
            )
        ).all()
    offered = _audiences(getattr(request.state, "roles", frozenset()))
    return templates.TemplateResponse(
        request,
        "push/settings.html",
        {
            "server_key": key.public_key,
            "devices": devices,
            "categories": [
                (name, category, choices[name])
                for name, category in CATEGORIES.items()
                if category.audience in offered
            ],
            "recent": recent,
            "batch_minutes": runtime.settings.push_batch_minutes,
            "error": error.detail if error else None,
        },
        status_code=error.status if error else 200,
    )


async def save_choices(request: Request) -> Response:
    """POST /me/push/choices: one checkbox `on_<category>` per kind; unticked means off.
    Kinds not offered to this person keep their current answer."""
    runtime, user = await caller(request)
    fields = await form_fields(request)
    offered = _audiences(getattr(request.state, "roles", frozenset()))
    try:
        async with runtime.sessions() as session:
            current = await subscriptions.choices_of(session, user.id)
            enabled = {
                name
                for name, category in CATEGORIES.items()
                if (
                    fields.get(f"on_{name}") == "yes"
                    if category.audience in offered
                    else current[name]
                )
            }
            await subscriptions.set_choices(session, user, enabled)
    except ActionError as error:
        if error.status == 401:
            raise
        return await settings_page(request, error=error)
    return see_other("/me/push")


async def remove_device(request: Request) -> Response:
    """POST /me/push/devices/{device_id}/remove: forget one of my devices."""
    runtime, user = await caller(request)
    device_id = path_id(request, "device_id")
    async with runtime.sessions() as session:
        await subscriptions.remove(session, user, device_id)
    return see_other("/me/push")


@json_errors
async def subscribe(request: Request) -> Response:
    """POST /me/push/subscriptions (JSON, from static/push.js): store this device."""
    runtime, user = await caller(request)
    given = await body(request, SubscriptionIn)
    async with runtime.sessions() as session:
        device = await subscriptions.subscribe(
            session,
            runtime.settings,
            user,
            endpoint=given.endpoint,
            p256dh=given.keys.p256dh,
            auth=given.keys.auth,
            server_key=given.server_key,
            user_agent=request.headers.get("user-agent", ""),
        )
    return JSONResponse({"id": str(device.id), "browser": device.browser}, status_code=201)


@json_errors
async def unsubscribe(request: Request) -> Response:
    """POST /me/push/subscriptions/forget (JSON {endpoint}): the browser stopped; forget it."""
    runtime, user = await caller(request)
    given = await body(request, EndpointIn)
    async with runtime.sessions() as session:
        forgotten = await subscriptions.remove_endpoint(session, user, given.endpoint)
    return JSONResponse({"forgotten": forgotten})


async def open_push(request: Request) -> Response:
    """GET /push/open/{message_id}: where a tapped push lands. Work that was taken meanwhile
    is said so here, with the way to the feed; everything else goes straight to its page."""
    runtime, user = await caller(request)
    message_id = path_id(request, "message_id")
    async with runtime.sessions() as session:
        message = await session.get(PushMessage, message_id)
        if message is None or message.user_id != user.id:
            raise ActionError("not_found", "That was not found.", 404)
        if message.opened_at is None:
            message.opened_at = datetime.now(UTC)
            session.add(message)
            await session.commit()
        target = str(message.data.get("target") or "/")
        if message.kind == "work.new":
            ids = [uuid.UUID(t) for t in message.data.get("task_ids", [])]
            waiting = (
                await session.execute(
                    access.eligible_tasks(user).where(col(ReviewTask.id).in_(ids))
                )
            ).all()
            if not waiting:
                return _landing(request, "taken", message)
            return see_other("/review")
        if message.kind == "claim.expiring":
            task = await session.get(ReviewTask, uuid.UUID(str(message.data.get("task_id"))))
            if task is None or task.state != TaskState.claimed or task.reviewer_id != user.id:
                return _landing(request, "ended", message)
    # Only our own paths: a push never sends a person off-site.
    return see_other(target if target.startswith("/") and not target.startswith("//") else "/")


def _landing(request: Request, why: str, message: PushMessage) -> Response:
    return templates.TemplateResponse(
        request,
        "push/landing.html",
        {"why": why, "message": message, "count": int(message.data.get("count") or 1)},
    )


routes = [
    Route("/me/push", settings_page),
    Route("/me/push/choices", save_choices, methods=["POST"]),
    Route("/me/push/devices/{device_id}/remove", remove_device, methods=["POST"]),
    Route("/me/push/subscriptions", subscribe, methods=["POST"]),
    Route("/me/push/subscriptions/forget", unsubscribe, methods=["POST"]),
    Route("/push/open/{message_id}", open_push),
]
