"""The front page: what MCX is, and the published catalogue at a glance."""

from __future__ import annotations

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth import current_user
from app.models import Credential, CredentialStatus, Organisation
from app.templating import templates


async def home(request: Request) -> Response:
    await current_user(request)
    async with request.app.state.runtime.sessions() as session:
        rows = (
            await session.exec(
                select(Credential, Organisation)
                .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
                .where(
                    col(Credential.status).in_([CredentialStatus.published, CredentialStatus.pilot])
                )
                .order_by(Credential.title)
            )
        ).all()
    return templates.TemplateResponse(request, "home.html", {"credentials": rows})


routes = [Route("/", home)]
