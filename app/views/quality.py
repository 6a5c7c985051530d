"""Coordinators' quality pages: agreement (Krippendorff's alpha) per credential and criterion,
reviewers below the trust floor, flagged feedback; per credential, its quality policy,
calibration examples, and every reviewer's trust and distance from consensus / expert."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import access
from app import ratings as rating_reads
from app.actions import calibration, catalog, collusion, policy, ratings, trust
from app.actions.submissions import latest_rubric
from app.auth import current_user
from app.errors import ActionError
from app.models import (
    CalibrationExample,
    Credential,
    FeedbackRating,
    ReviewerStanding,
    Role,
    User,
)
from app.quality import agreement, alpha_text
from app.templating import templates
from app.views import form_fields
from app.views.apikit import path_id

NOTICES = {
    "policy": "Quality policy saved.",
    "pair_cleared": "The pair may be routed each other's work again.",
    "example": "Calibration example added.",
    "override": "Suspension lifted: the reviewer may claim again.",
    "promoted": "Promoted to the expert pool.",
    "resolved": "Flag resolved.",
}


async def _my_credentials(request: Request, user: User) -> list[Credential]:
    async with request.app.state.runtime.sessions() as session:
        orgs = [o for o, role in await access.roles_of(session, user) if role == Role.coordinator]
        if not orgs:
            return []
        return list(
            (
                await session.exec(
                    select(Credential)
                    .where(col(Credential.organisation_id).in_(orgs))
                    .order_by(col(Credential.title))
                )
            ).all()
        )


async def overview(request: Request) -> Response:
    """GET /coordinate/quality: alpha per credential and criterion, reviewers below the
    trust floor, and feedback earners flagged."""
    user = access.require_user(await current_user(request))
    credentials = await _my_credentials(request, user)
    if not credentials:
        raise ActionError("not_found", "There is nothing to coordinate here.", 404)
    ids = [c.id for c in credentials]
    async with request.app.state.runtime.sessions() as session:
        alphas = await agreement(session, ids)
        below = await trust.standings_below_floor(session, ids)
        flags = await _open_flags(session, ids)
        flagged_ratings = await rating_reads.flagged_ratings(session, ids)
    return templates.TemplateResponse(
        request,
        "quality/index.html",
        {
            "credentials": credentials,
            "alphas": alphas,
            "alpha_text": alpha_text,
            "below": below,
            "flags": flags,
            "flagged_ratings": flagged_ratings,
            "notice": NOTICES.get(request.query_params.get("done", "")),
        },
    )


async def _open_flags(session: Any, credential_ids: list[uuid.UUID]) -> list[Any]:
    return list(
        (
            await session.exec(
                select(FeedbackRating, Credential)
                .join(Credential, col(Credential.id) == col(FeedbackRating.credential_id))
                .where(col(FeedbackRating.credential_id).in_(credential_ids))
                .where(col(FeedbackRating.inappropriate))
                .where(col(FeedbackRating.resolved_at).is_(None))
                .order_by(col(FeedbackRating.created_at))
            )
        ).all()
    )


async def _rubric_for_form(session: Any, credential: Credential) -> list[Any]:
    rubric = await latest_rubric(session, credential.id)
    return await catalog.rubric_scale(session, rubric.id if rubric else None)


async def credential_page(
    request: Request, *, error: str | None = None, form: dict[str, str] | None = None
) -> Response:
    """GET /coordinate/quality/{id}: policy, examples, alpha per criterion, every reviewer."""
    user = access.require_user(await current_user(request))
    credential_id = path_id(request, "credential_id")
    async with request.app.state.runtime.sessions() as session:
        credential = await access.managed_credential(session, user, credential_id)
        current = await policy.policy_for(session, credential.id)
        alphas = (await agreement(session, [credential.id]))[credential.id]
        standings = (
            await session.exec(
                select(ReviewerStanding, User)
                .join(User, col(User.id) == col(ReviewerStanding.reviewer_id))
                .where(ReviewerStanding.credential_id == credential.id)
                .order_by(col(ReviewerStanding.trust), col(User.name))
            )
        ).all()
        examples = (
            await session.exec(
                select(CalibrationExample)
                .where(CalibrationExample.credential_id == credential.id)
                .order_by(col(CalibrationExample.created_at))
            )
        ).all()
        rubric = await _rubric_for_form(session, credential)
        flags = await _open_flags(session, [credential.id])
    pairs = await collusion.flagged_pairs(request.app.state.runtime, user, credential.id)
    return templates.TemplateResponse(
        request,
        "quality/credential.html",
        {
            "credential": credential,
            "policy": current,
            "integers": policy.INTEGERS,
            "flags_labels": policy.FLAGS,
            "alphas": alphas,
            "alpha_text": alpha_text,
            "standings": standings,
            "promotable": {s.id for s, _user in standings if trust.promotable(s)},
            "examples": examples,
            "rubric": rubric,
            "flags": flags,
            "pairs": pairs,
            "error": error,
            "form": form or {},
            "notice": NOTICES.get(request.query_params.get("done", "")),
        },
        status_code=422 if error else 200,
    )


async def credential_get(request: Request) -> Response:
    return await credential_page(request)


async def save_policy(request: Request) -> Response:
    """POST /coordinate/quality/{id}/policy: every field at once; refused, nothing changes."""
    user = access.require_user(await current_user(request))
    credential_id = path_id(request, "credential_id")
    form = await form_fields(request)
    try:
        await policy.set_policy(request.app.state.runtime, user, credential_id, form)
    except ActionError as error:
        if error.status == 404:
            raise
        return await credential_page(request, error=error.detail, form=form)
    return RedirectResponse(f"/coordinate/quality/{credential_id}?done=policy", status_code=303)


def _references(form: dict[str, str]) -> list[calibration.Reference]:
    """level-<criterion> and why-<criterion> fields; a malformed id is simply not a reference."""
    found = []
    for key, value in form.items():
        if not key.startswith("level-"):
            continue
        try:
            criterion_id, level_id = uuid.UUID(key[6:]), uuid.UUID(value)
        except ValueError:
            continue
        found.append(calibration.Reference(criterion_id, level_id, form.get(f"why-{key[6:]}", "")))
    return found


async def add_example(request: Request) -> Response:
    """POST /coordinate/quality/{id}/examples: sample evidence with reference scores."""
    user = access.require_user(await current_user(request))
    credential_id = path_id(request, "credential_id")
    form = await form_fields(request)
    try:
        await calibration.add_example(
            request.app.state.runtime,
            user,
            credential_id,
            form.get("title", ""),
            form.get("evidence", ""),
            _references(form),
        )
    except ActionError as error:
        if error.status == 404:
            raise
        return await credential_page(request, error=error.detail, form=form)
    return RedirectResponse(f"/coordinate/quality/{credential_id}?done=example", status_code=303)


async def _standing_action(request: Request, promote: bool) -> Response:
    user = access.require_user(await current_user(request))
    standing_id = path_id(request, "standing_id")
    runtime = request.app.state.runtime
    try:
        if promote:
            await trust.promote_to_expert(runtime, user, standing_id)
        else:
            await trust.override_suspension(runtime, user, standing_id)
    except ActionError as error:
        if error.status == 404:
            raise
        return templates.TemplateResponse(
            request, "error.html", {"message": error.detail}, status_code=error.status
        )
    async with runtime.sessions() as session:
        standing = await session.get(ReviewerStanding, standing_id)
    assert standing is not None
    done = "promoted" if promote else "override"
    return RedirectResponse(
        f"/coordinate/quality/{standing.credential_id}?done={done}", status_code=303
    )


async def override(request: Request) -> Response:
    """POST /coordinate/quality/standings/{id}/override: let a suspended reviewer claim."""
    return await _standing_action(request, promote=False)


async def promote(request: Request) -> Response:
    """POST /coordinate/quality/standings/{id}/promote: approve into the expert pool."""
    return await _standing_action(request, promote=True)


async def resolve(request: Request) -> Response:
    """POST /coordinate/quality/flags/{id}/resolve: a flagged feedback has been dealt with."""
    user = access.require_user(await current_user(request))
    rating = await ratings.resolve_flag(
        request.app.state.runtime, user, path_id(request, "rating_id")
    )
    return RedirectResponse(
        f"/coordinate/quality/{rating.credential_id}?done=resolved", status_code=303
    )


async def clear_pair(request: Request) -> Response:
    """POST /coordinate/quality/pairs/{id}/clear: a coordinator looked and found no collusion."""
    user = access.require_user(await current_user(request))
    pair = await collusion.clear_pair(request.app.state.runtime, user, path_id(request, "pair_id"))
    return RedirectResponse(
        f"/coordinate/quality/{pair.credential_id}?done=pair_cleared#pairs", status_code=303
    )


routes = [
    Route("/coordinate/quality", overview),
    Route("/coordinate/quality/{credential_id}", credential_get),
    Route("/coordinate/quality/{credential_id}/policy", save_policy, methods=["POST"]),
    Route("/coordinate/quality/{credential_id}/examples", add_example, methods=["POST"]),
    Route("/coordinate/quality/standings/{standing_id}/override", override, methods=["POST"]),
    Route("/coordinate/quality/standings/{standing_id}/promote", promote, methods=["POST"]),
    Route("/coordinate/quality/flags/{rating_id}/resolve", resolve, methods=["POST"]),
    Route("/coordinate/quality/pairs/{pair_id}/clear", clear_pair, methods=["POST"]),
]
