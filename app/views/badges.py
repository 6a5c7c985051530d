"""Public badge pages and the Open Badges 2.0 hosted assertion for each award."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth import current_user
from app.errors import not_found
from app.models import Alignment, Award, Credential, Organisation, Outcome, Stack, Submission, User
from app.templating import templates

OB2_CONTEXT = "https://w3id.org/openbadges/v2"


async def _load(
    request: Request,
) -> tuple[Award, User, str, str, Organisation, list[Alignment], Submission | None]:
    raw = request.path_params["award_id"].removesuffix(".json")
    try:
        award_id = uuid.UUID(raw)
    except ValueError:
        raise not_found("That badge") from None
    async with request.app.state.runtime.sessions() as session:
        award = await session.get(Award, award_id)
        if award is None:
            raise not_found("That badge")
        earner = await session.get(User, award.user_id)
        assert earner is not None
        achievement: Credential | Stack | None
        if award.credential_id is not None:
            achievement = await session.get(Credential, award.credential_id)
        else:
            achievement = await session.get(Stack, award.stack_id)
        assert achievement is not None
        organisation = await session.get(Organisation, achievement.organisation_id)
        assert organisation is not None
        alignments = list(
            (
                await session.exec(
                    select(Alignment).where(Alignment.credential_id == achievement.id)
                )
            ).all()
        )
        submission = None
        if award.outcome_id is not None:
            outcome = await session.get(Outcome, award.outcome_id)
            submission = await session.get(Submission, outcome.submission_id) if outcome else None
    description = str(
        getattr(achievement, "summary", None) or getattr(achievement, "description", "")
    )
    return award, earner, achievement.title, description, organisation, alignments, submission


def assertion(
    request: Request,
    award: Award,
    earner: User,
    title: str,
    description: str,
    organisation: Organisation,
    alignments: list[Alignment],
    submission: Submission | None,
) -> dict[str, Any]:
    """An Open Badges 2.0 hosted Assertion, with its BadgeClass and Issuer embedded."""
    base = request.app.state.runtime.settings.base_url
    identity = (
        "sha256$"
        + hashlib.sha256((earner.email.lower() + award.recipient_salt).encode()).hexdigest()
    )
    document: dict[str, Any] = {
        "@context": OB2_CONTEXT,
        "type": "Assertion",
        "id": f"{base}/badges/{award.id}.json",
        "recipient": {
            "type": "email",
            "hashed": True,
            "salt": award.recipient_salt,
            "identity": identity,
        },
        "issuedOn": award.issued_at.isoformat(),
        "verification": {"type": "HostedBadge"},
        "badge": {
            "type": "BadgeClass",
            "id": f"{base}/badges/{award.id}.json#badge",
            "name": title,
            "description": description or title,
            "image": f"{base}/static/badge.svg",
            "criteria": {"narrative": f"Evidence reviewed against the {title} rubric on MCX."},
            "alignment": [
                {
                    "targetName": f"{a.framework} {a.code}",
                    "targetUrl": a.url or base,
                    "targetFramework": a.framework,
                    "targetCode": a.code,
                }
                for a in alignments
            ],
            "issuer": {
                "type": "Profile",
                "id": f"{base}/badges/{award.id}.json#issuer",
                "name": organisation.name,
                "url": organisation.url or base,
                "email": organisation.email,
            },
        },
    }
    if award.expires_at is not None:
        document["expires"] = award.expires_at.isoformat()
    if submission is not None and submission.privacy == "public":
        document["evidence"] = [
            {
                "id": f"{base}/badges/{award.id}",
                "narrative": "Evidence packet shared publicly by the earner.",
            }
        ]
    return document


async def badge_json(request: Request) -> Response:
    award, earner, title, description, organisation, alignments, submission = await _load(request)
    if award.revoked_at is not None:
        # OB 2.0 hosted verification: a revoked assertion answers 410 Gone.
        return JSONResponse(
            {"id": str(award.id), "revoked": True, "revocationReason": award.revocation_reason},
            status_code=410,
        )
    return JSONResponse(
        assertion(request, award, earner, title, description, organisation, alignments, submission),
        media_type="application/ld+json",
    )


async def badge_page(request: Request) -> Response:
    if request.path_params["award_id"].endswith(".json"):
        return await badge_json(request)
    await current_user(request)
    award, earner, title, description, organisation, alignments, submission = await _load(request)
    show_name = submission is None or submission.privacy != "reviewers"
    return templates.TemplateResponse(
        request,
        "badge.html",
        {
            "award": award,
            "title": title,
            "description": description,
            "organisation": organisation,
            "alignments": alignments,
            "earner_name": earner.name if show_name else None,
        },
        status_code=410 if award.revoked_at else 200,
    )


routes = [Route("/badges/{award_id}", badge_page)]
