"""Credential review panels (issue 18, part 2): experts score alone against the shipped
quality rubric, the panel's agreement is Krippendorff's alpha, a pass certifies with date,
panel and rubric version, and a changed rubric or submission criteria expires the mark."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import krippendorff
import pytest
from sqlalchemy import event
from sqlmodel import select
from starlette.applications import Starlette

from app.actions import catalog
from app.models import AuditEntry, CredentialPanel, Role
from app.panels import COMPONENT_KEYS, QUALITY_RUBRIC_VERSION, fingerprint
from app.runtime import Runtime
from tests import factories as f
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"
# Three panellists' levels on the six components (a constructed case).
LEVELS = {
    "ana": [2, 3, 2, 2, 3, 1],
    "ben": [2, 3, 3, 2, 2, 2],
    "cai": [3, 3, 2, 2, 3, 2],
}


async def _panel(client: httpx.AsyncClient, runtime: Runtime) -> tuple[dict, dict[str, str], str]:
    credential = await f.credential(runtime)
    coordinator = await f.token_for(runtime, await f.person(runtime, "coord", [Role.coordinator]))
    tokens = {}
    for name in LEVELS:
        tokens[name] = await f.token_for(runtime, await f.person(runtime, name, [Role.expert]))
    made = await client.post(
        "/api/v1/panels",
        json={
            "credential_id": str(credential.id),
            "name": "Illinois design panel",
            "panellists": [f"{n}@mcx.example" for n in LEVELS],
        },
        headers=f.auth(coordinator),
    )
    assert made.status_code == 201, made.text
    return made.json(), tokens, coordinator


def _scores(levels: list[int]) -> list[dict]:
    return [{"component": k, "level": v} for k, v in zip(COMPONENT_KEYS, levels, strict=True)]


async def test_panellists_score_alone_and_the_panel_reports_alpha(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    panel, tokens, _ = await _panel(client, runtime)
    url = f"/api/v1/panels/{panel['id']}"
    saved = await client.put(
        url + "/scores", json={"scores": _scores(LEVELS["ana"])}, headers=f.auth(tokens["ana"])
    )
    assert saved.status_code == 200 and saved.json()["decided_at"] is None
    # Another panellist sees only their own (none yet), and no results.
    ben_view = (await client.get(url, headers=f.auth(tokens["ben"]))).json()
    assert ben_view["my_scores"] == [] and ben_view["results"] is None
    incomplete = await client.put(
        url + "/scores",
        json={"scores": _scores(LEVELS["ben"])[:5], "submit": True},
        headers=f.auth(tokens["ben"]),
    )
    assert incomplete.status_code == 422 and "rubric" in incomplete.json()["detail"]
    for name in LEVELS:
        done = await client.put(
            url + "/scores",
            json={"scores": _scores(LEVELS[name]), "submit": True},
            headers=f.auth(tokens[name]),
        )
        assert done.status_code == 200, done.text
    again = await client.put(
        url + "/scores", json={"scores": _scores(LEVELS["ana"])}, headers=f.auth(tokens["ana"])
    )
    assert again.status_code == 409
    result = (await client.get(url, headers=f.auth(tokens["ana"]))).json()
    # Every median at "Meets" (2) or above: the rubric component's 1, 2, 2 has median 2.
    assert result["passed"] is True
    # The app pools levels per component (value counts); the package's coders x units path
    # on the same table is the independent check: 0.376 for this case.
    expected = krippendorff.alpha(
        reliability_data=list(LEVELS.values()), level_of_measurement="ordinal"
    )
    assert result["results"]["alpha"] == pytest.approx(expected, abs=1e-9)
    assert result["results"]["scored"] == 3
    medians = {c["key"]: c["median"] for c in result["results"]["components"]}
    assert medians == {
        "competency": 2,
        "key_method": 3,
        "method_components": 2,
        "research_resources": 2,
        "submission_criteria": 3,
        "rubric": 2,
    }


async def test_a_pass_certifies_and_a_changed_rubric_expires_the_mark(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    panel, tokens, coordinator = await _panel(client, runtime)
    url = f"/api/v1/panels/{panel['id']}"
    for name in ("ben", "cai"):
        assert (
            await client.put(
                url + "/scores",
                json={"scores": _scores(LEVELS[name]), "submit": True},
                headers=f.auth(tokens[name]),
            )
        ).status_code == 200
    # ana never scores: the convening coordinator closes on two (with an even count the
    # lower middle level counts, so ana's and ben's 1 and 2 on the rubric would not pass).
    closed = await client.post(url + "/close", headers=f.auth(coordinator))
    assert closed.status_code == 200 and closed.json()["passed"] is True
    assert closed.json()["results"]["scored"] == 2
    mark = (await client.get(f"/api/v1/credentials/{panel['credential_id']}/certification")).json()[
        "mark"
    ]
    assert mark["current"] and mark["panel"] == "Illinois design panel"
    assert mark["quality_rubric_version"] == QUALITY_RUBRIC_VERSION and mark["certified_at"]
    page = await client.get("/credentials/ipa/coaching")
    assert 'data-testid="panel-mark"' in page.text and "Panel-certified" in page.text
    catalog = (await client.get("/api/v1/catalog")).json()["credentials"]
    assert catalog[0]["certified"] is True

    rubric = {
        "min_level": 2,
        "criteria": [
            {"title": "Plans", "levels": f.LEVELS},
            {"title": "Acts, and reflects", "levels": f.LEVELS},
        ],
    }
    changed = await client.put(
        f"/api/v1/credentials/{panel['credential_id']}/rubric",
        json=rubric,
        headers=f.auth(coordinator),
    )
    assert changed.status_code == 201, changed.text
    mark = (await client.get(f"/api/v1/credentials/{panel['credential_id']}/certification")).json()[
        "mark"
    ]
    assert not mark["current"]
    assert mark["expired_because"] == (
        "The credential's rubric or submission criteria changed since."
    )
    page = await client.get("/credentials/ipa/coaching")
    assert "Panel certification of" in page.text and "expired" in page.text
    assert (await client.get("/api/v1/catalog")).json()["credentials"][0]["certified"] is False
    async with runtime.sessions() as session:
        actions = (await session.exec(select(AuditEntry.action))).all()
    assert "panel.convened" in actions and "panel.certified" in actions


async def test_low_scores_do_not_certify_and_only_experts_sit(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    panel, tokens, coordinator = await _panel(client, runtime)
    url = f"/api/v1/panels/{panel['id']}"
    early = await client.post(url + "/close", headers=f.auth(coordinator))
    assert early.status_code == 409 and early.json()["error"] == "too_few_scores"
    for name in LEVELS:
        low = [1, 2, 2, 2, 2, 2]
        await client.put(
            url + "/scores",
            json={"scores": _scores(low), "submit": True},
            headers=f.auth(tokens[name]),
        )
    decided = (await client.get(url, headers=f.auth(coordinator))).json()
    assert decided["passed"] is False
    # Identical levels: alpha is 1 where there is variation across components.
    assert decided["results"]["alpha"] == pytest.approx(1.0)
    mark = (await client.get(f"/api/v1/credentials/{panel['credential_id']}/certification")).json()
    assert mark == {"mark": None}

    await f.person(runtime, "peer", [Role.reviewer])
    refused = await client.post(
        "/api/v1/panels",
        json={
            "credential_id": panel["credential_id"],
            "name": "Second panel",
            "panellists": ["ana@mcx.example", "peer@mcx.example"],
        },
        headers=f.auth(coordinator),
    )
    assert refused.status_code == 422 and "peer@mcx.example" in refused.json()["detail"]
    stranger = await f.token_for(runtime, await f.person(runtime, "stranger", [Role.earner]))
    assert (await client.get(url, headers=f.auth(stranger))).status_code == 404
    assert (
        await client.post(
            "/api/v1/panels",
            json={
                "credential_id": panel["credential_id"],
                "name": "Mine",
                "panellists": ["ana@mcx.example", "ben@mcx.example"],
            },
            headers=f.auth(stranger),
        )
    ).status_code == 404


async def test_the_panel_pages_convene_score_and_show_the_outcome(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    await f.person(runtime, "coord", [Role.coordinator])
    for name in ("ana", "ben"):
        await f.person(runtime, name, [Role.expert])
    assert (await log_in(client, "coord@mcx.example", PASSWORD)).status_code == 303
    token = await csrf_from(client, "/panels")
    made = await client.post(
        "/panels",
        data={
            "csrf_token": token,
            "credential_id": str(credential.id),
            "name": "Page panel",
            "panellists": "ana@mcx.example\nben@mcx.example",
        },
    )
    assert made.status_code == 303, made.text
    panel_url = made.headers["location"]
    await client.post("/logout", data={"csrf_token": token})
    for name in ("ana", "ben"):
        assert (await log_in(client, f"{name}@mcx.example", PASSWORD)).status_code == 303
        page = await client.get(panel_url)
        assert 'data-testid="panel-score-form"' in page.text
        token = await csrf_from(client, panel_url)
        form = {f"level-{k}": "2" for k in COMPONENT_KEYS} | {"csrf_token": token}
        done = await client.post(panel_url + "/scores", data=form | {"action": "submit"})
        assert done.status_code == 303
        await client.post("/logout", data={"csrf_token": token})
    assert (await log_in(client, "ana@mcx.example", PASSWORD)).status_code == 303
    page = await client.get(panel_url)
    assert 'data-testid="panel-outcome"' in page.text and "Certified" in page.text
    assert "not enough data" in page.text  # every level the same: alpha undefined


async def test_changed_submission_criteria_expire_the_mark(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    panel, tokens, coordinator = await _panel(client, runtime)
    url = f"/api/v1/panels/{panel['id']}"
    for name in LEVELS:
        await client.put(
            url + "/scores",
            json={"scores": _scores(LEVELS[name]), "submit": True},
            headers=f.auth(tokens[name]),
        )
    certification = f"/api/v1/credentials/{panel['credential_id']}/certification"
    assert (await client.get(certification)).json()["mark"]["current"]
    spec = f.credential_spec("coaching").model_dump(mode="json")
    spec["submission_criteria"][1]["required"] = True  # the lesson plan becomes required
    edited = await client.put(
        f"/api/v1/credentials/{panel['credential_id']}", json=spec, headers=f.auth(coordinator)
    )
    assert edited.status_code == 200, edited.text
    mark = (await client.get(certification)).json()["mark"]
    assert mark["current"] is False and "submission criteria" in mark["expired_because"]


async def test_the_catalogue_checks_every_mark_in_a_fixed_number_of_statements(
    app: Starlette, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    async def certify(slug: str) -> None:
        credential = await f.credential(runtime, slug)
        async with runtime.sessions() as session:
            organisation = await catalog.organisation_by_slug(session, "ipa")
            assert organisation is not None
            session.add(
                CredentialPanel(
                    credential_id=credential.id,
                    organisation_id=organisation.id,
                    name=f"Panel {slug}",
                    quality_rubric_version=QUALITY_RUBRIC_VERSION,
                    decided_at=datetime.now(UTC),
                    passed=True,
                    fingerprint=await fingerprint(session, credential.id),
                )
            )
            await session.commit()

    engine = app.state.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await certify("one")
        statements.clear()
        found = (await client.get("/api/v1/catalog")).json()["credentials"]
        assert [c["certified"] for c in found] == [True]
        few = len(statements)
        for i in range(4):
            await certify(f"more{i}")
        statements.clear()
        found = (await client.get("/api/v1/catalog")).json()["credentials"]
        assert [c["certified"] for c in found] == [True] * 5
        assert len(statements) == few
    finally:
        event.remove(engine, "before_cursor_execute", count)
