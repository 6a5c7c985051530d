"""The catalogue page: browse and search visible credentials, one query with every filter;
also the catalogue's shared vocabulary (what is visible, how hours and review type read)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlalchemy import select as sql_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from app import panels, ratings
from app.auth import current_user
from app.models import (
    Alignment,
    Credential,
    CredentialStatus,
    Organisation,
    Stack,
    StackItem,
    Stakes,
    Submission,
    SubmissionState,
)
from app.templating import templates

VISIBLE = (CredentialStatus.published, CredentialStatus.pilot)
# The states that do not hold a pilot spot: the rule of app.actions.submissions.spots_taken.
SPOT_FREE_STATES = (SubmissionState.draft, SubmissionState.withdrawn)
MAX_RESULTS = 200
MAX_WORDS = 8
REVIEW_LABEL = {Stakes.low: "Peer review", Stakes.high: "Expert review"}
SORTS = {"": "Title", "rating": "Top rated"}
RATED = {"": "Any rating", "3": "3 stars and up", "4": "4 stars and up"}


@dataclass(frozen=True)
class Filters:
    """What the search form asks for; every value is a plain string, "" meaning "any"."""

    q: str = ""
    topic: str = ""
    org: str = ""
    stakes: str = ""
    standard: str = ""
    stack: str = ""
    rated: str = ""  # "" or a minimum average of stars ("3", "4"), from MIN_RATINGS ratings
    sort: str = ""  # "" (title) or "rating": top rated first

    @classmethod
    def from_query(cls, params: QueryParams) -> Filters:
        # Bounded, so a crafted URL cannot make the query expensive.
        values = {
            # NUL becomes a space: PostgreSQL text cannot hold one.
            f.name: " ".join(params.get(f.name, "").replace("\x00", " ").split())[:200]
            for f in fields(cls)
        }
        if values["sort"] not in SORTS:
            values["sort"] = ""
        if values["rated"] not in RATED:
            values["rated"] = ""
        return cls(**values)

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    @property
    def filtered(self) -> int:
        """How many filters (not the search words) are on."""
        return sum(1 for f in fields(self) if f.name not in ("q", "sort") and getattr(self, f.name))


@dataclass(frozen=True)
class Card:
    """One search result, ready to show."""

    title: str
    href: str
    organisation: str
    topic: str
    summary: str
    pd_hours: str
    review: str
    status: str
    spots_left: int | None
    # Average overall stars (None below the minimum count of ratings) and the count.
    stars: float | None = None
    ratings: int = 0
    certified: bool = False


def hours(value: Decimal) -> str:
    """PD hours without trailing zeros: 10, 1.5."""
    return format(value.normalize(), "f")


def credential_href(org_slug: str, slug: str) -> str:
    return f"/credentials/{org_slug}/{slug}"


def spots_left(credential: Credential, taken: int) -> int | None:
    if credential.status != CredentialStatus.pilot:
        return None
    return max(0, (credential.pilot_spots or 0) - taken)


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches_words(q: str) -> list[ColumnElement[bool]]:
    """Every word must appear in the title, the summary or the competency."""
    return [
        or_(
            col(Credential.title).ilike(_like(word), escape="\\"),
            col(Credential.summary).ilike(_like(word), escape="\\"),
            col(Credential.competency).ilike(_like(word), escape="\\"),
        )
        for word in q.split()[:MAX_WORDS]
    ]


def _matches_standard(standard: str) -> ColumnElement[bool]:
    """A framework ("ISTE") or one code ("PSEL 6", whether stored as "6" or "PSEL 6")."""
    wanted = standard.lower()
    return exists().where(
        and_(
            col(Alignment.credential_id) == col(Credential.id),
            or_(
                func.lower(col(Alignment.framework)) == wanted,
                func.lower(col(Alignment.code)) == wanted,
                func.lower(func.concat(col(Alignment.framework), " ", col(Alignment.code)))
                == wanted,
            ),
        )
    )


def _in_stack(stack: str) -> ColumnElement[bool]:
    """A stack named "organisation-slug/stack-slug"."""
    org_slug, _, stack_slug = stack.partition("/")
    return exists().where(
        and_(
            col(StackItem.credential_id) == col(Credential.id),
            col(Stack.id) == col(StackItem.stack_id),
            col(Stack.slug) == stack_slug,
            col(Organisation.id) == col(Stack.organisation_id),
            col(Organisation.slug) == org_slug,
        )
    )


def search_query(filters: Filters) -> Any:
    """One query: visible credentials matching every filter, with their organisation, the
    pilot spots taken and their ratings (average overall stars, count); title order, or top
    rated first (credentials with fewer than MIN_RATINGS ratings after every rated one)."""
    taken = (
        select(col(Submission.credential_id).label("credential_id"), func.count().label("n"))
        .where(col(Submission.state).not_in(SPOT_FREE_STATES))
        .group_by(col(Submission.credential_id))
        .subquery()
    )
    rated = ratings.overall_column()
    count = func.coalesce(rated.c.n, 0)
    query = (
        # SQLAlchemy's select: sqlmodel's is typed for at most four columns.
        sql_select(Credential, Organisation, func.coalesce(taken.c.n, 0), rated.c.stars, count)
        .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
        .outerjoin(taken, taken.c.credential_id == col(Credential.id))
        .outerjoin(rated, rated.c.credential_id == col(Credential.id))
        .where(col(Credential.status).in_(VISIBLE))
    )
    conditions = _matches_words(filters.q)
    if filters.topic:
        conditions.append(col(Credential.topic) == filters.topic)
    if filters.org:
        conditions.append(col(Organisation.slug) == filters.org)
    if filters.stakes:
        conditions.append(col(Credential.stakes) == filters.stakes)
    if filters.standard:
        conditions.append(_matches_standard(filters.standard))
    if filters.stack:
        conditions.append(_in_stack(filters.stack))
    if filters.rated:
        # Only credentials whose rating shows (enough ratings) can meet a rating filter.
        conditions.append(count >= ratings.MIN_RATINGS)
        conditions.append(rated.c.stars >= int(filters.rated))
    order: list[Any] = [col(Credential.title), col(Credential.id)]
    if filters.sort == "rating":
        shown = count >= ratings.MIN_RATINGS
        order = [shown.desc(), rated.c.stars.desc().nulls_last(), count.desc(), *order]
    return query.where(*conditions).order_by(*order).limit(MAX_RESULTS)


def standard_label(framework: str, code: str) -> str:
    # Some issuers store "PSEL 6", others "6" under framework "PSEL": show "PSEL 6" either way.
    return code if code.lower().startswith(framework.lower()) else f"{framework} {code}"


async def _filter_choices(session: AsyncSession) -> dict[str, Any]:
    """The values each filter offers: only those some visible credential has."""
    visible = col(Credential.status).in_(VISIBLE)
    topics = await session.exec(
        select(Credential.topic).where(visible).where(Credential.topic != "").distinct()
    )
    organisations = await session.exec(
        select(Organisation.slug, Organisation.name)
        .where(exists().where(col(Credential.organisation_id) == col(Organisation.id), visible))
        .order_by(col(Organisation.name))
    )
    standards = await session.exec(
        select(Alignment.framework, Alignment.code)
        .join(Credential, col(Credential.id) == col(Alignment.credential_id))
        .where(visible)
        .distinct()
    )
    by_framework: dict[str, set[str]] = {}
    for framework, code in standards.all():
        by_framework.setdefault(framework, set()).add(standard_label(framework, code))
    stacks = await session.exec(
        select(Stack.title, Organisation.slug, Stack.slug)
        .join(Organisation, col(Organisation.id) == col(Stack.organisation_id))
        .where(
            exists().where(
                col(StackItem.stack_id) == col(Stack.id),
                col(Credential.id) == col(StackItem.credential_id),
                visible,
            )
        )
        .order_by(col(Stack.title))
    )
    return {
        "topics": sorted(topics.all()),
        "organisations": organisations.all(),
        "standards": [
            (framework, sorted(codes, key=lambda c: (len(c), c)))
            for framework, codes in sorted(by_framework.items())
        ],
        "stacks": [(title, f"{org}/{slug}") for title, org, slug in stacks.all()],
        "stakes": [(value.value, label) for value, label in REVIEW_LABEL.items()],
    }


async def catalog(request: Request) -> Response:
    """GET /catalog: the search form and the matching credentials as cards (linkable)."""
    await current_user(request)
    filters = Filters.from_query(request.query_params)
    async with request.app.state.runtime.sessions() as session:
        rows = (await session.execute(search_query(filters))).all()
        choices = await _filter_choices(session)
        certified = await panels.current_marks(session, [row[0].id for row in rows])
    cards = [
        Card(
            title=credential.title,
            href=credential_href(organisation.slug, credential.slug),
            organisation=organisation.name,
            topic=credential.topic,
            summary=credential.summary,
            pd_hours=hours(credential.pd_hours),
            review=REVIEW_LABEL.get(Stakes(credential.stakes), credential.stakes),
            status=credential.status,
            spots_left=spots_left(credential, taken),
            stars=round(float(stars), 1)
            if stars is not None and n >= ratings.MIN_RATINGS
            else None,
            ratings=n,
            certified=credential.id in certified,
        )
        for credential, organisation, taken, stars, n in rows
    ]
    return templates.TemplateResponse(
        request,
        "catalog/index.html",
        {
            "filters": filters,
            "cards": cards,
            "choices": choices,
            "limit": MAX_RESULTS,
            "sorts": SORTS,
            "rated": RATED,
            "minimum": ratings.MIN_RATINGS,
        },
    )
