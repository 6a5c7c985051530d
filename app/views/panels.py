"""Credential review panels: the panels I sit on or my organisation convened, a form to
convene one, a panel's page (the quality rubric to score alone, then the results with
their agreement), and the quality rubric itself."""

from __future__ import annotations

import uuid

from sqlalchemy import or_
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import access, panels
from app.actions import panels as panel_actions
from app.errors import ActionError
from app.models import (
    Credential,
    CredentialPanel,
    CredentialStatus,
    Organisation,
    PanelMember,
    PanelScore,
    Role,
)
from app.quality import alpha_text
from app.templating import templates
from app.views import form_fields
from app.views.apikit import caller, path_id


async def index(request: Request, *, error: ActionError | None = None) -> Response:
    """GET /panels: panels I sit on; for coordinators, their organisations' panels too."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        roles = await access.roles_of(session, user)
        coordinated = [o for o, role in roles if role == Role.coordinator]
        seated = select(PanelMember.panel_id).where(PanelMember.user_id == user.id)
        rows = (
            await session.exec(
                select(CredentialPanel, Credential, Organisation.name)
                .join(Credential, col(Credential.id) == col(CredentialPanel.credential_id))
                .join(Organisation, col(Organisation.id) == col(CredentialPanel.organisation_id))
                .where(
                    or_(
                        col(CredentialPanel.id).in_(seated),
                        col(CredentialPanel.organisation_id).in_(coordinated),
                        col(Credential.organisation_id).in_(coordinated),
                    )
                )
                .order_by(col(CredentialPanel.created_at).desc())
                .limit(200)
            )
        ).all()
        credentials = (
            (
                await session.exec(
                    select(Credential)
                    .where(
                        col(Credential.status).in_(
                            [CredentialStatus.pilot, CredentialStatus.published]
                        )
                    )
                    .order_by(col(Credential.title))
                )
            ).all()
            if coordinated
            else []
        )
    return templates.TemplateResponse(
        request,
        "panels/index.html",
        {
            "panels": rows,
            "credentials": credentials,
            "can_convene": bool(coordinated),
            "error": error.detail if error else None,
            "form": {},
        },
        status_code=error.status if error else 200,
    )


async def show_index(request: Request) -> Response:
    return await index(request)


async def convene(request: Request) -> Response:
    """POST /panels (fields `credential_id`, `name`, `panellists`: one email per line)."""
    runtime, user = await caller(request)
    form = await form_fields(request)
    emails = form.get("panellists", "").replace(",", "\n").splitlines()
    try:
        credential_id = _chosen_id(form.get("credential_id", ""))
        panel = await panel_actions.convene(
            runtime, user, credential_id, form.get("name", ""), emails
        )
    except ActionError as error:
        if error.status == 401:
            raise
        return await index(request, error=error)
    return RedirectResponse(f"/panels/{panel.id}", status_code=303)


def _chosen_id(raw: str) -> uuid.UUID:
    """A credential id from a form field (422, not 404: the person chose from a list)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ActionError("bad_credential", "Choose a credential from the list.", 422) from None


async def page(request: Request, *, error: ActionError | None = None) -> Response:
    """GET /panels/{id}: the scoring form for a panellist, the status for coordinators, and
    the results with alpha once the panel decided."""
    runtime, user = await caller(request)
    panel_id = path_id(request, "panel_id")
    async with runtime.sessions() as session:
        panel, member = await panel_actions.access_panel(session, user, panel_id)
        credential = await session.get(Credential, panel.credential_id)
        organisation = await session.get(Organisation, panel.organisation_id)
        detail = await panels.panel_detail(session, panel)
        mine = {
            s.component: s
            for s in (
                await session.exec(
                    select(PanelScore)
                    .where(PanelScore.panel_id == panel.id)
                    .where(PanelScore.user_id == user.id)
                )
            ).all()
        }
        submitted = (
            await session.exec(
                select(PanelMember.submitted_at)
                .where(PanelMember.panel_id == panel.id)
                .where(PanelMember.user_id == user.id)
            )
        ).first()
        can_close = panel.decided_at is None and await access.is_coordinator_of(
            session, user, panel.organisation_id
        )
        issuer = await session.get(Organisation, credential.organisation_id) if credential else None
    return templates.TemplateResponse(
        request,
        "panels/show.html",
        {
            "panel": panel,
            "detail": detail,
            "credential": credential,
            "issuer": issuer,
            "organisation": organisation,
            "member": member,
            "submitted": submitted is not None,
            "mine": mine,
            "rubric": panels.QUALITY_RUBRIC,
            "levels": panels.LEVELS,
            "can_close": can_close,
            "alpha_text": alpha_text,
            "titles": {c.key: c.title for c in panels.QUALITY_RUBRIC},
            "error": error.detail if error else None,
            "notice": request.session.pop("panel_flash", None),
        },
        status_code=error.status if error else 200,
    )


async def show(request: Request) -> Response:
    return await page(request)


async def score(request: Request) -> Response:
    """POST /panels/{id}/scores: `level-<component>`, `comment-<component>`, and `submit`
    (present: final) or save as a draft."""
    runtime, user = await caller(request)
    panel_id = path_id(request, "panel_id")
    form = await form_fields(request)
    final = form.get("action") == "submit"
    given = []
    for component in panels.COMPONENT_KEYS:
        raw = form.get(f"level-{component}", "")
        if raw == "":
            continue
        level = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 3 else -1
        given.append(panel_actions.Score(component, level, form.get(f"comment-{component}", "")))
    try:
        await panel_actions.score(runtime, user, panel_id, given, final=final)
    except ActionError as error:
        if error.status == 404:
            raise
        return await page(request, error=error)
    request.session["panel_flash"] = "Scores submitted." if final else "Draft saved."
    return RedirectResponse(f"/panels/{panel_id}", status_code=303)


async def close(request: Request) -> Response:
    """POST /panels/{id}/close: decide on the scores submitted so far."""
    runtime, user = await caller(request)
    panel_id = path_id(request, "panel_id")
    try:
        await panel_actions.close(runtime, user, panel_id)
    except ActionError as error:
        if error.status == 404:
            raise
        return await page(request, error=error)
    request.session["panel_flash"] = "The panel has decided."
    return RedirectResponse(f"/panels/{panel_id}", status_code=303)


async def quality_rubric(request: Request) -> Response:
    """GET /quality-rubric: what panels score a credential's design against."""
    return templates.TemplateResponse(
        request,
        "panels/rubric.html",
        {
            "rubric": panels.QUALITY_RUBRIC,
            "levels": panels.LEVELS,
            "doc": panels.quality_rubric_json(),
        },
    )


routes = [
    Route("/panels", show_index),
    Route("/panels", convene, methods=["POST"]),
    Route("/panels/{panel_id}", show),
    Route("/panels/{panel_id}/scores", score, methods=["POST"]),
    Route("/panels/{panel_id}/close", close, methods=["POST"]),
    Route("/quality-rubric", quality_rubric),
]
