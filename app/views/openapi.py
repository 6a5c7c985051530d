"""The OpenAPI 3.1 document of /api/v1: built from the route list, with each operation's
parameters, request body (the same pydantic models the views validate with) and answers.

A route added without an entry in OPERATIONS is still listed, with its docstring as summary
and a generic answer; tests/test_openapi.py fails until it is described here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.routing import BaseRoute, Route

from app.actions.transfer import FORMAT, CatalogueSpec
from app.specs import CredentialSpec, RubricSpec, StackSpec
from app.views import api_shapes as shapes
from app.views.api_catalogue import (
    MAX_FILTER,
    TEXT_FILTERS,
    AnswerIn,
    FlagIn,
    ModerationIn,
    RatingIn,
    RecognitionIn,
)
from app.views.api_coordinators import AppealIn, RulingIn
from app.views.api_journey import GoalsIn
from app.views.api_panels import PanelIn, PanelScoresIn
from app.views.api_submissions import StartIn, TextIn
from app.views.api_tasks import ClaimRef, ReviewIn
from app.views.media.api import CriterionMediaIn, MomentIn

JSON = "application/json"
REF = "#/components/schemas/{model}"
ERROR = {"$ref": "#/components/schemas/Error"}
OBJECT: dict[str, Any] = {"type": "object"}
UUID = {"type": "string", "format": "uuid"}
SLUG = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"}
DAY = {"type": "string", "format": "date"}


def or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema, or an empty value meaning "no filter" (as an HTML form sends it)."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Repeat the same key (for ten minutes) to get the first answer again.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"},
}


@dataclass(frozen=True)
class Operation:
    status: int = 200  # the success answer
    success: dict[str, Any] = field(default_factory=lambda: OBJECT)  # its JSON body
    body: type[BaseModel] | None = None
    query: tuple[dict[str, Any], ...] = ()
    headers: tuple[dict[str, Any], ...] = ()
    public: bool = False  # no log-in needed
    success_content: dict[str, Any] | None = None  # instead of JSON `success`
    extra_body: dict[str, Any] = field(default_factory=dict)  # other media types accepted
    path: dict[str, dict[str, Any]] = field(default_factory=dict)  # path params not uuids
    errors: frozenset[int] = frozenset()  # refusals beyond those every such operation has
    description: str = ""  # rules a JSON Schema cannot state


# Why each refusal happens; every refusal's body is an Error.
REFUSALS = {
    400: "the body or a header cannot be read (bad JSON, a NUL, a malformed form or upload)",
    401: "no valid personal token or session",
    403: "a cookie session without its CSRF token",
    404: "not found, or not yours (the two look the same)",
    408: "the request body stalled or dripped too slowly",
    409: "the state does not allow it now (see `error`)",
    413: "the body is larger than this operation accepts",
    415: "the file's type (read from its bytes) is not one this criterion takes",
    422: "the input is well-formed but not valid (`detail` names the field)",
    429: "too many at once (uploads: at most 4 per person)",
    503: "PostgreSQL or Redis cannot be reached; retry after Retry-After seconds",
}
RETRY_AFTER = {
    "Retry-After": {
        "required": True,
        "description": "seconds to wait before trying again",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
LEASE = frozenset({409})  # the claim is gone, or was extended already
ARTIFACT_BODIES = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    },
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
}
BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
JPEG = {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}
ARTIFACT = Operation(
    status=201,
    success=shapes.ATTACHED,
    body=TextIn,
    query=(
        {
            "name": "filename",
            "in": "query",
            "required": False,
            "description": "the file's name, for a raw body (or send X-Filename)",
            "schema": {"type": "string", "maxLength": 255},
        },
    ),
    headers=(
        {
            "name": "X-Filename",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 255},
        },
    ),
    extra_body=ARTIFACT_BODIES,
    errors=frozenset({409, 415, 429}),
)
LIFECYCLE = frozenset({409})  # the packet is not in a state that allows this step
AUTHORED_RULES = (
    "Beyond the schema, 422 when: a rubric criterion's levels do not rise in points, lowest "
    "first; min_level names no level; a pilot has no pilot_spots; a pilot or published "
    "credential has no rubric or no required submission criterion; the organisation or a "
    "stacked credential does not exist."
)
CATALOGUE_EXPORT = {
    "type": "object",
    "required": ["format", "credentials", "stacks"],
    "properties": {
        "format": {"const": FORMAT},
        "credentials": {"type": "array", "items": {"$ref": REF.format(model="CredentialSpec")}},
        "stacks": {"type": "array", "items": {"$ref": REF.format(model="StackSpec")}},
    },
}  # the packet is not in a state that allows this step


def _answer(required: dict[str, Any]) -> dict[str, Any]:
    """A JSON object answer whose listed properties are always present."""
    return {
        JSON: {"schema": {"type": "object", "required": list(required), "properties": required}}
    }


NULLABLE_NUMBER = {"type": ["number", "null"]}
LIST = {"type": "array"}
RATING = {
    "type": "object",
    "required": ["id", "stars", "overall", "text", "hidden", "answer"],
    "properties": {
        "id": UUID,
        "stars": {"type": "object"},
        "overall": {"type": "number", "minimum": 1, "maximum": 5},
        "text": {"type": ["string", "null"]},
        "hidden": {"type": "boolean"},
        "answer": {"type": ["string", "null"]},
    },
}
PANEL = _answer(
    {
        "id": UUID,
        "credential_id": UUID,
        "name": {"type": "string"},
        "quality_rubric_version": {"type": "integer"},
        "decided_at": {"type": ["string", "null"]},
        "passed": {"type": ["boolean", "null"]},
        "members": LIST,
        "results": {"type": ["object", "null"]},
    }
)
CATALOG_QUERY = tuple(
    {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": MAX_FILTER},
    }
    for name in TEXT_FILTERS
) + (
    {
        "name": "rated",
        "in": "query",
        "required": False,
        "description": "only credentials rated this many stars or more (from the minimum count)",
        "schema": {"type": "string", "enum": ["", "3", "4"]},
    },
    {
        "name": "sort",
        "in": "query",
        "required": False,
        "description": "empty: by title; rating: top rated first",
        "schema": {"type": "string", "enum": ["", "rating"]},
    },
)
# The catalogue's map (duplicates, coverage): 404 to anyone not a coordinator or recognizer.
WATCHERS_ONLY = frozenset({404})
PANEL_RULES = (
    "Beyond the schema, 422 when: a panellist is not a certified expert of the convening "
    "organisation, or coordinates the credential's issuer; fewer distinct panellists than "
    "allowed once duplicates are merged."
)
CATALOGUE_OPERATIONS: dict[tuple[str, str], Operation] = {
    ("get", "/api/v1/catalog"): Operation(
        public=True,
        query=CATALOG_QUERY,
        success_content=_answer({"credentials": LIST}),
        errors=frozenset({422}),
    ),
    ("get", "/api/v1/credentials/{credential_id}/ratings"): Operation(
        public=True,
        success_content=_answer(
            {
                "summary": {
                    "type": "object",
                    "required": ["count", "minimum", "shown", "overall"],
                    "properties": {
                        "count": {"type": "integer", "minimum": 0},
                        "minimum": {"type": "integer"},
                        "shown": {"type": "boolean"},
                        "overall": NULLABLE_NUMBER,
                    },
                },
                "ratings": {"type": "array", "items": RATING},
            }
        ),
    ),
    ("post", "/api/v1/credentials/{credential_id}/ratings"): Operation(
        status=201,
        body=RatingIn,
        success_content={JSON: {"schema": RATING}},
        errors=frozenset({409}),  # already_rated (403: not finished yet)
    ),
    ("post", "/api/v1/ratings/{rating_id}/answer"): Operation(
        body=AnswerIn, success_content={JSON: {"schema": RATING}}, errors=frozenset({409})
    ),
    ("post", "/api/v1/ratings/{rating_id}/flag"): Operation(
        body=FlagIn, success_content={JSON: {"schema": RATING}}, errors=frozenset({409})
    ),
    ("post", "/api/v1/ratings/{rating_id}/moderation"): Operation(
        body=ModerationIn, success_content={JSON: {"schema": RATING}}
    ),
    ("get", "/api/v1/quality-rubric"): Operation(
        public=True,
        success_content=_answer(
            {"version": {"type": "integer"}, "levels": LIST, "components": LIST}
        ),
    ),
    ("get", "/api/v1/credentials/{credential_id}/certification"): Operation(
        public=True, success_content=_answer({"mark": {"type": ["object", "null"]}})
    ),
    ("post", "/api/v1/panels"): Operation(
        status=201,
        body=PanelIn,
        success_content=PANEL,
        errors=frozenset({404}),  # the credential or organisation, or not its coordinator
        description=PANEL_RULES,
    ),
    ("get", "/api/v1/panels/{panel_id}"): Operation(success_content=PANEL),
    ("put", "/api/v1/panels/{panel_id}/scores"): Operation(
        body=PanelScoresIn,
        success_content=PANEL,
        errors=frozenset({409}),  # already_submitted
        description="Beyond the schema, 422 when: a component is scored twice; submit is true "
        "and a component has no score.",
    ),
    ("post", "/api/v1/panels/{panel_id}/close"): Operation(
        success_content=PANEL,
        errors=frozenset({409}),  # already_decided, too_few_scores
    ),
    ("get", "/api/v1/credentials/{credential_id}/recognitions"): Operation(
        public=True, success_content=_answer({"recognitions": LIST})
    ),
    ("get", "/api/v1/organisations/{organisation}/recognitions"): Operation(
        public=True,
        path={"organisation": SLUG},
        success_content=_answer({"organisation": SLUG, "recognitions": LIST}),
    ),
    ("put", "/api/v1/organisations/{organisation}/recognitions/{credential_id}"): Operation(
        body=RecognitionIn,
        path={"organisation": SLUG},
        errors=frozenset({409}),  # the list changed at the same moment
        description="Beyond the schema, 422 when effective_to is before effective_from.",
        success_content=_answer(
            {
                "credential_id": UUID,
                "credit_type": {"type": "string"},
                "amount": {"type": "string"},
                "effective_from": DAY,
            }
        ),
    ),
    ("delete", "/api/v1/organisations/{organisation}/recognitions/{credential_id}"): Operation(
        path={"organisation": SLUG}, success_content=_answer({"withdrawn": {"type": "boolean"}})
    ),
    ("get", "/api/v1/catalogue/duplicates"): Operation(
        success_content=_answer({"thresholds": OBJECT, "pairs": LIST}), errors=WATCHERS_ONLY
    ),
    ("get", "/api/v1/catalogue/coverage"): Operation(
        success_content=_answer({"few": {"type": "integer"}, "standards": LIST}),
        errors=WATCHERS_ONLY,
    ),
    ("get", "/api/v1/quality"): Operation(
        success_content=_answer(
            {
                "credentials": LIST,
                "below_floor": LIST,
                "flagged_feedback": LIST,
                "flagged_ratings": LIST,
            }
        ),
        errors=frozenset({404}),  # to anyone who coordinates no organisation
    ),
    ("get", "/api/v1/quality/{credential_id}/pairs"): Operation(
        success_content=_answer({"pairs": LIST}),
        errors=frozenset({404}),  # to anyone but the credential's coordinators
    ),
    ("get", "/api/v1/groups"): Operation(success_content=_answer({"groups": LIST})),
    ("get", "/api/v1/groups/{group_id}"): Operation(
        success_content=_answer({"id": UUID, "name": {"type": "string"}, "members": LIST})
    ),
    ("get", "/api/v1/growth"): Operation(
        success_content=_answer(
            {"standards": LIST, "stacks": LIST, "gaps": LIST, "recommendations": LIST}
        )
    ),
    ("put", "/api/v1/growth"): Operation(
        body=GoalsIn,
        description="Beyond the schema, 422 when: more goals than allowed in all; a standard "
        "is not one of the catalogue's (framework|code); a stack id names no stack.",
        success_content=_answer(
            {"standards": LIST, "stacks": LIST, "gaps": LIST, "recommendations": LIST}
        ),
    ),
    ("get", "/api/v1/submissions/{submission_id}/self-check"): Operation(
        success_content=_answer(
            {
                "ready": {"type": "boolean"},
                "blocking": LIST,
                "items": LIST,
                "self_assessment": LIST,
            }
        ),
        errors=frozenset({409}),  # not_editable: the packet is with reviewers
    ),
}


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("get", "/api/v1/me"): Operation(success=shapes.ME),
    ("get", "/api/v1/notifications"): Operation(
        success=shapes.NOTIFICATIONS,
        query=(
            {
                "name": "after",
                "in": "query",
                "required": False,
                "description": "only notifications with a larger id (catch-up after offline)",
                "schema": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
            },
        ),
        errors=frozenset({422}),
    ),
    ("get", "/api/v1/openapi.json"): Operation(public=True, success=shapes.OPENAPI),
    ("get", "/api/v1/credentials"): Operation(public=True, success=shapes.CREDENTIALS),
    ("get", "/api/v1/credentials/{credential_id}"): Operation(
        public=True, success=shapes.CREDENTIAL
    ),
    ("put", "/api/v1/credentials/{credential_id}/rubric"): Operation(
        status=201, success=shapes.RUBRIC_VERSION, body=RubricSpec, description=AUTHORED_RULES
    ),
    ("post", "/api/v1/submissions"): Operation(
        status=201, success=shapes.SUBMISSION, body=StartIn, errors=frozenset({404, 409})
    ),
    ("get", "/api/v1/submissions/{submission_id}"): Operation(success=shapes.SUBMISSION),
    ("post", "/api/v1/submissions/{submission_id}/artifacts/{criterion_id}"): ARTIFACT,
    ("put", "/api/v1/submissions/{submission_id}/artifacts/{criterion_id}"): ARTIFACT,
    ("post", "/api/v1/submissions/{submission_id}/submit"): Operation(
        status=202, success=shapes.SUBMISSION, errors=LIFECYCLE | {413, 422}
    ),
    ("post", "/api/v1/submissions/{submission_id}/withdraw"): Operation(
        success=shapes.SUBMISSION_STATE, errors=LIFECYCLE
    ),
    ("post", "/api/v1/submissions/{submission_id}/edit"): Operation(
        success=shapes.SUBMISSION_STATE, errors=LIFECYCLE
    ),
    ("post", "/api/v1/submissions/{submission_id}/resubmit"): Operation(
        status=201, success=shapes.SUBMISSION, errors=LIFECYCLE
    ),
    ("post", "/api/v1/submissions/{submission_id}/appeal"): Operation(
        status=201, success=shapes.APPEAL, body=AppealIn, errors=LIFECYCLE
    ),
    ("post", "/api/v1/appeals/{appeal_id}/ruling"): Operation(
        success=shapes.APPEAL, body=RulingIn, errors=frozenset({409})
    ),
    ("get", "/api/v1/artifacts/{artifact_id}"): Operation(
        success_content={"*/*": {"schema": {"type": "string", "format": "binary"}}}
    ),
    ("post", "/api/v1/credentials"): Operation(
        status=201,
        success=shapes.AUTHORED,
        body=CredentialSpec,
        errors=frozenset({404, 409}),
        description=AUTHORED_RULES,
    ),
    ("put", "/api/v1/credentials/{credential_id}"): Operation(
        success=shapes.CHANGED,
        body=CredentialSpec,
        errors=frozenset({409}),
        description=AUTHORED_RULES,
    ),
    ("post", "/api/v1/stacks"): Operation(
        status=201,
        success=shapes.STACK,
        body=StackSpec,
        errors=frozenset({404, 409}),
        description=AUTHORED_RULES,
    ),
    ("get", "/api/v1/organisations/{organisation}/catalogue"): Operation(
        success=CATALOGUE_EXPORT,
        path={"organisation": SLUG},
    ),
    ("post", "/api/v1/catalogue"): Operation(
        status=201,
        success=shapes.IMPORTED,
        body=CatalogueSpec,
        errors=frozenset({404, 409}),
        description=AUTHORED_RULES + " The 422 lists every error with its path.",
    ),
    ("post", "/api/v1/credentials/{credential_id}/waitlist"): Operation(
        status=201, success=shapes.WAITING, errors=frozenset({409})
    ),
    ("delete", "/api/v1/credentials/{credential_id}/waitlist"): Operation(
        success=shapes.NOT_WAITING
    ),
    ("get", "/api/v1/reports/{kind}"): Operation(
        success=shapes.REPORT,
        path={"kind": {"type": "string", "enum": ["holders", "pd-hours", "credit"]}},
        query=(
            {"name": "organisation", "in": "query", "required": False, "schema": or_empty(SLUG)},
            {"name": "credential", "in": "query", "required": False, "schema": or_empty(UUID)},
            {"name": "from", "in": "query", "required": False, "schema": or_empty(DAY)},
            {"name": "to", "in": "query", "required": False, "schema": or_empty(DAY)},
        ),
        errors=frozenset({422}),
    ),
    ("get", "/api/v1/tasks"): Operation(success=shapes.TASKS),
    ("post", "/api/v1/tasks/claim-next"): Operation(
        status=201,
        success=shapes.CLAIM,
        headers=(IDEMPOTENCY_KEY,),
        errors=frozenset({400, 404, 409}),  # 404: no work for me now
    ),
    ("get", "/api/v1/tasks/{task_id}"): Operation(success=shapes.TASK),
    ("post", "/api/v1/tasks/{task_id}/claim"): Operation(
        status=201, success=shapes.CLAIM, headers=(IDEMPOTENCY_KEY,), errors=frozenset({400, 409})
    ),
    ("post", "/api/v1/tasks/{task_id}/extend"): Operation(
        success=shapes.CLAIM, body=ClaimRef, errors=LEASE
    ),
    ("post", "/api/v1/tasks/{task_id}/release"): Operation(
        success=shapes.RELEASED, body=ClaimRef, errors=LEASE
    ),
    ("put", "/api/v1/tasks/{task_id}/review"): Operation(
        success=shapes.REVIEW, body=ReviewIn, errors=LEASE
    ),
    ("post", "/api/v1/tasks/{task_id}/review"): Operation(
        status=201, success=shapes.REVIEW, body=ReviewIn, headers=(IDEMPOTENCY_KEY,), errors=LEASE
    ),
    **CATALOGUE_OPERATIONS,
    # Classroom video and audio (app/views/media): range requests answer 206.
    ("get", "/api/v1/artifacts/{artifact_id}/media"): Operation(),
    ("get", "/api/v1/artifacts/{artifact_id}/rendition"): Operation(success_content=BINARY),
    ("get", "/api/v1/artifacts/{artifact_id}/poster.jpg"): Operation(success_content=JPEG),
    ("get", "/api/v1/artifacts/{artifact_id}/thumbnails/{n}.jpg"): Operation(
        success_content=JPEG, path={"n": {"type": "string", "pattern": "^[1-9][0-9]?$"}}
    ),
    ("get", "/api/v1/tasks/{task_id}/moments"): Operation(),
    ("post", "/api/v1/tasks/{task_id}/moments"): Operation(
        status=201,
        body=MomentIn,
        errors=LEASE,
        description="Beyond the schema, 422 when: the artifact is not a video or audio "
        "recording of the claimed packet; the moment is after the recording ends; the "
        "criterion is not in the packet's rubric; the review holds the most moments already.",
    ),
    ("delete", "/api/v1/tasks/{task_id}/moments/{moment_id}"): Operation(
        body=ClaimRef, errors=LEASE
    ),
    ("put", "/api/v1/criteria/{criterion_id}/media"): Operation(
        body=CriterionMediaIn,
        description="Beyond the schema, 422 when: min_seconds is above max_seconds; an "
        "observation key is unknown; the criterion is not a video or audio item.",
    ),
}

_PATH_PARAM = re.compile(r"{([a-z_]+)}")


def _schema_of(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _refusals(route: Route, method: str, op: Operation) -> set[int]:
    """Every refusal status the operation can answer with."""
    statuses = {503, *op.errors}
    if not op.public:
        statuses.add(401)
    if _PATH_PARAM.search(route.path):
        statuses.add(404)
    if op.body is not None or op.extra_body:
        statuses |= {400, 408, 413, 422}
    if method in ("post", "put", "patch", "delete"):
        statuses.add(403)  # only a cookie session needs the CSRF token
    return statuses


def _operation(
    route: Route, method: str, op: Operation | None, components: dict[str, Any]
) -> dict[str, Any]:
    doc = (route.endpoint.__doc__ or route.name.replace("_", " ")).strip().splitlines()[0]
    described = op or Operation()
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": described.path.get(name, UUID)}
        for name in _PATH_PARAM.findall(route.path)
    ]
    parameters += [*described.query, *described.headers]
    success = described.success_content or {JSON: {"schema": described.success}}
    responses: dict[str, Any] = {str(described.status): {"description": "done", "content": success}}
    for status in sorted(_refusals(route, method, described)):
        responses[str(status)] = {
            "description": REFUSALS[status],
            "content": {JSON: {"schema": ERROR}},
        }
        if status == 503:
            responses[str(status)]["headers"] = RETRY_AFTER
    operation: dict[str, Any] = {
        "summary": doc,
        "operationId": f"{method}_{route.name}",
        "parameters": parameters,
        "responses": responses,
    }
    # Every body is required: sent without one, each operation refuses (400 or 422).
    if described.body is not None:
        content = {JSON: {"schema": _schema_of(described.body, components)}}
        operation["requestBody"] = {"required": True, "content": content | described.extra_body}
    elif described.extra_body:
        operation["requestBody"] = {"required": True, "content": described.extra_body}
    if described.public:
        operation["security"] = [{}, {"token": []}, {"cookie": []}]
    if op is None:
        operation["description"] = "Not described in detail yet."
    elif op.description:
        operation["description"] = op.description
    return operation


def openapi_document(app_routes: list[BaseRoute]) -> dict[str, Any]:
    """An OpenAPI 3.1 description of every /api/v1 route."""
    components: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error", "detail"],
            "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
        }
    }
    for model in (CredentialSpec, StackSpec):  # the catalogue export refers to them too
        _schema_of(model, components)
    paths: dict[str, dict[str, Any]] = {}
    for route in app_routes:
        if not isinstance(route, Route) or not route.path.startswith("/api/v1"):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            key = (method.lower(), route.path)
            paths.setdefault(route.path, {})[method.lower()] = _operation(
                route, method.lower(), OPERATIONS.get(key), components
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MCX API",
            "version": "1",
            "description": (
                'Errors are {"error": code, "detail": message}. No text may hold a NUL '
                "character (400 bad_text): PostgreSQL cannot store one."
            ),
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "mcx_session"},
            },
        },
        "security": [{"token": []}, {"cookie": []}],
        "paths": paths,
    }
