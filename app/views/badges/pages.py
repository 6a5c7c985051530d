"""The public page of one award: what was earned, from whom, and how to check it."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth import current_user
from app.badges import urls
from app.templating import templates
from app.views.badges.documents import assertion, record_for
from app.views.earner.wallet import linkedin_url

# LinkedIn's share dialog for a page: anyone may share a badge page they were given.
LINKEDIN_SHARE = "https://www.linkedin.com/sharing/share-offsite/?"


async def award_page(request: Request) -> Response:
    """GET /badges/{id} (the page) or /badges/{id}.json (the OB 2.0 Assertion)."""
    raw = request.path_params["award_id"]
    if raw.endswith(".json"):
        return await assertion(request, raw.removesuffix(".json"))
    viewer = await current_user(request)
    record = await record_for(request, raw)
    base = request.app.state.runtime.settings.base_url
    page_url = urls.page(base, record.award.id)
    organisation = record.organisation.name
    title = record.achievement.title
    return templates.TemplateResponse(
        request,
        "badge.html",
        {
            "record": record,
            "award": record.award,
            "title": record.achievement.title,
            "description": record.achievement.description,
            "organisation": record.organisation,
            "alignments": record.achievement.alignments,
            "earner_name": record.earner.name if record.shows_name else None,
            "page_url": page_url,
            "image_url": urls.achievement_image(base, record.achievement.id),
            "og_description": f"{title}, a digital badge issued by {organisation} on MCX.",
            # Search engines list only badges whose earner made the evidence public; every
            # other badge is found only by those given its link.
            "indexable": record.public_evidence and record.award.revoked_at is None,
            "is_earner": viewer is not None and viewer.id == record.earner.id,
            "linkedin_share": LINKEDIN_SHARE + urlencode({"url": page_url}),
            "linkedin": linkedin_url(
                title,
                organisation,
                record.award.issued_at,
                record.award.expires_at,
                page_url,
                str(record.award.id),
            ),
        },
        status_code=410 if record.award.revoked_at else 200,
    )


routes = [Route("/badges/{award_id:str}", award_page)]
