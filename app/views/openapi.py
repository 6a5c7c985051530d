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

from app.specs import CredentialSpec, RubricSpec, StackSpec
from app.views.api_coordinators import AppealIn, RulingIn
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
CATALOGUE = {
    "type": "object",
    "description": "an export document (GET /organisations/{organisation}/catalogue)",
}
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
    body: type[BaseModel] | None = None
    query: tuple[dict[str, Any], ...] = ()
    headers: tuple[dict[str, Any], ...] = ()
    public: bool = False  # no log-in needed
    success_content: dict[str, Any] = field(default_factory=lambda: {JSON: {"schema": OBJECT}})
    extra_body: dict[str, Any] = field(default_factory=dict)  # other media types accepted
    path: dict[str, dict[str, Any]] = field(default_factory=dict)  # path params not uuids


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
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("get", "/api/v1/me"): Operation(),
    ("get", "/api/v1/notifications"): Operation(
        query=(
            {
                "name": "after",
                "in": "query",
                "required": False,
                "description": "only notifications with a larger id (catch-up after offline)",
                "schema": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
            },
        )
    ),
    ("get", "/api/v1/openapi.json"): Operation(public=True),
    ("get", "/api/v1/credentials"): Operation(public=True),
    ("get", "/api/v1/credentials/{credential_id}"): Operation(public=True),
    ("put", "/api/v1/credentials/{credential_id}/rubric"): Operation(status=201, body=RubricSpec),
    ("post", "/api/v1/submissions"): Operation(status=201, body=StartIn),
    ("get", "/api/v1/submissions/{submission_id}"): Operation(),
    ("post", "/api/v1/submissions/{submission_id}/artifacts/{criterion_id}"): ARTIFACT,
    ("put", "/api/v1/submissions/{submission_id}/artifacts/{criterion_id}"): ARTIFACT,
    ("post", "/api/v1/submissions/{submission_id}/submit"): Operation(status=202),
    ("post", "/api/v1/submissions/{submission_id}/withdraw"): Operation(),
    ("post", "/api/v1/submissions/{submission_id}/edit"): Operation(),
    ("post", "/api/v1/submissions/{submission_id}/resubmit"): Operation(status=201),
    ("post", "/api/v1/submissions/{submission_id}/appeal"): Operation(status=201, body=AppealIn),
    ("post", "/api/v1/appeals/{appeal_id}/ruling"): Operation(body=RulingIn),
    ("get", "/api/v1/artifacts/{artifact_id}"): Operation(
        success_content={"*/*": {"schema": {"type": "string", "format": "binary"}}}
    ),
    ("post", "/api/v1/credentials"): Operation(status=201, body=CredentialSpec),
    ("put", "/api/v1/credentials/{credential_id}"): Operation(body=CredentialSpec),
    ("post", "/api/v1/stacks"): Operation(status=201, body=StackSpec),
    ("get", "/api/v1/organisations/{organisation}/catalogue"): Operation(
        path={"organisation": SLUG}
    ),
    ("post", "/api/v1/catalogue"): Operation(status=201, extra_body={JSON: {"schema": CATALOGUE}}),
    ("post", "/api/v1/credentials/{credential_id}/waitlist"): Operation(status=201),
    ("delete", "/api/v1/credentials/{credential_id}/waitlist"): Operation(),
    ("get", "/api/v1/reports/{kind}"): Operation(
        path={"kind": {"type": "string", "enum": ["holders", "pd-hours"]}},
        query=(
            {"name": "organisation", "in": "query", "required": False, "schema": SLUG},
            {"name": "credential", "in": "query", "required": False, "schema": UUID},
            {"name": "from", "in": "query", "required": False, "schema": DAY},
            {"name": "to", "in": "query", "required": False, "schema": DAY},
        ),
    ),
    ("get", "/api/v1/tasks"): Operation(),
    ("post", "/api/v1/tasks/claim-next"): Operation(status=201, headers=(IDEMPOTENCY_KEY,)),
    ("get", "/api/v1/tasks/{task_id}"): Operation(),
    ("post", "/api/v1/tasks/{task_id}/claim"): Operation(status=201, headers=(IDEMPOTENCY_KEY,)),
    ("post", "/api/v1/tasks/{task_id}/extend"): Operation(body=ClaimRef),
    ("post", "/api/v1/tasks/{task_id}/release"): Operation(body=ClaimRef),
    ("put", "/api/v1/tasks/{task_id}/review"): Operation(body=ReviewIn),
    ("post", "/api/v1/tasks/{task_id}/review"): Operation(
        status=201, body=ReviewIn, headers=(IDEMPOTENCY_KEY,)
    ),
    # Classroom video and audio (app/views/media): range requests answer 206.
    ("get", "/api/v1/artifacts/{artifact_id}/media"): Operation(),
    ("get", "/api/v1/artifacts/{artifact_id}/rendition"): Operation(success_content=BINARY),
    ("get", "/api/v1/artifacts/{artifact_id}/poster.jpg"): Operation(success_content=JPEG),
    ("get", "/api/v1/artifacts/{artifact_id}/thumbnails/{n}.jpg"): Operation(
        success_content=JPEG, path={"n": {"type": "string", "pattern": "^[1-9][0-9]?$"}}
    ),
    ("get", "/api/v1/tasks/{task_id}/moments"): Operation(),
    ("post", "/api/v1/tasks/{task_id}/moments"): Operation(status=201, body=MomentIn),
    ("delete", "/api/v1/tasks/{task_id}/moments/{moment_id}"): Operation(body=ClaimRef),
    ("put", "/api/v1/criteria/{criterion_id}/media"): Operation(body=CriterionMediaIn),
}

_PATH_PARAM = re.compile(r"{([a-z_]+)}")


def _schema_of(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


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
    responses: dict[str, Any] = {
        str(described.status): {"description": "done", "content": described.success_content},
        "default": {
            "description": 'an error: {"error": code, "detail": message}',
            "content": {JSON: {"schema": ERROR}},
        },
    }
    operation: dict[str, Any] = {
        "summary": doc,
        "operationId": f"{method}_{route.name}",
        "parameters": parameters,
        "responses": responses,
    }
    if described.body is not None:
        content = {JSON: {"schema": _schema_of(described.body, components)}}
        operation["requestBody"] = {"required": False, "content": content | described.extra_body}
    elif described.extra_body:
        operation["requestBody"] = {"required": False, "content": described.extra_body}
    if described.public:
        operation["security"] = [{}, {"token": []}, {"cookie": []}]
    if op is None:
        operation["description"] = "Not described in detail yet."
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
        "info": {"title": "MCX API", "version": "1"},
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
