"""The OpenAPI document describes every /api/v1 operation: parameters, bodies, answers."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from app.main import create_app
from app.views.openapi import OPERATIONS


def test_every_api_route_is_described() -> None:
    app = create_app()
    served = {
        (method.lower(), route.path)
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/api/v1")
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert served == set(OPERATIONS)


async def test_the_document_names_parameters_bodies_and_answers(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/api/v1/openapi.json")).json()
    review = doc["paths"]["/api/v1/tasks/{task_id}/review"]["post"]
    assert [p["name"] for p in review["parameters"]] == ["task_id", "Idempotency-Key"]
    body = review["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ReviewIn"}
    schemas = doc["components"]["schemas"]
    assert schemas["ReviewIn"]["required"] == ["lease_version"]
    assert "ScoreIn" in schemas  # nested models are hoisted, their references resolve
    assert set(review["responses"]) == {"201", "default"}
    assert review["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    upload = doc["paths"]["/api/v1/submissions/{submission_id}/artifacts/{criterion_id}"]["post"]
    assert set(upload["requestBody"]["content"]) == {
        "application/json",
        "multipart/form-data",
        "application/octet-stream",
    }
    after = doc["paths"]["/api/v1/notifications"]["get"]["parameters"][0]
    assert after["name"] == "after" and after["schema"]["type"] == "integer"
    assert doc["paths"]["/api/v1/credentials"]["get"]["security"][0] == {}
