"""The JSON API of the catalogue's own quality: the catalogue search with ratings, credential
ratings (rate, answer, flag, moderate), recognition lists, near-duplicates and the standards
coverage map (review panels: api_panels.py). Bodies are validated by the models below,
which the OpenAPI document (app/views/openapi.py) publishes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app import access, coverage, duplicates, panels, ratings, recognition
from app.actions import catalog
from app.actions import ratings as rating_actions
from app.actions import recognition as recognise_actions
from app.auth import current_user
from app.errors import ActionError, not_found
from app.models import Credential, Role
from app.views.api_shapes import text_at_least
from app.views.apikit import body, caller, path_id
from app.views.catalog.credential import SLUG
from app.views.catalog.search import RATED, SORTS, Filters, credential_href, hours, search_query

# strict: a JSON number, not true or "4" (the document says integer)
Stars = Annotated[int, Field(ge=1, le=5, strict=True)]
# The catalogue's text filters, and how long each may be (the document says so too).
TEXT_FILTERS = ("q", "topic", "org", "stakes", "standard", "stack")
MAX_FILTER = 200


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    clarity: Stars
    relevance: Stars
    workload: Stars
    feedback: Stars
    text: str = Field(default="", max_length=1000)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(
        min_length=1, max_length=1000, json_schema_extra={"pattern": text_at_least(1)}
    )


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        min_length=1, max_length=300, json_schema_extra={"pattern": text_at_least(1)}
    )


class ModerationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hide: bool = Field(strict=True)  # true or false, not 0 or "yes" (as documented)
    note: str = Field(default="", max_length=300)


class RecognitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credit_type: Literal["pd_hours", "ceu", "licence_renewal"]
    amount: Decimal = Field(ge=0, le=Decimal("9999.99"), decimal_places=2)
    effective_from: date
    effective_to: date | None = None
    note: str = Field(default="", max_length=500)


async def visible_credential(request: Request) -> Credential:
    """A pilot or published credential (drafts and retired ones: 404)."""
    async with request.app.state.runtime.sessions() as session:
        credential = await session.get(Credential, path_id(request, "credential_id"))
    if credential is None or credential.status not in ("pilot", "published"):
        raise not_found("That credential")
    return credential


async def search(request: Request) -> JSONResponse:
    """The catalogue: the search and filters of /catalog, with ratings (sort=rating)."""
    await current_user(request)
    for name in TEXT_FILTERS:
        if len(request.query_params.get(name, "")) > MAX_FILTER:
            raise ActionError("invalid", f"{name}: at most {MAX_FILTER} characters", 422)
    filters = Filters.from_query(request.query_params)
    if request.query_params.get("sort", "") not in SORTS:
        raise ActionError("invalid", "sort: title (empty) or rating", 422)
    if request.query_params.get("rated", "") not in RATED:
        raise ActionError("invalid", "rated: empty, 3 or 4", 422)
    async with request.app.state.runtime.sessions() as session:
        rows = (await session.execute(search_query(filters))).all()
        certified = await panels.current_marks(session, [row[0].id for row in rows])
    return JSONResponse(
        {
            "credentials": [
                {
                    "id": str(c.id),
                    "title": c.title,
                    "organisation": o.slug,
                    "href": credential_href(o.slug, c.slug),
                    "status": c.status,
                    "pd_hours": hours(c.pd_hours),
                    "ratings": n,
                    "stars": round(float(stars), 2) if n >= ratings.MIN_RATINGS else None,
                    "certified": c.id in certified,
                }
                for c, o, _taken, stars, n in rows
            ]
        }
    )


async def credential_ratings(request: Request) -> JSONResponse:
    """A credential's ratings: the summary (from the minimum count on) and each rating."""
    credential = await visible_credential(request)
    user = await current_user(request)
    async with request.app.state.runtime.sessions() as session:
        moderator = user is not None and await access.is_coordinator_of(
            session, user, credential.organisation_id
        )
        summary = (await ratings.summaries(session, [credential.id]))[credential.id]
        rows = await ratings.ratings_of(session, credential.id)
    return JSONResponse(
        {
            "summary": summary.as_json(),
            "ratings": [ratings.public_json(r, moderator=moderator) for r in rows],
        }
    )


async def rate(request: Request) -> JSONResponse:
    """Rate a credential you finished (passed, or every attempt used): once."""
    runtime, user = await caller(request)
    given = await body(request, RatingIn)
    rating = await rating_actions.rate_credential(
        runtime,
        user,
        path_id(request, "credential_id"),
        given.model_dump(exclude={"text"}),
        given.text,
    )
    return JSONResponse(ratings.public_json(rating), status_code=201)


async def answer(request: Request) -> JSONResponse:
    """The issuer's one public answer to a rating (its coordinators only)."""
    runtime, user = await caller(request)
    given = await body(request, AnswerIn)
    rating = await rating_actions.answer_rating(
        runtime, user, path_id(request, "rating_id"), given.answer
    )
    return JSONResponse(ratings.public_json(rating, moderator=True))


async def flag(request: Request) -> JSONResponse:
    """Flag a rating's text as abusive, for the issuer's coordinators."""
    runtime, user = await caller(request)
    given = await body(request, FlagIn)
    rating = await rating_actions.flag_rating(
        runtime, user, path_id(request, "rating_id"), given.reason
    )
    return JSONResponse(ratings.public_json(rating))


async def moderate(request: Request) -> JSONResponse:
    """Hide a rating's text or keep it (the issuer's coordinators; audited)."""
    runtime, user = await caller(request)
    given = await body(request, ModerationIn)
    rating = await rating_actions.moderate_rating(
        runtime, user, path_id(request, "rating_id"), hide=given.hide, note=given.note
    )
    return JSONResponse(ratings.public_json(rating, moderator=True))


async def credential_recognitions(request: Request) -> JSONResponse:
    """Who recognises a credential, for what credit and when."""
    credential = await visible_credential(request)
    async with request.app.state.runtime.sessions() as session:
        rows = await recognition.of_credential(session, credential.id)
    return JSONResponse({"recognitions": rows})


def _slug(request: Request) -> str:
    slug = str(request.path_params["organisation"])
    if len(slug) > 64 or not SLUG.fullmatch(slug):
        raise not_found("That organisation")
    return slug


async def recognition_list(request: Request) -> JSONResponse:
    """An organisation's recognition list (public: earners and employers read it)."""
    slug = _slug(request)
    async with request.app.state.runtime.sessions() as session:
        organisation = await catalog.organisation_by_slug(session, slug)
        if organisation is None:
            raise not_found("That organisation")
        rows = await recognition.list_rows(session, organisation.id)
    return JSONResponse({"organisation": organisation.slug, "recognitions": rows})


async def recognise(request: Request) -> JSONResponse:
    """Put a credential on your organisation's list, or change its credit rule."""
    runtime, user = await caller(request)
    given = await body(request, RecognitionIn)
    entry = await recognise_actions.recognise(
        runtime,
        user,
        _slug(request),
        path_id(request, "credential_id"),
        recognise_actions.Rule(
            given.credit_type,
            given.amount,
            given.effective_from,
            given.effective_to,
            given.note,
        ),
    )
    return JSONResponse(
        {
            "credential_id": str(entry.credential_id),
            "credit_type": entry.credit_type,
            "amount": str(entry.amount),
            "effective_from": entry.effective_from.isoformat(),
            "effective_to": entry.effective_to.isoformat() if entry.effective_to else None,
            "note": entry.note,
        }
    )


async def withdraw(request: Request) -> Response:
    """Take a credential off your organisation's list."""
    runtime, user = await caller(request)
    await recognise_actions.withdraw(
        runtime, user, _slug(request), path_id(request, "credential_id")
    )
    return JSONResponse({"withdrawn": True})


async def _require_catalogue_watcher(request: Request) -> None:
    """Coordinators and recognizers see the whole catalogue's map; nobody else (404)."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        roles = {role for _, role in await access.roles_of(session, user)}
    if not roles & {Role.coordinator, Role.recognizer}:
        raise not_found("That page")


async def near_duplicates(request: Request) -> JSONResponse:
    """Near-duplicate credentials across issuers, most similar first."""
    await _require_catalogue_watcher(request)
    async with request.app.state.runtime.sessions() as session:
        pairs = await duplicates.near_duplicates(session)
    return JSONResponse(
        {
            "thresholds": {
                "text": duplicates.TEXT_THRESHOLD,
                "standards": duplicates.STANDARDS_THRESHOLD,
            },
            "pairs": [
                {
                    "credentials": [
                        {
                            "id": str(p.first),
                            "title": p.first_title,
                            "issuer": p.first_organisation,
                        },
                        {
                            "id": str(p.second),
                            "title": p.second_title,
                            "issuer": p.second_organisation,
                        },
                    ],
                    "text_similarity": p.text_similarity,
                    "standards_similarity": p.standards_similarity,
                    "shared_standards": list(p.shared_standards),
                }
                for p in pairs
            ],
        }
    )


async def standards_coverage(request: Request) -> JSONResponse:
    """How many pilot or published credentials cover each standard (none, few, many)."""
    await _require_catalogue_watcher(request)
    async with request.app.state.runtime.sessions() as session:
        cells = await coverage.coverage(session)
    return JSONResponse(
        {
            "few": coverage.FEW,
            "standards": [
                {
                    "framework": c.framework,
                    "standard": c.label,
                    "title": c.title,
                    "credentials": c.credentials,
                    "band": c.band,
                }
                for c in cells
            ],
        }
    )


routes = [
    Route("/api/v1/catalog", search),
    Route("/api/v1/credentials/{credential_id}/ratings", credential_ratings),
    Route("/api/v1/credentials/{credential_id}/ratings", rate, methods=["POST"]),
    Route("/api/v1/ratings/{rating_id}/answer", answer, methods=["POST"]),
    Route("/api/v1/ratings/{rating_id}/flag", flag, methods=["POST"]),
    Route("/api/v1/ratings/{rating_id}/moderation", moderate, methods=["POST"]),
    Route("/api/v1/credentials/{credential_id}/recognitions", credential_recognitions),
    Route("/api/v1/organisations/{organisation}/recognitions", recognition_list),
    Route(
        "/api/v1/organisations/{organisation}/recognitions/{credential_id}",
        recognise,
        methods=["PUT"],
    ),
    Route(
        "/api/v1/organisations/{organisation}/recognitions/{credential_id}",
        withdraw,
        methods=["DELETE"],
    ),
    Route("/api/v1/catalogue/duplicates", near_duplicates),
    Route("/api/v1/catalogue/coverage", standards_coverage),
]
