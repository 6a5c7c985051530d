"""The JSON API for what was page-only (issue 18, part 5): quality, study groups, the growth
plan and the self-check, each behind the same access rule as its page; and the OpenAPI
document describing every new operation with its answer's required fields."""

from __future__ import annotations

import httpx
from sqlmodel import select

from app.actions import groups
from app.models import Role, SubmissionCriterion
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth


async def test_groups_growth_and_self_check_as_json(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(
        runtime, alignments=[{"framework": "PSEL", "code": "PSEL 6", "title": "Capacity"}]
    )
    ada = await f.person(runtime, "ada", [Role.earner])
    ben = await f.person(runtime, "ben", [Role.earner])
    token, other = await f.token_for(runtime, ada), await f.token_for(runtime, ben)
    async with runtime.sessions() as session:
        group = await groups.create_group(session, ada, "Tuesday PLC", credential_id=credential.id)
    mine = (await client.get("/api/v1/groups", headers=auth(token))).json()
    assert [g["name"] for g in mine["groups"]] == ["Tuesday PLC"]
    shown = (await client.get(f"/api/v1/groups/{group.id}", headers=auth(token))).json()
    assert shown["members"][0]["name"] == "Ada"
    assert shown["members"][0]["packets"][0]["state"] == "not started"
    assert (await client.get(f"/api/v1/groups/{group.id}", headers=auth(other))).status_code == 404

    plan = await client.put(
        "/api/v1/growth", json={"standards": ["PSEL|PSEL 6"]}, headers=auth(token)
    )
    assert plan.status_code == 200, plan.text
    assert plan.json()["gaps"] == [
        {
            "standard": "PSEL|PSEL 6",
            "title": "Capacity",
            "earned": [],
            "in_progress": [],
            "not_started": [credential.title],
        }
    ]
    assert plan.json()["recommendations"][0]["credential_id"] == str(credential.id)
    bad = await client.put("/api/v1/growth", json={"standards": ["X|1"]}, headers=auth(token))
    assert bad.status_code == 422 and bad.json()["error"] == "unknown_standard"
    assert (await client.get("/api/v1/growth", headers=auth(token))).json()["standards"] == [
        "PSEL|PSEL 6"
    ]

    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(token)
    )
    submission_id = started.json()["id"]
    check = await client.get(f"/api/v1/submissions/{submission_id}/self-check", headers=auth(token))
    assert check.status_code == 200
    async with runtime.sessions() as session:
        required = (
            await session.exec(
                select(SubmissionCriterion.title)
                .where(SubmissionCriterion.credential_id == credential.id)
                .where(SubmissionCriterion.required)
            )
        ).all()
    assert check.json()["ready"] is False
    assert [i["title"] for i in check.json()["items"] if i["required"]] == list(required)
    assert any("Reflection" in b for b in check.json()["blocking"])
    assert (
        await client.get(f"/api/v1/submissions/{submission_id}/self-check", headers=auth(other))
    ).status_code == 404


async def test_quality_as_json_for_coordinators_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    coordinator = await f.token_for(runtime, await f.person(runtime, "coco", [Role.coordinator]))
    found = (await client.get("/api/v1/quality", headers=auth(coordinator))).json()
    assert found["credentials"][0]["id"] == str(credential.id)
    assert found["credentials"][0]["alpha"] is None and found["credentials"][0]["units"] == 0
    assert found["below_floor"] == [] and found["flagged_feedback"] == []
    assert found["flagged_ratings"] == []
    earner = await f.token_for(runtime, await f.person(runtime, "ada", [Role.earner]))
    assert (await client.get("/api/v1/quality", headers=auth(earner))).status_code == 404
    assert (await client.get("/api/v1/quality")).status_code == 401


async def test_the_document_describes_the_new_operations(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/api/v1/openapi.json")).json()
    paths = doc["paths"]
    rate = paths["/api/v1/credentials/{credential_id}/ratings"]["post"]
    # The exact document (issue 16): no catch-all, each answer the endpoint really gives.
    assert "default" not in rate["responses"]
    assert set(rate["responses"]) == {
        "201",  # rated
        "400",  # unreadable body
        "401",  # not signed in
        "403",  # not finished yet (or a cookie session without its CSRF token)
        "404",  # no such credential
        "408",  # the body stalled
        "409",  # already rated
        "413",  # the body is too large
        "422",  # invalid stars or text
        "503",  # PostgreSQL or Redis unreachable
    }
    assert rate["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RatingIn"
    }
    schemas = doc["components"]["schemas"]
    assert schemas["RatingIn"]["required"] == ["clarity", "relevance", "workload", "feedback"]
    assert "PanelScoreIn" in schemas and "RecognitionIn" in schemas
    answer = rate["responses"]["201"]["content"]["application/json"]["schema"]
    assert {"id", "stars", "text", "hidden", "answer"} <= set(answer["required"])
    catalog = paths["/api/v1/catalog"]["get"]
    assert catalog["security"][0] == {}
    assert [p["name"] for p in catalog["parameters"]][-1] == "sort"
    for path in (
        "/api/v1/quality",
        "/api/v1/groups",
        "/api/v1/growth",
        "/api/v1/submissions/{submission_id}/self-check",
        "/api/v1/catalogue/coverage",
        "/api/v1/catalogue/duplicates",
    ):
        described = paths[path]["get"]
        assert "description" not in described, path  # not the "not described yet" fallback
        schema = described["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["required"], path
