"""Recognition lists and the catalogue map (issue 18, parts 3 and 4): a state's list with
credit rules shows on credential pages, its rules total credit in the recognizer's reports,
the list exports as CSV and JSON; near-duplicates across issuers are flagged (a constructed
near-copy, not a distinct credential); the standards coverage map."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx

from app.models import Membership, Role
from app.runtime import Runtime
from tests import factories as f
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"
INTASC = [{"framework": "InTASC", "code": "InTASC 3"}, {"framework": "InTASC", "code": "7"}]


async def _state_recognizer(runtime: Runtime) -> str:
    """A recognizer for IPA's people who also keeps the state's (ISBE's) list."""
    user = await f.person(runtime, "state", [Role.recognizer])
    isbe = await f.organisation(runtime, "isbe")
    async with runtime.sessions() as session:
        session.add(Membership(user_id=user.id, organisation_id=isbe.id, role=Role.recognizer))
        await session.commit()
    return await f.token_for(runtime, user)


async def test_a_state_list_shows_on_pages_totals_credit_and_exports(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    coaching = await f.credential(runtime, "coaching", title="Coaching")
    data = await f.credential(runtime, "data", title="Data, Inquiry")
    unlisted = await f.credential(runtime, "unlisted", title="Unlisted")
    token = await _state_recognizer(runtime)
    rules = {
        coaching.id: {"credit_type": "pd_hours", "amount": "10", "effective_from": "2026-01-01"},
        data.id: {
            "credit_type": "licence_renewal",
            "amount": "2.5",
            "effective_from": "2026-01-01",
            "effective_to": "2026-06-30",
            "note": "=Counts once",
        },
    }
    for credential_id, rule in rules.items():
        put = await client.put(
            f"/api/v1/organisations/isbe/recognitions/{credential_id}",
            json=rule,
            headers=f.auth(token),
        )
        assert put.status_code == 200, put.text
    outsider = await f.token_for(runtime, await f.person(runtime, "peer", [Role.reviewer]))
    refused = await client.put(
        f"/api/v1/organisations/isbe/recognitions/{unlisted.id}",
        json=rules[coaching.id],
        headers=f.auth(outsider),
    )
    assert refused.status_code == 404
    bad = await client.put(
        f"/api/v1/organisations/isbe/recognitions/{unlisted.id}",
        json=rules[coaching.id] | {"effective_to": "2025-12-31"},
        headers=f.auth(token),
    )
    assert bad.status_code == 422 and bad.json()["error"] == "bad_dates"

    page = await client.get("/credentials/ipa/coaching")
    assert "ISBE: <strong>10 PD hours</strong>, from 2026-01-01" in page.text
    listed = (await client.get(f"/api/v1/credentials/{data.id}/recognitions")).json()
    assert listed["recognitions"][0]["credit"] == "2.5 licence-renewal hours"

    # Three IPA teachers: two awards in effect, one issued after the data rule ended.
    earners = [await f.person(runtime, f"teacher{i}", [Role.earner]) for i in range(2)]
    await f.award(runtime, earners[0], coaching, issued_at=datetime(2026, 3, 1, tzinfo=UTC))
    await f.award(runtime, earners[0], data, issued_at=datetime(2026, 6, 30, 12, tzinfo=UTC))
    await f.award(runtime, earners[1], data, issued_at=datetime(2026, 7, 1, tzinfo=UTC))
    await f.award(runtime, earners[1], unlisted, issued_at=datetime(2026, 3, 1, tzinfo=UTC))
    report = await client.get("/api/v1/reports/credit", headers=f.auth(token))
    assert report.status_code == 200, report.text
    rows = [
        (r["email"], r["recognised_by"], r["credit_type"], r["credentials"], r["amount"])
        for r in report.json()["rows"]
    ]
    assert rows == [
        ("teacher0@mcx.example", "ISBE", "licence_renewal", 1, "2.50"),
        ("teacher0@mcx.example", "ISBE", "pd_hours", 1, "10.00"),
    ]

    exported = await client.get("/recognition/isbe.csv")
    assert exported.status_code == 200
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["credential"], r["amount"], r["note"]) for r in table] == [
        ("Coaching", "10.00", ""),
        ("Data, Inquiry", "2.50", "'=Counts once"),
    ]
    as_json = (await client.get("/api/v1/organisations/isbe/recognitions")).json()
    assert [r["credit_type"] for r in as_json["recognitions"]] == ["pd_hours", "licence_renewal"]
    gone = await client.delete(
        f"/api/v1/organisations/isbe/recognitions/{coaching.id}", headers=f.auth(token)
    )
    assert gone.status_code == 200
    assert "No state or district" in (await client.get("/credentials/ipa/coaching")).text


async def test_the_recognition_page_saves_with_clear_errors(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    await _state_recognizer(runtime)
    assert (await log_in(client, "state@mcx.example", PASSWORD)).status_code == 303
    token = await csrf_from(client, "/recognition")
    form = {
        "csrf_token": token,
        "credential_id": str(credential.id),
        "credit_type": "ceu",
        "amount": "ten",
        "effective_from": "2026-09-01",
    }
    bad = await client.post("/recognition/isbe", data=form)
    assert bad.status_code == 422 and "Amount: a number" in bad.text
    good = await client.post("/recognition/isbe", data=form | {"amount": "1.5"})
    assert good.status_code == 303
    page = await client.get("/recognition")
    assert 'data-testid="recognition-row"' in page.text and "1.50 CEUs" in page.text


def _near(slug: str, organisation: str, competency: str, method: str, **extra: object) -> dict:
    return {
        "organisation": organisation,
        "competency": competency,
        "key_method": method,
        "method_components": "",
        "alignments": INTASC,
        **extra,
    } | {"slug": slug}


async def test_a_near_copy_across_issuers_is_flagged_and_a_distinct_one_is_not(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime, "ctq")
    original = (
        "The educator creates a classroom learning environment where routines, norms and "
        "shared expectations support every learner's engagement and self-regulation."
    )
    method = "Co-construct classroom norms with learners and revisit them in weekly meetings."
    await f.credential(
        runtime,
        "environment",
        title="Learning Environments",
        competency=original,
        key_method=method,
        alignments=INTASC,
    )
    await f.credential(
        runtime,
        "norms",
        title="Classroom Norms",
        organisation="ctq",
        competency=original.replace("creates", "builds").replace("shared", "common"),
        key_method=method.replace("weekly", "regular"),
        alignments=INTASC,
    )
    # Same standards, different skill: not a duplicate.
    await f.credential(
        runtime,
        "feedback",
        title="Feedback on Writing",
        organisation="ctq",
        competency="The educator gives timely written feedback on drafts of student essays.",
        key_method="Use a single-point rubric and conference with each writer.",
        alignments=INTASC,
    )
    # Same issuer near-copy: the issuer's own business, not flagged across issuers.
    await f.credential(
        runtime,
        "environment-2",
        title="Learning Environments II",
        competency=original,
        key_method=method,
        alignments=INTASC,
    )
    coordinator = await f.token_for(runtime, await f.person(runtime, "coord", [Role.coordinator]))
    found = await client.get("/api/v1/catalogue/duplicates", headers=f.auth(coordinator))
    assert found.status_code == 200
    pairs = [sorted(c["title"] for c in p["credentials"]) for p in found.json()["pairs"]]
    assert sorted(pairs) == [
        ["Classroom Norms", "Learning Environments"],
        ["Classroom Norms", "Learning Environments II"],
    ]
    first = found.json()["pairs"][0]
    assert first["text_similarity"] > 0.8 and first["shared_standards"] == ["InTASC 3", "InTASC 7"]
    earner = await f.token_for(runtime, await f.person(runtime, "earner", [Role.earner]))
    assert (
        await client.get("/api/v1/catalogue/duplicates", headers=f.auth(earner))
    ).status_code == 404


async def test_the_coverage_map_counts_standards_and_shows_gaps(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.credential(runtime, "a", alignments=INTASC)
    await f.credential(runtime, "b", alignments=[{"framework": "InTASC", "code": "3"}])
    await f.credential(runtime, "c", alignments=[{"framework": "InTASC", "code": "InTASC 3"}])
    await f.credential(runtime, "draft", status="draft", alignments=INTASC)
    await f.credential(runtime, "t", alignments=[{"framework": "TLMS", "code": "TLMS 2"}])
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    token = await f.token_for(runtime, coordinator)
    cells = (await client.get("/api/v1/catalogue/coverage", headers=f.auth(token))).json()
    by = {c["standard"]: c for c in cells["standards"]}
    assert by["InTASC 3"]["credentials"] == 3 and by["InTASC 3"]["band"] == "many"
    assert by["InTASC 7"]["credentials"] == 1 and by["InTASC 7"]["band"] == "few"
    assert by["InTASC 10"]["credentials"] == 0 and by["InTASC 10"]["band"] == "none"
    assert by["PSEL 1"]["band"] == "none" and by["ISTE 2.7"]["title"] == "Analyst"
    assert by["TLMS 2"]["credentials"] == 1
    order = [c["standard"] for c in cells["standards"] if c["framework"] == "InTASC"]
    assert order[:3] == ["InTASC 1", "InTASC 2", "InTASC 3"] and order[-1] == "InTASC 10"
    assert (await log_in(client, "coord@mcx.example", PASSWORD)).status_code == 303
    page = await client.get("/catalogue-map")
    assert page.status_code == 200 and 'data-testid="coverage-chart"' in page.text
    assert "InTASC 3 3, " in page.text  # the chart's text alternative
    assert 'class="none"' in page.text and 'data-testid="no-duplicates"' in page.text
