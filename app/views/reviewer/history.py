"""My submitted reviews, newest first, a page at a time."""

from __future__ import annotations

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response

from app.access import require_user
from app.auth import current_user
from app.models import Credential, Review, ReviewState, Submission
from app.templating import templates
from app.views.reviewer.cards import RECOMMENDATIONS

PAGE_SIZE = 20
# Deep pages cost an OFFSET scan; nobody reads 20 000 reviews on a phone.
MAX_PAGE = 1000


def page_number(raw: str | None) -> int:
    """?page= as a page number from 1; anything else is the first page."""
    try:
        number = int(raw or "1")
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)


async def history_page(request: Request) -> Response:
    """GET /review/history?page=N: credential, date, recommendation and my feedback."""
    user = require_user(await current_user(request))
    page = page_number(request.query_params.get("page"))
    async with request.app.state.runtime.sessions() as session:
        rows = (
            await session.exec(
                select(Review, Credential)
                .join(Submission, col(Submission.id) == col(Review.submission_id))
                .join(Credential, col(Credential.id) == col(Submission.credential_id))
                .where(col(Review.reviewer_id) == user.id)
                .where(col(Review.state) == ReviewState.submitted)
                .order_by(col(Review.submitted_at).desc(), col(Review.id))
                .offset((page - 1) * PAGE_SIZE)
                # One more than a page tells whether there is a next one, without a COUNT.
                .limit(PAGE_SIZE + 1)
            )
        ).all()
    return templates.TemplateResponse(
        request,
        "reviewer/history.html",
        {
            "rows": rows[:PAGE_SIZE],
            "page": page,
            "has_next": len(rows) > PAGE_SIZE,
            "recommendations": RECOMMENDATIONS,
        },
    )
