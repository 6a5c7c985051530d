"""Recognition lists: a recognizer keeps their organisation's list of recognised credentials
(credit, dates, note) on /recognition; anyone downloads a list as CSV or JSON. And the
catalogue map for coordinators and recognizers: standards coverage as a chart, and
near-duplicate credentials across issuers."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app import access, coverage, duplicates, recognition, reports
from app.actions import catalog
from app.actions import recognition as actions
from app.errors import ActionError, not_found
from app.models import Credential, CredentialStatus, CreditType, Organisation, Role
from app.recognition import CREDIT_LABEL, EXPORT_COLUMNS
from app.templating import templates
from app.views import form_fields
from app.views.apikit import caller, path_id
from app.views.catalog.credential import SLUG

# A cell starting with one of these runs as a formula in a spreadsheet (an empty cell
# does not: str.startswith, never `v[:1] in "=+-@"`, which holds for "").
FORMULA = ("=", "+", "-", "@")
BAR = 180  # the coverage chart's bar area, in SVG units


async def index(request: Request, *, error: ActionError | None = None) -> Response:
    """GET /recognition: each of my organisations' lists, with a form to add or change."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        organisations = await reports.recognized(session, user)
        lists = [(o, await recognition.list_rows(session, o.id)) for o in organisations]
        credentials = (
            await session.exec(
                select(Credential.id, Credential.title, Organisation.name)
                .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
                .where(
                    col(Credential.status).in_([CredentialStatus.pilot, CredentialStatus.published])
                )
                .order_by(col(Credential.title))
            )
        ).all()
    return templates.TemplateResponse(
        request,
        "recognition/index.html",
        {
            "lists": lists,
            "credentials": credentials,
            "credit_types": [(c.value, CREDIT_LABEL[c]) for c in CreditType],
            "error": error.detail if error else None,
            "notice": request.session.pop("recognition_flash", None),
        },
        status_code=error.status if error else 200,
    )


async def show(request: Request) -> Response:
    return await index(request)


def _rule(form: dict[str, str]) -> actions.Rule:
    try:
        amount = Decimal(form.get("amount", "").strip())
    except InvalidOperation:
        raise ActionError("bad_amount", "Amount: a number such as 10 or 1.5.", 422) from None
    if not amount.is_finite():
        raise ActionError("bad_amount", "Amount: a number such as 10 or 1.5.", 422)
    try:
        start = date.fromisoformat(form.get("effective_from", "").strip())
        raw_end = form.get("effective_to", "").strip()
        end = date.fromisoformat(raw_end) if raw_end else None
    except ValueError:
        raise ActionError("bad_dates", "Dates: YYYY-MM-DD (until may stay empty).", 422) from None
    return actions.Rule(form.get("credit_type", ""), amount, start, end, form.get("note", ""))


def _credential_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ActionError("bad_credential", "Choose a credential from the list.", 422) from None


async def save(request: Request) -> Response:
    """POST /recognition/{organisation}: add a credential or change its rule."""
    runtime, user = await caller(request)
    form = await form_fields(request)
    try:
        await actions.recognise(
            runtime,
            user,
            request.path_params["organisation"],
            _credential_id(form.get("credential_id", "")),
            _rule(form),
        )
    except ActionError as error:
        if error.status in (401, 404):
            raise
        return await index(request, error=error)
    request.session["recognition_flash"] = "Saved: the credential's page shows it now."
    return RedirectResponse("/recognition", status_code=303)


async def remove(request: Request) -> Response:
    """POST /recognition/{organisation}/{credential_id}/withdraw"""
    runtime, user = await caller(request)
    await actions.withdraw(
        runtime, user, request.path_params["organisation"], path_id(request, "credential_id")
    )
    request.session["recognition_flash"] = "Taken off the list."
    return RedirectResponse("/recognition", status_code=303)


async def _list_of(request: Request) -> tuple[Organisation, list[dict[str, Any]]]:
    slug = str(request.path_params["organisation"])
    if len(slug) > 64 or not SLUG.fullmatch(slug):
        raise not_found("That list")
    async with request.app.state.runtime.sessions() as session:
        organisation = await catalog.organisation_by_slug(session, slug)
        if organisation is None:
            raise not_found("That list")
        return organisation, await recognition.list_rows(session, organisation.id)


async def export_csv(request: Request) -> Response:
    """GET /recognition/{organisation}.csv: the list, one row per credential."""
    organisation, rows = await _list_of(request)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        # A cell starting with = + - @ would run as a formula in a spreadsheet: quote it.
        writer.writerow(
            {
                k: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA) else v
                for k, v in row.items()
            }
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{organisation.slug}-recognised.csv"'
        },
    )


async def export_json(request: Request) -> JSONResponse:
    """GET /recognition/{organisation}.json"""
    organisation, rows = await _list_of(request)
    return JSONResponse({"organisation": organisation.slug, "recognitions": rows})


def coverage_chart(cells: list[coverage.Cell]) -> dict[str, Any]:
    """Bar geometry for the server-drawn SVG: one bar per standard, grouped by framework."""
    top = max((c.credentials for c in cells), default=0) or 1
    rows: list[dict[str, Any]] = []
    y = 0
    framework = None
    for cell in cells:
        if cell.framework != framework:
            framework = cell.framework
            y += 26
            rows.append({"heading": framework, "y": y})
            y += 6
        rows.append(
            {
                "cell": cell,
                "y": y,
                "width": round(BAR * cell.credentials / top, 1),
            }
        )
        y += 24
    return {"rows": rows, "height": y + 8, "width": 360}


async def catalogue_map(request: Request) -> Response:
    """GET /catalogue-map: the standards coverage chart and near-duplicates across issuers,
    for coordinators and recognizers."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        roles = {role for _, role in await access.roles_of(session, user)}
        if not roles & {Role.coordinator, Role.recognizer}:
            raise not_found("That page")
        cells = await coverage.coverage(session)
        pairs = await duplicates.near_duplicates(session)
        pages = {
            cid: f"/credentials/{org}/{slug}"
            for cid, slug, org in (
                await session.exec(
                    select(Credential.id, Credential.slug, Organisation.slug).join(
                        Organisation, col(Organisation.id) == col(Credential.organisation_id)
                    )
                )
            ).all()
        }
    return templates.TemplateResponse(
        request,
        "recognition/map.html",
        {
            "cells": cells,
            "chart": coverage_chart(cells),
            "pairs": pairs,
            "pages": pages,
            "few": coverage.FEW,
            "counts": {
                band: sum(1 for c in cells if c.band == band) for band in ("none", "few", "many")
            },
        },
    )


routes = [
    Route("/recognition", show),
    Route("/recognition/{organisation}.csv", export_csv),
    Route("/recognition/{organisation}.json", export_json),
    Route("/recognition/{organisation}", save, methods=["POST"]),
    Route("/recognition/{organisation}/{credential_id}/withdraw", remove, methods=["POST"]),
    Route("/catalogue-map", catalogue_map),
]
