"""Pilot waitlists for earners: join from the credential page (or the API), leave again."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app import access
from app.actions import pilots
from app.auth import current_user
from app.models import Credential, Organisation
from app.views.apikit import caller, path_id


async def _back(request: Request, credential: Credential) -> RedirectResponse:
    async with request.app.state.runtime.sessions() as session:
        organisation = await session.get(Organisation, credential.organisation_id)
    assert organisation is not None
    return RedirectResponse(
        f"/credentials/{organisation.slug}/{credential.slug}#start-heading", status_code=303
    )


async def waitlist_form(request: Request) -> Response:
    """POST /credentials/{id}/waitlist: join (or, with leave=1, leave) a full pilot's line."""
    user = access.require_user(await current_user(request))
    credential_id = path_id(request, "credential_id")
    form = await request.form(max_files=0, max_fields=5)
    async with request.app.state.runtime.sessions() as session:
        if form.get("leave") == "1":
            await pilots.leave_waitlist(session, user, credential_id)
            request.session["flash"] = "You left the waitlist."
        else:
            place = await pilots.join_waitlist(session, user, credential_id)
            request.session["flash"] = f"You are number {place} on the waitlist."
        credential = await session.get(Credential, credential_id)
    assert credential is not None
    return await _back(request, credential)


async def waitlist_api(request: Request) -> JSONResponse:
    """POST /api/v1/credentials/{id}/waitlist: join (201, with my place); DELETE: leave."""
    runtime, user = await caller(request)
    credential_id = path_id(request, "credential_id")
    async with runtime.sessions() as session:
        if request.method == "DELETE":
            await pilots.leave_waitlist(session, user, credential_id)
            return JSONResponse({"waiting": False})
        place = await pilots.join_waitlist(session, user, credential_id)
    return JSONResponse({"waiting": True, "position": place}, status_code=201)


routes = [
    Route("/credentials/{credential_id}/waitlist", waitlist_form, methods=["POST"]),
    Route("/api/v1/credentials/{credential_id}/waitlist", waitlist_api, methods=["POST", "DELETE"]),
]
