"""Catalogue import and export: every error with its path and nothing written; a valid
catalogue round-trips (export → import → export is identical); OB 3.0 achievements."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlmodel import func, select

from app.models import AuditEntry, Credential, Role, Stack
from app.runtime import Runtime
from tests import factories as f
from tests.conftest import _reset
from tests.factories import auth
from tests.helpers import csrf_from, log_in


async def _catalogue(runtime: Runtime) -> str:
    """IPA with two credentials (one with alignments) and a stack; a coordinator's token."""
    await f.credential(
        runtime,
        "coaching",
        pd_hours="7.5",
        target_hours=48,
        alignments=[
            {"framework": "PSEL", "code": "6", "title": "Professional capacity"},
            {"framework": "ISTE", "code": "2.4", "url": "https://iste.org/2.4"},
        ],
    )
    await f.credential(runtime, "data-teams", status="pilot", pilot_spots=3)
    from app.actions import catalog
    from app.specs import StackSpec

    async with runtime.sessions() as session:
        await catalog.create_stack(
            session,
            StackSpec(
                slug="lead",
                organisation="ipa",
                title="Lead",
                credentials=["coaching", "data-teams"],
            ),
        )
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    return await f.token_for(runtime, coordinator)


async def _counts(runtime: Runtime) -> tuple[int, int]:
    async with runtime.sessions() as session:
        credentials = (await session.exec(select(func.count()).select_from(Credential))).one()
        stacks = (await session.exec(select(func.count()).select_from(Stack))).one()
    return credentials, stacks


async def test_export_then_import_then_export_is_identical(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await _catalogue(runtime)
    first = await client.get("/api/v1/organisations/ipa/catalogue", headers=auth(token))
    assert first.status_code == 200
    exported = first.json()
    assert [c["slug"] for c in exported["credentials"]] == ["coaching", "data-teams"]
    assert exported["credentials"][0]["pd_hours"] == "7.50"
    assert exported["stacks"][0]["credentials"] == ["coaching", "data-teams"]
    # Another MCX: empty, with the same organisation and a coordinator of it.
    await _reset(runtime)
    await f.organisation(runtime)
    token = await f.token_for(runtime, await f.person(runtime, "coord2", [Role.coordinator]))
    imported = await client.post("/api/v1/catalogue", json=exported, headers=auth(token))
    assert imported.status_code == 201, imported.text
    assert imported.json() == {"imported": {"credentials": 2, "stacks": 1}}
    again = await client.get("/api/v1/organisations/ipa/catalogue", headers=auth(token))
    assert json.dumps(again.json(), sort_keys=True) == json.dumps(exported, sort_keys=True)


def _broken(exported: dict[str, Any]) -> dict[str, Any]:
    document = json.loads(json.dumps(exported))
    for credential in document["credentials"]:
        credential["slug"] += "-copy"  # so only the planted errors remain
    document["credentials"][0]["rubric"]["criteria"][1]["levels"][2]["points"] = -4
    document["credentials"][0]["submission_criteria"][0]["kind"] = "hologram"
    document["credentials"][1]["title"] = ""
    document["credentials"][1]["alignments"] = [{"framework": "PSEL"}]
    document["stacks"][0]["credentials"] = ["coaching-copy", "nowhere"]
    document["stacks"][0]["slug"] = "lead-copy"
    return document


async def test_a_malformed_catalogue_reports_every_error_and_writes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await _catalogue(runtime)
    exported = (await client.get("/api/v1/organisations/ipa/catalogue", headers=auth(token))).json()
    before = await _counts(runtime)
    refused = await client.post("/api/v1/catalogue", json=_broken(exported), headers=auth(token))
    assert refused.status_code == 422
    paths = {error["path"] for error in refused.json()["errors"]}
    assert paths == {
        "credentials.0.rubric.criteria.1.levels.2.points",
        "credentials.0.submission_criteria.0.kind",
        "credentials.1.title",
        "credentials.1.alignments.0.code",
    }, refused.json()
    # Shapes first; once they are right, the database checks report theirs (all of them).
    shaped = json.loads(json.dumps(exported))
    shaped["credentials"][1]["slug"] = "fresh"
    shaped["stacks"][0]["credentials"] = ["fresh", "nowhere"]
    shaped["stacks"][0]["slug"] = "lead-2"
    refused = await client.post("/api/v1/catalogue", json=shaped, headers=auth(token))
    assert refused.status_code == 422
    assert {(e["path"], e["message"]) for e in refused.json()["errors"]} == {
        ("credentials.0.slug", "a credential 'coaching' already exists"),
        ("stacks.0.credentials.1", "no credential 'nowhere' in this catalogue or in MCX"),
    }
    assert await _counts(runtime) == before
    async with runtime.sessions() as session:
        imports = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "catalogue.imported"))
        ).all()
    assert imports == []
    # Not a catalogue at all, or another organisation's: refused the same way.
    for body in ([], {"format": "other/1"}):
        answer = await client.post("/api/v1/catalogue", json=body, headers=auth(token))
        assert answer.status_code == 422 and answer.json()["errors"]
    await f.organisation(runtime, "ctq")
    foreign = json.loads(json.dumps(exported))
    foreign["credentials"] = [dict(foreign["credentials"][0], organisation="ctq", slug="x")]
    foreign["stacks"] = []
    answer = await client.post("/api/v1/catalogue", json=foreign, headers=auth(token))
    assert answer.json()["errors"] == [
        {
            "path": "credentials.0.organisation",
            "message": "you do not coordinate an organisation 'ctq'",
        }
    ]
    assert await _counts(runtime) == before


async def test_the_import_page_lists_errors_and_the_export_downloads(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _catalogue(runtime)
    await log_in(client, "coord@mcx.example", "factory-password-1")
    download = await client.get("/coordinate/catalogue/ipa.json")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    document = download.json()
    token = await csrf_from(client, "/coordinate/catalogue/import")
    url = "/coordinate/catalogue/import"
    page = await client.post(
        url,
        data={"csrf_token": token},
        files={"file": ("c.json", json.dumps(_broken(document)).encode(), "application/json")},
    )
    assert page.status_code == 422
    assert "credentials.0.submission_criteria.0.kind" in page.text
    assert "Nothing was imported" in page.text
    fresh = json.loads(json.dumps(document))
    for credential in fresh["credentials"]:
        credential["slug"] += "-2"
    fresh["stacks"][0]["slug"] = "lead-2"
    fresh["stacks"][0]["credentials"] = ["coaching-2", "data-teams-2"]
    ok = await client.post(url, data={"csrf_token": token, "document": json.dumps(fresh)})
    assert ok.status_code == 200 and 'data-testid="import-done"' in ok.text
    assert await _counts(runtime) == (4, 2)
    ob = (await client.get("/coordinate/catalogue/ipa.json?shape=ob3")).json()
    coaching = next(a for a in ob if a["name"] == "Credential coaching")
    assert coaching["type"] == ["Achievement"]
    assert coaching["creditsAvailable"] == 7.5
    assert {a["targetFramework"] for a in coaching["alignment"]} == {"PSEL", "ISTE"}
    # Someone who coordinates nothing there sees nothing.
    await f.organisation(runtime, "ctq")
    await f.person(runtime, "stranger", [Role.coordinator], org="ctq")
    await log_in(client, "stranger@mcx.example", "factory-password-1")
    assert (await client.get("/coordinate/catalogue/ipa.json")).status_code == 404
