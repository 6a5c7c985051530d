"""The feedback loop: after an outcome, how my scores compared with the consensus and the
expert, criterion by criterion (for a known-answer check: with the expert's reference)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response

from app import access
from app.actions import escalations, known_answers, reviews
from app.agreement import median_level
from app.auth import current_user
from app.models import (
    CalibrationAttempt,
    Credential,
    Outcome,
    Pool,
    Review,
    ReviewState,
    ReviewTask,
    Submission,
)
from app.templating import templates
from app.views.apikit import path_id
from app.views.reviewer.calibration import compare_with_reference
from app.views.reviewer.cards import RECOMMENDATIONS


async def compare_page(request: Request) -> Response:
    """GET /review/history/{review_id}/compare: my levels beside the decision's."""
    user = access.require_user(await current_user(request))
    async with request.app.state.runtime.sessions() as session:
        review = await access.access_own_review(session, user, path_id(request, "review_id"))
        submission = await session.get(Submission, review.submission_id)
        assert submission is not None
        credential = await session.get(Credential, submission.credential_id)
        example = await known_answers.example_of_submission(session, submission.id)
        context: dict[str, Any] = {"review": review, "credential": credential}
        if example is not None:
            made = (
                await session.exec(
                    select(CalibrationAttempt).where(CalibrationAttempt.task_id == review.task_id)
                )
            ).first()
            context["known_answer"] = (
                await compare_with_reference(session, example, made) if made else []
            )
        else:
            outcome = (
                await session.exec(select(Outcome).where(Outcome.version_id == review.version_id))
            ).first()
            context["outcome"] = outcome
            context["decision"] = RECOMMENDATIONS.get(outcome.decision, "") if outcome else ""
            if outcome is not None:
                context["rows"] = await _rows(session, review)
    return templates.TemplateResponse(request, "reviewer/compare.html", context)


async def _rows(session: Any, review: Review) -> list[dict[str, Any]]:
    pairs = (
        await session.exec(
            select(Review, ReviewTask)
            .join(ReviewTask, col(ReviewTask.id) == col(Review.task_id))
            .where(Review.version_id == review.version_id)
            .where(Review.state == ReviewState.submitted)
        )
    ).all()
    scored = [
        escalations.Scored(r.id, r.reviewer_id, t.pool, r.recommendation or "") for r, t in pairs
    ]
    await escalations.load_levels(session, scored)
    _rubric, criteria, levels = await reviews.rubric_levels(session, review.rubric_id)
    label = {(lv.criterion_id, lv.position): lv.label for lv in levels.values()}
    mine = next(s for s in scored if s.review_id == review.id)
    others = [s for s in scored if s.review_id != review.id]
    experts = [s for s in others if s.pool == Pool.expert]
    rows = []
    for criterion in criteria:
        given = [s.levels[criterion.id] for s in others if criterion.id in s.levels]
        expert = [s.levels[criterion.id] for s in experts if criterion.id in s.levels]
        my_level = mine.levels.get(criterion.id)
        consensus = median_level(given) if given else None
        rows.append(
            {
                "criterion": criterion.title,
                "mine": "–" if my_level is None else label.get((criterion.id, my_level), "–"),
                "consensus": label.get((criterion.id, consensus), "–")
                if consensus is not None
                else "–",
                "expert": label.get((criterion.id, median_level(expert)), "–") if expert else None,
                "gap": None if consensus is None or my_level is None else my_level - consensus,
            }
        )
    return rows
