"""Earners rate a review's feedback (1-5, optionally flagging it as inappropriate); earners
who finished a credential rate the credential itself, coordinators answer once and hide
abusive text, anyone signed in flags it. The credential page shows them (credential_quality)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import access, panels, recognition
from app import ratings as rating_reads
from app.actions import ratings
from app.auth import current_user
from app.errors import ActionError, not_found
from app.models import Credential, CredentialRating, FeedbackRating, Organisation, Review, User
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


async def credential_quality(
    session: AsyncSession, user: User | None, credential: Credential
) -> dict[str, Any]:
    """What the credential page shows of the catalogue's own quality: the ratings (summary
    from the minimum count on, each rating with its answer), whether this person may rate,
    moderate, the panel-certified mark, and who recognises the credential for what."""
    moderator = user is not None and await access.is_coordinator_of(
        session, user, credential.organisation_id
    )
    rows = await rating_reads.ratings_of(session, credential.id)
    mine = user is not None and any(r.earner_id == user.id for r in rows)
    can_rate = (
        user is not None and not mine and await rating_reads.has_finished(session, user, credential)
    )
    summary = (await rating_reads.summaries(session, [credential.id]))[credential.id]
    return {
        "summary": summary,
        "dimensions": rating_reads.DIMENSIONS,
        "ratings": [
            rating_reads.public_json(r, moderator=moderator) | {"flag_reason": r.flag_reason}
            for r in rows
        ],
        "moderator": moderator,
        "can_rate": can_rate,
        "rated": mine,
        "mark": await panels.mark_of(session, credential.id),
        "recognitions": await recognition.of_credential(session, credential.id),
        "flash": None,
    }


async def _back_to(session: AsyncSession, credential_id: uuid.UUID) -> str:
    row = (
        await session.exec(
            select(Credential.slug, Organisation.slug)
            .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
            .where(Credential.id == credential_id)
        )
    ).first()
    if row is None:
        raise not_found("That credential")
    return f"/credentials/{row[1]}/{row[0]}#ratings"


async def _after(request: Request, credential_id: uuid.UUID, text: str, error: bool) -> Response:
    request.session["quality_flash"] = {"text": text, "error": error}
    async with request.app.state.runtime.sessions() as session:
        target = await _back_to(session, credential_id)
    return RedirectResponse(target, status_code=303)


def _stars(form: dict[str, str]) -> dict[str, int]:
    stars = {}
    for key in rating_reads.DIMENSIONS:
        raw = form.get(key, "")
        stars[key] = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 3 else 0
    return stars


async def rate_credential(request: Request) -> Response:
    """POST /credentials/{credential_id}/ratings: stars on each dimension and a short text."""
    user = access.require_user(await current_user(request))
    credential_id = path_id(request, "credential_id")
    form = await form_fields(request)
    try:
        await ratings.rate_credential(
            request.app.state.runtime, user, credential_id, _stars(form), form.get("text", "")
        )
    except ActionError as error:
        if error.status == 404:
            raise
        return await _after(request, credential_id, error.detail, True)
    return await _after(request, credential_id, "Thank you: your rating is in.", False)


async def _rating_credential(request: Request) -> tuple[uuid.UUID, uuid.UUID]:
    rating_id = path_id(request, "rating_id")
    async with request.app.state.runtime.sessions() as session:
        rating = await session.get(CredentialRating, rating_id)
    if rating is None:
        raise not_found("That rating")
    return rating_id, rating.credential_id


async def answer(request: Request) -> Response:
    """POST /ratings/{rating_id}/answer: the issuer's one public answer."""
    user = access.require_user(await current_user(request))
    rating_id, credential_id = await _rating_credential(request)
    form = await form_fields(request)
    try:
        await ratings.answer_rating(
            request.app.state.runtime, user, rating_id, form.get("answer", "")
        )
    except ActionError as error:
        if error.status == 404:
            raise
        return await _after(request, credential_id, error.detail, True)
    return await _after(request, credential_id, "Answer published.", False)


async def flag(request: Request) -> Response:
    """POST /ratings/{rating_id}/flag: report abusive text to the issuer's coordinators."""
    user = access.require_user(await current_user(request))
    rating_id, credential_id = await _rating_credential(request)
    form = await form_fields(request)
    try:
        await ratings.flag_rating(
            request.app.state.runtime, user, rating_id, form.get("reason", "")
        )
    except ActionError as error:
        if error.status == 404:
            raise
        return await _after(request, credential_id, error.detail, True)
    return await _after(request, credential_id, "Flagged: the coordinators will decide.", False)


async def moderate(request: Request) -> Response:
    """POST /ratings/{rating_id}/hide or /keep: a coordinator's decision, audited."""
    user = access.require_user(await current_user(request))
    rating_id, credential_id = await _rating_credential(request)
    form = await form_fields(request)
    hide = request.url.path.endswith("/hide")
    await ratings.moderate_rating(
        request.app.state.runtime, user, rating_id, hide=hide, note=form.get("note", "")
    )
    done = "Text hidden; the stars still count." if hide else "Kept visible; flag cleared."
    return await _after(request, credential_id, done, False)


routes = [
    Route("/me/reviews/{review_id}/rate", rate_page, methods=["GET", "POST"]),
    Route("/credentials/{credential_id}/ratings", rate_credential, methods=["POST"]),
    Route("/ratings/{rating_id}/answer", answer, methods=["POST"]),
    Route("/ratings/{rating_id}/flag", flag, methods=["POST"]),
    Route("/ratings/{rating_id}/hide", moderate, methods=["POST"]),
    Route("/ratings/{rating_id}/keep", moderate, methods=["POST"]),
]
