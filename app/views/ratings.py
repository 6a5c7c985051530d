"""Earners rate a review's feedback (1-5, optionally flagging it as inappropriate)."""

from __future__ import annotations

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import access
from app.actions import ratings
from app.auth import current_user
from app.errors import ActionError
from app.models import FeedbackRating, Review
from app.templating import templates
from app.views import form_fields
from app.views.apikit import path_id


async def _render(
    request: Request,
    review: Review,
    rating: FeedbackRating | None,
    status: int = 200,
    **extra: object,
) -> Response:
    return templates.TemplateResponse(
        request,
        "earner/rate.html",
        {"review": review, "rating": rating, "form": {}, **extra},
        status_code=status,
    )


async def rate_page(request: Request) -> Response:
    """GET: the feedback and the rating form; POST: rate it (once)."""
    user = access.require_user(await current_user(request))
    review_id = path_id(request, "review_id")
    async with request.app.state.runtime.sessions() as session:
        review, submission = await access.access_review_of_mine(session, user, review_id)
        rating = (
            await session.exec(select(FeedbackRating).where(FeedbackRating.review_id == review.id))
        ).first()
    if request.method == "GET":
        return await _render(request, review, rating, submission=submission)
    form = await form_fields(request)
    try:
        helpfulness = int(form.get("helpfulness", ""))
    except ValueError:
        helpfulness = 0
    try:
        await ratings.rate_feedback(
            request.app.state.runtime,
            user,
            review_id,
            helpfulness,
            inappropriate=form.get("inappropriate") == "on",
            comment=form.get("comment", ""),
        )
    except ActionError as error:
        if error.status == 404:
            raise
        return await _render(
            request,
            review,
            rating,
            error.status,
            submission=submission,
            error=error.detail,
            form=form,
        )
    return RedirectResponse(f"/me/reviews/{review_id}/rate?done=1", status_code=303)


routes = [Route("/me/reviews/{review_id}/rate", rate_page, methods=["GET", "POST"])]
