"""My reviewer credit: the ledger page, a certificate-style page to print, and a CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from app.access import require_user
from app.auth import current_user
from app.credit import Ledger, ledger
from app.models import User
from app.templating import templates


async def _mine(request: Request) -> tuple[User, Ledger]:
    user = require_user(await current_user(request))
    async with request.app.state.runtime.sessions() as session:
        return user, await ledger(session, user.id)


async def credit_page(request: Request) -> Response:
    """GET /review/credit: every completed review, its PD hours, and the totals."""
    user, found = await _mine(request)
    return templates.TemplateResponse(request, "reviewer/credit.html", {"ledger": found})


async def certificate(request: Request) -> Response:
    """GET /review/credit/certificate: the same ledger as a certificate to print or save."""
    user, found = await _mine(request)
    return templates.TemplateResponse(
        request,
        "reviewer/certificate.html",
        {"ledger": found, "reviewer": user, "issued": datetime.now(UTC)},
    )


def _safe(cell: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: quote them as text."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


async def credit_csv(request: Request) -> Response:
    """GET /review/credit.csv: one row per completed review."""
    _user, found = await _mine(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["completed_at", "credential", "organisation", "pd_hours", "review_id"])
    for e in found.entries:
        writer.writerow(
            [
                e.completed_at.isoformat(),
                _safe(e.credential),
                _safe(e.organisation),
                f"{e.pd_hours:.2f}",
                str(e.review_id),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="mcx-reviewer-credit.csv"'},
    )
