"""The OpenAPI document describes every /api/v1 operation: parameters, bodies, answers."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from app.main import create_app
from app.models import Role
from app.runtime import Runtime
from app.views.openapi import OPERATIONS
from tests import factories as f
from tests.factories import auth


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
    # Every answer it can give, each with its body (issue 16: no catch-all "default").
    assert set(review["responses"]) == {
        "201",
        "400",
        "401",
        "403",
        "404",
        "408",
        "409",
        "413",
        "422",
        "503",
    }
    assert review["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "Retry-After" in review["responses"]["503"]["headers"]
    created = review["responses"]["201"]["content"]["application/json"]["schema"]
    assert created["required"] == ["review_id", "state", "recommendation"]
    # A body the operation cannot do without is required, and so are its required fields.
    assert review["requestBody"]["required"] is True
    release = doc["paths"]["/api/v1/tasks/{task_id}/release"]["post"]
    assert release["requestBody"]["required"] is True
    assert schemas["ClaimRef"]["required"] == ["lease_version"]
    claim = doc["paths"]["/api/v1/tasks/{task_id}/claim"]["post"]["responses"]["201"]
    assert set(claim["content"]["application/json"]["schema"]["required"]) == {
        "task_id",
        "lease_version",
        "lease_expires_at",
        "extended",
    }
    upload = doc["paths"]["/api/v1/submissions/{submission_id}/artifacts/{criterion_id}"]["post"]
    # Too large and too many uploads at once happen here, and are said here.
    assert {"413", "415", "429"} <= set(upload["responses"])
    assert set(upload["requestBody"]["content"]) == {
        "application/json",
        "multipart/form-data",
        "application/octet-stream",
    }
    after = doc["paths"]["/api/v1/notifications"]["get"]["parameters"][0]
    assert after["name"] == "after" and after["schema"]["type"] == "integer"
    assert doc["paths"]["/api/v1/credentials"]["get"]["security"][0] == {}


async def test_405_answers_carry_allow_with_every_method_the_path_serves(
    client: httpx.AsyncClient,
) -> None:
    # GET and PUT /api/v1/credentials/{id} are two routes in two modules: Allow names both.
    path = "/api/v1/credentials/00000000-0000-4000-8000-000000000000"
    for method in ("TRACE", "OPTIONS"):  # (an unsafe method meets the CSRF check first)
        answer = await client.request(method, path)
        assert answer.status_code == 405, method
        assert answer.headers["allow"] == "GET, HEAD, PUT", method
        assert answer.json()["error"] == "method_not_allowed"
    # The path the router chose, not another that also matches ("{task_id}" matches it too),
    # for every method: GET and HEAD too, which GET /api/v1/tasks/{task_id} serves.
    for method in ("GET", "HEAD", "TRACE", "OPTIONS"):
        claim_next = await client.request(method, "/api/v1/tasks/claim-next")
        assert claim_next.status_code == 405, method
        assert claim_next.headers["allow"] == "POST", method
    assert claim_next.json() == {"error": "method_not_allowed", "detail": "Method Not Allowed"}
    review = await client.request(
        "TRACE", "/api/v1/tasks/00000000-0000-4000-8000-000000000000/review"
    )
    assert review.headers["allow"] == "POST, PUT"
    assert (await client.request("TRACE", "/login")).headers["allow"] == "GET, HEAD, POST"


async def test_ids_and_filters_take_only_the_documented_forms(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """What the document calls invalid is refused, not quietly accepted (schemathesis sends
    such values and fails the run when they succeed)."""
    credential = await f.credential(runtime)
    assert (await client.get(f"/api/v1/credentials/{credential.id}")).status_code == 200
    for other_form in (f"{{{credential.id}}}", f"urn:uuid:{credential.id}", credential.id.hex):
        assert (await client.get(f"/api/v1/credentials/{other_form}")).status_code == 404
    recognizer = await f.token_for(runtime, await f.person(runtime, "rec", [Role.recognizer]))
    report = "/api/v1/reports/holders"
    assert (await client.get(f"{report}?to=&from=", headers=auth(recognizer))).status_code == 200
    for bad in (
        "to=20200101",
        "to=%202020-01-01",
        "from=2020-W01-1",
        f"credential={{{credential.id}}}",
    ):
        answer = await client.get(f"{report}?{bad}", headers=auth(recognizer))
        assert answer.status_code == 422, bad
