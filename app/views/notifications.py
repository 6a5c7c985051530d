"""My notifications: the page (newest first, in words, with links), mark read, and the unread
count static/bell.js reads on every page."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.access import require_user
from app.actions import notifications as actions
from app.auth import current_user
from app.models import Notification
from app.templating import templates
from app.views import form_fields, journey

PAGE_SIZE = 50


@dataclass(frozen=True)
class Shown:
    """One notification as a sentence and (when there is one) the page it is about."""

    id: int
    text: str
    href: str | None
    created_at: datetime
    unread: bool


def _uuid(value: Any) -> str | None:
    # Payloads are ours, but a link is built from them: only a real id makes a path.
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def describe(kind: str, payload: dict[str, Any]) -> tuple[str, str | None]:
    """The sentence a person reads for a notification, and where it leads."""
    credential = str(payload.get("credential") or "your credential")
    submission = _uuid(payload.get("submission_id"))
    packet = f"/submissions/{submission}" if submission else None
    if kind == "submission.checking":
        return f"Your packet for {credential} was handed in; its evidence is being checked.", packet
    if kind == "submission.queued":
        return f"Your packet for {credential} is waiting for a reviewer.", packet
    if kind == "submission.claimed":
        return f"A reviewer picked up your packet for {credential}.", packet
    if kind == "submission.returned":
        reason = str(payload.get("reason") or "")
        return f"Your packet came back to you before review. {reason}".strip(), packet
    if kind == "submission.decided":
        if payload.get("decision") == "pass":
            return f"Your packet for {credential} passed.", packet
        return f"Your packet for {credential}: not yet. Read the feedback and revise.", packet
    if kind == "review.received":
        return f"New feedback arrived on your packet for {credential}.", packet
    if kind == "badge.awarded":
        award = _uuid(payload.get("award_id"))
        title = str(payload.get("title") or "a")
        return f"You earned the {title} badge.", f"/badges/{award}" if award else None
    if kind == "badge.revoked":
        award = _uuid(payload.get("award_id"))
        reason = str(payload.get("reason") or "")
        return (
            f"A badge of yours was revoked. {reason}".strip(),
            f"/badges/{award}" if award else None,
        )
    if kind == "badge.expiring":
        award = _uuid(payload.get("award_id"))
        title = str(payload.get("title") or "a")
        return (
            f"Your {title} badge expires within 30 days; renew it to keep it in force.",
            f"/badges/{award}" if award else None,
        )
    if kind == "claim.expired":
        return "Your claim ran out of time; the review went back to the queue.", "/review"
    if kind == "appeal.opened":
        return f"An earner appealed a decision on {credential}.", "/coordinate"
    if kind == "feedback.flagged":
        where = _uuid(payload.get("credential_id"))
        return (
            f"An earner flagged a review's feedback on {credential} as inappropriate.",
            f"/coordinate/quality/{where}" if where else "/coordinate/quality",
        )
    if kind == "rating.flagged":
        where = str(payload.get("path") or "")
        link = where if re.fullmatch(r"/credentials/[a-z0-9-]+/[a-z0-9-]+", where) else None
        text = f"A rating of {credential} was flagged as abusive: hide it or keep it."
        return text, f"{link}#ratings" if link else "/catalog"
    if kind == "panel.invited":
        panel = _uuid(payload.get("panel_id"))
        name = str(payload.get("panel") or "a review panel")
        return (
            f"You sit on {name}, reviewing the design of {credential}.",
            f"/panels/{panel}" if panel else "/panels",
        )
    if kind == "appeal.ruled":
        ruling = str(payload.get("ruling") or "")
        verdict = "overturned" if payload.get("state") == "overturned" else "upheld"
        return f"Your appeal was ruled on: the decision was {verdict}. {ruling}".strip(), packet
    if kind == "pilot.spot_free":
        where = str(payload.get("path") or "")
        link = where if re.fullmatch(r"/credentials/[a-z0-9-]+/[a-z0-9-]+", where) else "/catalog"
        return f"A spot is free in the pilot of {credential}: start your packet now.", link
    if (journey_text := journey.describe(kind, payload)) is not None:
        return journey_text
    return f"Update: {kind}.", None


async def page(request: Request) -> Response:
    """GET /notifications[?before=id]: my notifications, newest first, a page at a time."""
    user = require_user(await current_user(request))
    raw = request.query_params.get("before", "")
    before = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
    query = select(Notification).where(Notification.user_id == user.id)
    if before is not None:
        query = query.where(col(Notification.id) < before)
    async with request.app.state.runtime.sessions() as session:
        rows = (
            await session.exec(query.order_by(col(Notification.id).desc()).limit(PAGE_SIZE + 1))
        ).all()
    shown = [
        Shown(n.id or 0, *describe(n.kind, n.payload), n.created_at, n.read_at is None)
        for n in rows[:PAGE_SIZE]
    ]
    return templates.TemplateResponse(
        request,
        "notifications.html",
        {
            "notifications": shown,
            "unread": any(n.unread for n in shown),
            # The newest shown: "mark all read" covers what this page showed, nothing newer.
            "up_to": shown[0].id if shown and before is None else None,
            "older": shown[-1].id if len(rows) > PAGE_SIZE else None,
            "paged": before is not None,
        },
    )


async def mark_read(request: Request) -> Response:
    """POST /notifications/read: mark mine read (up to the `up_to` id the page showed)."""
    user = require_user(await current_user(request))
    form = await form_fields(request)
    raw = form.get("up_to", "")
    up_to = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
    async with request.app.state.runtime.sessions() as session:
        await actions.mark_read(session, user, up_to)
    return RedirectResponse("/notifications", status_code=303)


async def unread_json(request: Request) -> JSONResponse:
    """GET /notifications/unread.json: {"unread": n, "last_id": newest id or 0}; bell.js counts
    live notifications with a larger id on top. 401 as JSON when logged out."""
    user = await current_user(request)
    if user is None:
        return JSONResponse(
            {"error": "unauthenticated", "detail": "Log in to continue."}, status_code=401
        )
    async with request.app.state.runtime.sessions() as session:
        unread, last_id = (
            await session.exec(
                select(
                    func.count().filter(col(Notification.read_at).is_(None)),
                    func.coalesce(func.max(Notification.id), 0),
                ).where(col(Notification.user_id) == user.id)
            )
        ).one()
    return JSONResponse(
        {"unread": int(unread), "last_id": int(last_id)}, headers={"Cache-Control": "no-store"}
    )


routes = [
    Route("/notifications", page),
    Route("/notifications/read", mark_read, methods=["POST"]),
    Route("/notifications/unread.json", unread_json),
]
