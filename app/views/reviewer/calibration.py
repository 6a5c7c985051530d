"""Calibration: which credentials ask me to calibrate, the next example to score, and the
result of an attempt (the expert's reference level and why, for every criterion)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app import access
from app.actions import calibration, reviews
from app.actions.policy import policy_for
from app.actions.trust import standing_of
from app.auth import current_user
from app.errors import ActionError, not_found
from app.models import (
    Artifact,
    AttemptKind,
    CalibrationAttempt,
    CalibrationExample,
    CalibrationReference,
    Credential,
    RubricLevel,
    User,
)
from app.templating import templates
from app.views import form_fields
from app.views.apikit import path_id
from app.views.reviewer.sheet import LEVEL_FIELD


async def overview(request: Request) -> Response:
    """GET /review/calibration: my credentials with calibration state, suspension and trust."""
    user = access.require_user(await current_user(request))
    rows = []
    async with request.app.state.runtime.sessions() as session:
        pools = await access.reviewer_pools(session, user, gated=False)
        ids = sorted({credential_id for credential_id, _pool in pools})
        credentials = (
            await session.exec(
                select(Credential)
                .where(col(Credential.id).in_(ids))
                .order_by(col(Credential.title))
            )
        ).all()
        for credential in credentials:
            policy = await policy_for(session, credential.id)
            standing = await standing_of(session, user.id, credential.id)
            rows.append((credential, policy, standing))
    return templates.TemplateResponse(request, "reviewer/calibration.html", {"rows": rows})


async def _example_sheet(session: Any, example: CalibrationExample) -> dict[str, Any]:
    evidence = (
        await session.exec(select(Artifact).where(Artifact.version_id == example.version_id))
    ).all()
    _rubric, criteria, levels = await reviews.rubric_levels(session, example.rubric_id)
    by_criterion = {
        c.id: sorted(
            (lv for lv in levels.values() if lv.criterion_id == c.id), key=lambda x: x.position
        )
        for c in criteria
    }
    return {"example": example, "evidence": evidence, "criteria": criteria, "levels": by_criterion}


async def credential_page(request: Request) -> Response:
    """GET /review/calibration/{credential_id}: the next example to score, or where I stand."""
    user = access.require_user(await current_user(request))
    return await _render(request, user, path_id(request, "credential_id"))


async def _render(
    request: Request,
    user: User,
    credential_id: uuid.UUID,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    async with request.app.state.runtime.sessions() as session:
        pools = await access.reviewer_pools(session, user, gated=False)
        if not any(cid == credential_id for cid, _pool in pools):
            raise not_found("That credential")
        credential = await session.get(Credential, credential_id)
        assert credential is not None
        policy = await policy_for(session, credential_id)
        standing = await standing_of(session, user.id, credential_id)
        example = await calibration.next_example(session, user, credential_id)
        sheet = await _example_sheet(session, example) if example else None
        passed = len(
            (
                await session.exec(
                    select(CalibrationAttempt.id)
                    .where(CalibrationAttempt.reviewer_id == user.id)
                    .where(CalibrationAttempt.credential_id == credential_id)
                    .where(CalibrationAttempt.kind == AttemptKind.calibration)
                    .where(CalibrationAttempt.passed)
                )
            ).all()
        )
    return templates.TemplateResponse(
        request,
        "reviewer/calibrate.html",
        {
            "credential": credential,
            "policy": policy,
            "standing": standing,
            "sheet": sheet,
            "passed": passed,
            "error": error,
            "level_field": LEVEL_FIELD,
        },
        status_code=status,
    )


async def attempt(request: Request) -> Response:
    """POST /review/calibration/examples/{example_id}: score it; see the result."""
    user = access.require_user(await current_user(request))
    example_id = path_id(request, "example_id")
    form = await form_fields(request)
    chosen: dict[uuid.UUID, uuid.UUID] = {}
    for key, value in form.items():
        if key.startswith(LEVEL_FIELD):
            try:
                chosen[uuid.UUID(key[len(LEVEL_FIELD) :])] = uuid.UUID(value)
            except ValueError:
                continue
    try:
        made = await calibration.attempt_example(
            request.app.state.runtime, user, example_id, chosen
        )
    except ActionError as error:
        if error.status == 404:
            raise
        async with request.app.state.runtime.sessions() as session:
            example = await session.get(CalibrationExample, example_id)
        assert example is not None
        return await _render(
            request, user, example.credential_id, error=error.detail, status=error.status
        )
    return RedirectResponse(f"/review/calibration/attempts/{made.id}", status_code=303)


async def result(request: Request) -> Response:
    """GET /review/calibration/attempts/{id}: my levels against the reference, and why."""
    user = access.require_user(await current_user(request))
    attempt_id = path_id(request, "attempt_id")
    async with request.app.state.runtime.sessions() as session:
        made = await session.get(CalibrationAttempt, attempt_id)
        if made is None or made.reviewer_id != user.id:
            raise not_found("That attempt")
        example = await session.get(CalibrationExample, made.example_id)
        credential = await session.get(Credential, made.credential_id)
        assert example is not None and credential is not None
        comparison = await compare_with_reference(session, example, made)
        standing = await standing_of(session, user.id, credential.id)
        policy = await policy_for(session, credential.id)
    return templates.TemplateResponse(
        request,
        "reviewer/calibration_result.html",
        {
            "attempt": made,
            "example": example,
            "credential": credential,
            "rows": comparison,
            "standing": standing,
            "policy": policy,
        },
    )


async def compare_with_reference(
    session: Any, example: CalibrationExample, made: CalibrationAttempt
) -> list[dict[str, Any]]:
    """Per criterion: my level, the reference level, within tolerance, and the explanation."""
    _rubric, criteria, levels = await reviews.rubric_levels(session, example.rubric_id)
    refs = {
        ref.criterion_id: (ref, level)
        for ref, level in (
            await session.exec(
                select(CalibrationReference, RubricLevel)
                .join(RubricLevel, col(RubricLevel.id) == col(CalibrationReference.level_id))
                .where(CalibrationReference.example_id == example.id)
            )
        ).all()
    }
    label = {(lv.criterion_id, lv.position): lv.label for lv in levels.values()}
    rows = []
    for criterion in criteria:
        graded = made.levels.get(str(criterion.id), {})
        ref, level = refs[criterion.id]
        rows.append(
            {
                "criterion": criterion.title,
                "mine": label.get((criterion.id, graded.get("level")), "–"),
                "reference": level.label,
                "hit": bool(graded.get("hit")),
                "explanation": ref.explanation,
            }
        )
    return rows
