"""For coordinators: the badges their organisations issued, revoking one with a reason, and
issuing many from a CSV (credentials earned outside MCX) with a row-by-row report."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import access
from app.actions import awards as actions
from app.auth import current_user
from app.errors import ActionError, not_found
from app.models import Award, Credential, Role, User
from app.templating import templates
from app.views import form_fields

MAX_CSV_BYTES = 256 * 1024
SHOWN = 200


async def _organisations(request: Request, user: User) -> set[uuid.UUID]:
    async with request.app.state.runtime.sessions() as session:
        found = {
            org for org, role in await access.roles_of(session, user) if role == Role.coordinator
        }
    if not found:
        raise not_found("That page")
    return found


async def _page(request: Request, user: User, **extra: Any) -> Response:
    status = extra.pop("status", 200)
    organisations = await _organisations(request, user)
    async with request.app.state.runtime.sessions() as session:
        rows = (
            await session.exec(
                select(Award, Credential, User)
                .join(Credential, col(Credential.id) == col(Award.credential_id))
                .join(User, col(User.id) == col(Award.user_id))
                .where(col(Credential.organisation_id).in_(organisations))
                .order_by(col(Award.issued_at).desc())
                .limit(SHOWN)
            )
        ).all()
    context = {"rows": rows, "flash": request.session.pop("flash", None), **extra}
    return templates.TemplateResponse(
        request, "badges/coordinate.html", context, status_code=status
    )


async def badges_page(request: Request) -> Response:
    """GET /coordinate/badges: the latest badges of my organisations, to revoke or to issue."""
    user = access.require_user(await current_user(request))
    return await _page(request, user)


async def revoke(request: Request) -> Response:
    """POST /coordinate/badges/{award_id}/revoke (reason): revoke, then back to the list."""
    user = access.require_user(await current_user(request))
    try:
        award_id = uuid.UUID(request.path_params["award_id"])
    except ValueError:
        raise not_found("That badge") from None
    form = await form_fields(request)
    try:
        await actions.revoke_award(
            request.app.state.runtime, user, award_id, form.get("reason", "")
        )
    except ActionError as error:
        if error.status == 404:
            raise
        return await _page(request, user, error=error.detail, status=error.status)
    request.session["flash"] = "Badge revoked. Its page, its assertion and its status list say so."
    return RedirectResponse("/coordinate/badges", status_code=303)


async def bulk(request: Request) -> Response:
    """POST /coordinate/badges/issue (csv): issue each good row, report every row."""
    user = access.require_user(await current_user(request))
    await _organisations(request, user)
    if int(request.headers.get("content-length") or 0) > MAX_CSV_BYTES:
        return await _page(request, user, error="The CSV is larger than 256 KB.", status=413)
    form = await form_fields(request)
    try:
        reports = await actions.bulk_issue(request.app.state.runtime, user, form.get("csv", ""))
    except ActionError as error:
        return await _page(request, user, error=error.detail, csv=form.get("csv", ""), status=400)
    return await _page(request, user, reports=reports)


routes = [
    Route("/coordinate/badges", badges_page),
    Route("/coordinate/badges/issue", bulk, methods=["POST"]),
    Route("/coordinate/badges/{award_id:str}/revoke", revoke, methods=["POST"]),
]
