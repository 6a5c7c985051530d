"""One credential's page: all six components, the rubric as a grid, standards, stacks, and
the start form (or why it cannot be started)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from app import access
from app.actions import catalog, pilots
from app.actions.catalog import criteria_of
from app.actions.submissions import latest_rubric, spots_taken
from app.auth import current_user
from app.errors import not_found
from app.models import (
    Alignment,
    Credential,
    Organisation,
    Privacy,
    RubricCriterion,
    RubricLevel,
    Stack,
    StackItem,
    Stakes,
    Submission,
    SubmissionState,
    User,
)
from app.templating import templates
from app.views.catalog.search import (
    REVIEW_LABEL,
    VISIBLE,
    credential_href,
    hours,
    spots_left,
    standard_label,
)
from app.views.ratings import credential_quality

# The shape of app.specs.Slug: anything else names no credential (and never reaches SQL).
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PRIVACY_CHOICES = [
    (Privacy.reviewers, "Reviewers only"),
    (Privacy.organisation, "My organisation"),
    (Privacy.public, "Public"),
]


def points_text(points: int) -> str:
    return f"{points} pt" if points == 1 else f"{points} pts"


@dataclass
class RubricView:
    """The current rubric as a criteria × levels grid, and its passing rule in words."""

    version: int
    headings: list[str]
    rows: list[tuple[RubricCriterion, list[RubricLevel | None]]]
    passing: str
    uniform: bool


async def _rubric_view(session: AsyncSession, credential_id: uuid.UUID) -> RubricView | None:
    rubric = await latest_rubric(session, credential_id)
    if rubric is None:
        return None
    scale = await catalog.rubric_scale(session, rubric.id)
    criteria = [c for c, _ in scale]
    by_criterion: dict[uuid.UUID, list[RubricLevel]] = {c.id: levels for c, levels in scale}
    width = max((len(v) for v in by_criterion.values()), default=0)
    scales = {tuple((lv.label, lv.points) for lv in v) for v in by_criterion.values()}
    # Column headings name the levels when every criterion uses the same scale; otherwise
    # each cell names its own level (RubricView.uniform is False).
    uniform = len(scales) == 1
    headings = (
        [f"{label} · {points_text(points)}" for label, points in scales.pop()]
        if uniform
        else [f"Level {i + 1}" for i in range(width)]
    )
    rows = [
        (c, [*by_criterion[c.id], *[None] * (width - len(by_criterion[c.id]))]) for c in criteria
    ]
    first = by_criterion[criteria[0].id] if criteria else []
    parts = []
    if rubric.min_level < len(first):
        parts.append(f"every criterion at “{first[rubric.min_level].label}” or above")
    if rubric.min_points is not None:
        parts.append(f"at least {rubric.min_points} points in total")
    passing = "To pass: " + " and ".join(parts) + "." if parts else ""
    return RubricView(rubric.version, headings, rows, passing, uniform)


async def _stacks_of(session: AsyncSession, credential: Credential) -> list[dict[str, Any]]:
    """Each stack holding this credential: its ordered credentials and this one's rank."""
    mine = select(StackItem.stack_id).where(StackItem.credential_id == credential.id)
    rows = (
        await session.exec(
            select(Stack, Organisation.slug, StackItem, Credential)
            .join(StackItem, col(StackItem.stack_id) == col(Stack.id))
            .join(Credential, col(Credential.id) == col(StackItem.credential_id))
            .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
            .where(col(Stack.id).in_(mine))
            .order_by(col(Stack.title), col(Stack.id), col(StackItem.position))
        )
    ).all()
    stacks: dict[uuid.UUID, dict[str, Any]] = {}
    for stack, org_slug, _item, member in rows:
        entry = stacks.setdefault(
            stack.id, {"stack": stack, "filter": f"{org_slug}/{stack.slug}", "items": []}
        )
        visible = member.status in VISIBLE
        entry["items"].append(
            {
                "title": member.title,
                "href": credential_href(org_slug, member.slug) if visible else None,
                "current": member.id == credential.id,
            }
        )
    for entry in stacks.values():
        entry["rank"] = 1 + [i["current"] for i in entry["items"]].index(True)
    return list(stacks.values())


async def _live_submission(
    session: AsyncSession, user: User, credential_id: uuid.UUID
) -> uuid.UUID | None:
    """The person's own packet for this credential, if they already started one."""
    found = await session.exec(
        select(Submission.id)
        .where(Submission.earner_id == user.id)
        .where(Submission.credential_id == credential_id)
        .where(Submission.state != SubmissionState.withdrawn)
    )
    return found.first()


async def credential_page(request: Request) -> Response:
    """GET /credentials/{org_slug}/{slug}: every component, the rubric, the stack, and the
    start form. Draft and retired credentials are 404, except to the issuer's coordinators."""
    user = await current_user(request)
    org_slug, slug = request.path_params["org_slug"], request.path_params["slug"]
    if not (SLUG.fullmatch(org_slug) and SLUG.fullmatch(slug)):
        raise not_found("That credential")
    async with request.app.state.runtime.sessions() as session:
        row = (
            await session.exec(
                select(Credential, Organisation)
                .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
                .where(col(Organisation.slug) == org_slug)
                .where(col(Credential.slug) == slug)
            )
        ).first()
        if row is None:
            raise not_found("That credential")
        credential, organisation = row
        preview = credential.status not in VISIBLE
        if preview and (
            user is None or not await access.is_coordinator_of(session, user, organisation.id)
        ):
            raise not_found("That credential")
        criteria = await criteria_of(session, credential.id)
        alignments = (
            await session.exec(
                select(Alignment)
                .where(Alignment.credential_id == credential.id)
                .order_by(col(Alignment.framework), col(Alignment.code))
            )
        ).all()
        rubric = await _rubric_view(session, credential.id)
        stacks = await _stacks_of(session, credential)
        taken = await spots_taken(session, credential.id)
        mine = await _live_submission(session, user, credential.id) if user else None
        waiting = await pilots.position(session, user, credential.id) if user else None
        quality = await credential_quality(session, user, credential)
    quality["flash"] = request.session.pop("quality_flash", None)
    return templates.TemplateResponse(
        request,
        "catalog/credential.html",
        {
            "credential": credential,
            "organisation": organisation,
            "preview": preview,
            "criteria": criteria,
            "alignments": [
                {
                    "label": standard_label(a.framework, a.code),
                    "title": a.title,
                    # Only web links: a stored "javascript:" URL must never become a link.
                    "url": a.url if a.url and a.url.startswith(("https://", "http://")) else None,
                }
                for a in alignments
            ],
            "rubric": rubric,
            "stacks": stacks,
            "pd_hours": hours(credential.pd_hours),
            "spots_left": spots_left(credential, taken),
            "submission_id": mine,
            "waitlist_place": waiting,
            "flash": request.session.pop("flash", None),
            "login_href": f"/login?next={credential_href(organisation.slug, credential.slug)}",
            "review": REVIEW_LABEL.get(Stakes(credential.stakes), credential.stakes),
            "privacy_choices": PRIVACY_CHOICES,
            "points_text": points_text,
            "quality": quality,
        },
    )
