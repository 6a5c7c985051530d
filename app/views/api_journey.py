"""The JSON API for what earlier work showed only as pages: quality (agreement, reviewers
below the trust floor, flagged feedback, reviewer pairs flagged for collusion), study groups,
the growth plan and the self-check. Each reads through the same functions and access checks as
its page."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import access, growth, ratings
from app.actions import collusion, groups, trust
from app.actions.growth import set_goals
from app.actions.submissions import latest_version
from app.actions.submissions.selfcheck import self_assessment_of, self_check
from app.errors import not_found
from app.models import Credential, FeedbackRating, Role, StudyGroup
from app.quality import agreement
from app.views.apikit import body, caller, path_id


class GoalsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    standards: list[Annotated[str, Field(max_length=160)]] = Field(
        default_factory=list, max_length=30
    )
    stacks: list[uuid.UUID] = Field(default_factory=list, max_length=30)


async def quality(request: Request) -> JSONResponse:
    """The quality overview of the credentials you coordinate: agreement, reviewers below the
    floor, flagged feedback and flagged ratings awaiting a decision."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        orgs = [o for o, role in await access.roles_of(session, user) if role == Role.coordinator]
        if not orgs:
            raise not_found("That page")
        credentials = (
            await session.exec(
                select(Credential)
                .where(col(Credential.organisation_id).in_(orgs))
                .order_by(col(Credential.title))
            )
        ).all()
        ids = [c.id for c in credentials]
        alphas = await agreement(session, ids)
        below = await trust.standings_below_floor(session, ids)
        flags = (
            await session.exec(
                select(FeedbackRating)
                .where(col(FeedbackRating.credential_id).in_(ids))
                .where(col(FeedbackRating.inappropriate))
                .where(col(FeedbackRating.resolved_at).is_(None))
                .order_by(col(FeedbackRating.created_at))
            )
        ).all()
        flagged = await ratings.flagged_ratings(session, ids)
    return JSONResponse(
        {
            "credentials": [
                {
                    "id": str(c.id),
                    "title": c.title,
                    "alpha": alphas[c.id].alpha,
                    "units": alphas[c.id].units,
                    "criteria": [
                        {
                            "title": k.title,
                            "rubric_version": k.rubric_version,
                            "units": k.units,
                            "alpha": k.alpha,
                        }
                        for k in alphas[c.id].criteria
                    ],
                }
                for c in credentials
            ],
            "below_floor": [
                {
                    "reviewer": reviewer.name,
                    "credential_id": str(credential.id),
                    "trust": standing.trust,
                    "suspended": standing.suspended_at is not None,
                }
                for standing, reviewer, credential in below
            ],
            "flagged_feedback": [
                {
                    "id": str(f.id),
                    "credential_id": str(f.credential_id),
                    "comment": f.comment,
                    "created_at": f.created_at.isoformat(),
                }
                for f in flags
            ],
            "flagged_ratings": [
                {
                    "id": str(rating.id),
                    "credential_id": str(credential.id),
                    "text": rating.text,
                    "reason": rating.flag_reason,
                }
                for rating, credential, _ in flagged
            ],
        }
    )


def _group_json(group: StudyGroup, progress: list[groups.MemberProgress] | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": str(group.id),
        "name": group.name,
        "credential_id": str(group.credential_id) if group.credential_id else None,
        "stack_id": str(group.stack_id) if group.stack_id else None,
        "cohort": group.cohort_organisation_id is not None,
        "created_at": group.created_at.isoformat(),
    }
    if progress is not None:
        found["members"] = [
            {
                "name": m.name,
                "packets": [
                    {
                        "credential": title,
                        "state": state,
                        "submission_id": str(sid) if sid else None,
                    }
                    for title, state, sid in m.packets
                ],
            }
            for m in progress
        ]
    return found


async def my_groups(request: Request) -> JSONResponse:
    """The study groups I belong to."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        mine = await groups.my_groups(session, user)
    return JSONResponse({"groups": [_group_json(g, None) for g in mine]})


async def show_group(request: Request) -> JSONResponse:
    """One of my groups: members and the state of their packets."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        group = await access.group_member(session, user, path_id(request, "group_id"))
        progress = await groups.progress_of(session, group)
    return JSONResponse(_group_json(group, progress))


async def _plan(request: Request) -> JSONResponse:
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        chosen, stacks = await growth.goals_of(session, user)
        gaps = await growth.gaps(session, user, chosen)
        recommendations = await growth.recommend(session, user, chosen, stacks)
    return JSONResponse(
        {
            "standards": [s.key for s in chosen],
            "stacks": [str(s.id) for s in stacks],
            "gaps": [
                {
                    "standard": g.standard.key,
                    "title": g.standard.title,
                    "earned": g.earned,
                    "in_progress": g.in_progress,
                    "not_started": g.not_started,
                }
                for g in gaps
            ],
            "recommendations": [
                {
                    "credential_id": str(r.credential_id),
                    "title": r.title,
                    "reason": r.reason,
                    "source": r.source,
                    "href": r.href,
                }
                for r in recommendations
            ],
        }
    )


async def growth_plan(request: Request) -> JSONResponse:
    """My growth plan: chosen standards and stacks, the gap per standard, what to earn next."""
    return await _plan(request)


async def set_growth_plan(request: Request) -> JSONResponse:
    """Replace my goals: standards as "framework|code" and stack ids."""
    runtime, user = await caller(request)
    given = await body(request, GoalsIn)
    async with runtime.sessions() as session:
        await set_goals(session, user, given.standards, given.stacks)
    return await _plan(request)


async def submission_self_check(request: Request) -> JSONResponse:
    """My packet's self-check: every criterion checked, and my own rating against the rubric."""
    runtime, user = await caller(request)
    submission_id = path_id(request, "submission_id")
    checklist = await self_check(runtime, user, submission_id)
    async with runtime.sessions() as session:
        version = await latest_version(session, submission_id)
        rated = await self_assessment_of(session, version.id, shared_only=False)
    return JSONResponse(
        {
            "ready": checklist.ready,
            "blocking": checklist.blocking,
            "items": [
                {
                    "criterion_id": str(i.criterion_id),
                    "title": i.title,
                    "kind": i.kind,
                    "required": i.required,
                    "present": i.present,
                    "blocking": i.blocking,
                    "warnings": i.warnings,
                }
                for i in checklist.items
            ],
            "self_assessment": [{"criterion": c, "level": level} for c, level in rated],
        }
    )


async def flagged_pairs(request: Request) -> JSONResponse:
    """The reviewer pairs flagged for collusion on a credential's issuer, worst first, with the
    evidence: what the credential's quality page shows, to its coordinators only."""
    runtime, user = await caller(request)
    found = await collusion.flagged_pairs(runtime, user, path_id(request, "credential_id"))
    return JSONResponse(
        {
            "pairs": [
                {
                    "id": str(pair.id),
                    "reviewers": [{"id": str(u.id), "name": u.name} for u in (one, other)],
                    "score": pair.score,
                    "blocked": pair.blocked,
                    "flagged_at": pair.flagged_at.isoformat(),
                    "cleared_at": pair.cleared_at.isoformat() if pair.cleared_at else None,
                    "evidence": pair.evidence,
                }
                for pair, one, other in found
            ]
        }
    )


routes = [
    Route("/api/v1/quality", quality),
    Route("/api/v1/quality/{credential_id}/pairs", flagged_pairs),
    Route("/api/v1/groups", my_groups),
    Route("/api/v1/groups/{group_id}", show_group),
    Route("/api/v1/growth", growth_plan),
    Route("/api/v1/growth", set_growth_plan, methods=["PUT"]),
    Route("/api/v1/submissions/{submission_id}/self-check", submission_self_check),
]
