"""Recognizers' reports: who holds which credential, PD hours per person and month, and credit
by their recognition lists' rules, for their own organisations' people, as a page, CSV and
JSON. Badges are verified at /verify."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app import access, reports
from app.auth import current_user
from app.errors import not_found
from app.models import Credential, Organisation
from app.templating import templates

KINDS = {
    "holders": reports.HOLDER_COLUMNS,
    "pd-hours": reports.PD_COLUMNS,
    "credit": reports.CREDIT_COLUMNS,
}
# The page's column headings (CSV and JSON keep the field names).
HEADINGS = {
    "name": "Name",
    "email": "Email",
    "school": "School",
    "organisations": "Organisations",
    "credential": "Credential",
    "issuer": "Issued by",
    "issued_at": "Issued on",
    "pd_hours": "PD hours",
    "badge_url": "Badge",
    "period": "Month",
    "credentials": "Credentials earned",
    "recognised_by": "Recognised by",
    "credit_type": "Credit",
    "amount": "Amount",
}
# What the table's caption counts, singular and plural.
COUNTED = {
    "holders": ("badge", "badges"),
    "pd-hours": ("person-month", "person-months"),
    "credit": ("credit row", "credit rows"),
}


def _hours(raw: str) -> str:
    hours = Decimal(raw).normalize()
    return f"{hours:f} hour" if hours == 1 else f"{hours:f} hours"


def for_people(column: str, value: Any) -> str:
    """A report cell as a person reads it: dates in words, hours with their unit."""
    if value is None or value == "":
        return "—"
    if column == "issued_at":
        return datetime.fromisoformat(value).strftime("%-d %B %Y")
    if column == "period":
        return datetime.strptime(value, "%Y-%m").strftime("%B %Y")  # noqa: DTZ007 - a month
    if column == "pd_hours":
        return _hours(str(value))
    return str(value)


def counted(kind: str, count: int) -> str:
    one, many = COUNTED[kind]
    return f"{count:,} {one if count == 1 else many}"


async def _report(request: Request, kind: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    user = access.require_user(await current_user(request))
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        organisations = await reports.recognized(session, user)
        query = dict(request.query_params)
        filters = reports.parse_filters(query, organisations)
        if kind == "credit":
            lists = [o.id for o in organisations]
            rows = await reports.credit(session, filters, lists)
        else:
            rows = await reports.holders(session, filters, runtime.settings.base_url)
        credentials = (
            await session.exec(
                select(Credential.id, Credential.title, Organisation.name)
                .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
                .where(col(Credential.status) != "draft")
                .order_by(col(Credential.title))
            )
        ).all()
    if kind == "pd-hours":
        rows = reports.pd_hours(rows)
    context = {
        "organisations": organisations,
        "credentials": [(str(i), f"{t} ({o})") for i, t, o in credentials],
        "query": query,
    }
    return rows, context


def _kind(request: Request) -> str:
    kind = request.path_params.get("kind", "holders")
    if kind not in KINDS:
        raise not_found("That report")
    return kind


async def report_page(request: Request) -> Response:
    """GET /reports/{holders|pd-hours}?organisation=&credential=&from=&to="""
    kind = _kind(request)
    rows, context = await _report(request, kind)
    query_string = request.url.query
    return templates.TemplateResponse(
        request,
        "reports/index.html",
        {
            **context,
            "kind": kind,
            "rows": rows,
            "columns": KINDS[kind],
            "headings": HEADINGS,
            "shown": [{c: for_people(c, row.get(c)) for c in KINDS[kind]} for row in rows],
            "caption": counted(kind, len(rows)),
            "suffix": f"?{query_string}" if query_string else "",
        },
    )


async def report_csv(request: Request) -> Response:
    """GET /reports/{kind}.csv: one header row, then one row per holding (or person-month)."""
    kind = _kind(request)
    rows, _ = await _report(request, kind)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=KINDS[kind], lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: reports.spreadsheet_cell(v) for k, v in row.items()})
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="mcx-{kind}.csv"',
            "Cache-Control": "no-store",
        },
    )


async def report_json(request: Request) -> JSONResponse:
    kind = _kind(request)
    rows, _ = await _report(request, kind)
    return JSONResponse({"report": kind, "rows": rows}, headers={"Cache-Control": "no-store"})


async def reports_home(request: Request) -> Response:
    request.path_params["kind"] = "holders"
    return await report_page(request)


routes = [
    Route("/reports", reports_home),
    Route("/reports/{kind}.csv", report_csv),
    Route("/reports/{kind}.json", report_json),
    Route("/reports/{kind}", report_page),
    Route("/api/v1/reports/{kind}", report_json),
]
