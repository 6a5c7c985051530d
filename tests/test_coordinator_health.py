"""The queue health dashboard against figures this test computes itself from the tables;
overdue work offered to experts by the worker job (idempotent, reason recorded)."""

from __future__ import annotations

import re
import statistics
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlmodel import col, select

from app.actions.tasks import expire_leases
from app.models import AuditEntry, Outcome, Review, ReviewTask, Role, SubmissionVersion, TaskState
from app.runtime import Runtime
from app.views.coordinator.settings import duration
from tests import factories as f
from tests.factories import auth
from tests.helpers import log_in
from workers.overdue import offer_overdue

PASSWORD = "factory-password-1"


async def _tasks_of(runtime: Runtime, submission_id: str) -> list[ReviewTask]:
    async with runtime.sessions() as session:
        rows = await session.exec(
            select(ReviewTask)
            .where(ReviewTask.submission_id == uuid.UUID(submission_id))
            .order_by(col(ReviewTask.created_at), col(ReviewTask.id))
        )
        return list(rows.all())


async def _review(
    client: httpx.AsyncClient, token: str, task_id: uuid.UUID, level: int
) -> httpx.Response:
    claim = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
    assert claim.status_code == 201, claim.text
    version, scores = await f.scores_for(client, token, str(task_id), level)
    done = await client.post(
        f"/api/v1/tasks/{task_id}/review",
        json={"lease_version": version, "scores": scores, "feedback": "Feedback."},
        headers=auth(token),
    )
    assert done.status_code == 201, done.text
    return done


async def _age(runtime: Runtime, submission_id: str, hours: float) -> None:
    """Pretend the packet was submitted `hours` ago (claims and outcomes keep their times)."""
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE submission_versions SET submitted_at = now() - make_interval(secs => :s)"
                " WHERE submission_id = :id"
            ),
            {"s": hours * 3600, "id": uuid.UUID(submission_id)},
        )


async def _scenario(client: httpx.AsyncClient, runtime: Runtime) -> dict[str, str]:
    credential = await f.credential(runtime, "coaching", title="Coaching", target_hours=24)
    await f.organisation(runtime, "ctq")
    elsewhere = await f.credential(runtime, "other", title="Elsewhere", organisation="ctq")
    peers = [await f.person(runtime, f"peer{i}", [Role.reviewer]) for i in range(3)]
    tokens = [await f.token_for(runtime, peer) for peer in peers]
    earners = [await f.person(runtime, f"earner{i}") for i in range(4)]
    earner_tokens = [await f.token_for(runtime, e) for e in earners]
    decided = await f.submitted(client, runtime, earner_tokens[0], credential)
    split = await f.submitted(client, runtime, earner_tokens[1], credential)
    waiting = await f.submitted(client, runtime, earner_tokens[2], credential)
    await f.submitted(client, runtime, earner_tokens[3], elsewhere)  # another organisation's
    await _age(runtime, decided, 5)
    await _age(runtime, split, 30)
    await _age(runtime, waiting, 80)
    first, second = await _tasks_of(runtime, decided)
    await _review(client, tokens[0], first.id, 3)
    await _review(client, tokens[1], second.id, 2)  # two passes: decided
    first, second = await _tasks_of(runtime, split)
    await _review(client, tokens[0], first.id, 3)
    await _review(client, tokens[1], second.id, 0)  # disagreement: escalated to an expert
    # A claim whose lease runs out.
    lapsing = (await _tasks_of(runtime, waiting))[0]
    claimed = await client.post(f"/api/v1/tasks/{lapsing.id}/claim", headers=auth(tokens[2]))
    assert claimed.status_code == 201
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE review_tasks SET lease_expires_at = now() - interval '1 minute'"
                " WHERE id = :id"
            ),
            {"id": lapsing.id},
        )
    assert await expire_leases(runtime) == 1
    # And one claimed right now, still held.
    held = (await _tasks_of(runtime, waiting))[1]
    assert (
        await client.post(f"/api/v1/tasks/{held.id}/claim", headers=auth(tokens[0]))
    ).status_code == 201
    await f.person(runtime, "coord", [Role.coordinator])
    return {"decided": decided, "split": split, "waiting": waiting}


async def _expected(runtime: Runtime, days: int) -> dict[str, object]:
    """The figures, computed here in Python from raw rows of IPA's credential only."""
    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    async with runtime.engine.connect() as conn:
        org = (
            await conn.execute(text("SELECT id FROM organisations WHERE slug = 'ipa'"))
        ).scalar_one()
        tasks = (
            await conn.execute(
                text(
                    "SELECT t.*, v.submitted_at FROM review_tasks t"
                    " JOIN submission_versions v ON v.id = t.version_id"
                    " JOIN submissions s ON s.id = t.submission_id"
                    " JOIN credentials c ON c.id = s.credential_id WHERE c.organisation_id = :o"
                ),
                {"o": org},
            )
        ).all()
        outcomes = (
            await conn.execute(
                text(
                    "SELECT o.decision, o.decided_at, v.submitted_at FROM outcomes o"
                    " JOIN submission_versions v ON v.id = o.version_id"
                    " JOIN submissions s ON s.id = o.submission_id"
                    " JOIN credentials c ON c.id = s.credential_id WHERE c.organisation_id = :o"
                ),
                {"o": org},
            )
        ).all()
        reviews = (
            await conn.execute(text("SELECT * FROM reviews WHERE state = 'submitted'"))
        ).all()
        expired = (
            await conn.execute(
                text("SELECT count(*) FROM notifications WHERE kind = 'claim.expired'")
            )
        ).scalar_one()
    claim_waits = [
        (t.claimed_at - t.submitted_at).total_seconds()
        for t in tasks
        if t.claimed_at is not None and t.claimed_at >= since
    ]
    outcome_waits = [(o.decided_at - o.submitted_at).total_seconds() for o in outcomes]
    live = [t for t in tasks if t.state in (TaskState.open, TaskState.claimed)]
    return {
        "open": sum(1 for t in live if t.state == TaskState.open),
        "claimed": sum(1 for t in live if t.state == TaskState.claimed),
        "overdue": sum(1 for t in live if now - t.submitted_at > timedelta(hours=24)),
        "claim_median": statistics.median(claim_waits),
        "claim_p90": statistics.quantiles(claim_waits, n=10, method="inclusive")[8],
        "outcome_median": statistics.median(outcome_waits),
        "escalations": sum(1 for t in tasks if t.reason == "escalation"),
        "expired": expired,
        "decided": len(outcomes),
        "passed": sum(1 for o in outcomes if o.decision == "pass"),
        "reviews": len(reviews),
        "claim_count": len(claim_waits),
    }


async def test_the_dashboard_shows_what_the_tables_say(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _scenario(client, runtime)
    await log_in(client, "coord@mcx.example", PASSWORD)
    expected = await _expected(runtime, 7)
    figures = (await client.get("/coordinate/health.json?days=7")).json()
    assert figures["open"] == expected["open"] == 2  # waiting: the lapsed claim; split: expert
    assert figures["claimed"] == expected["claimed"] == 1
    assert len(figures["overdue"]) == expected["overdue"] == 3
    assert figures["submit_to_claim"]["count"] == expected["claim_count"] == 5
    assert abs(figures["submit_to_claim"]["median_seconds"] - expected["claim_median"]) < 1e-3
    assert abs(figures["submit_to_claim"]["p90_seconds"] - expected["claim_p90"]) < 1e-3
    assert abs(figures["submit_to_outcome"]["median_seconds"] - expected["outcome_median"]) < 1e-3
    assert figures["escalations"] == expected["escalations"] == 1
    assert figures["leases_expired"] == expected["expired"] == 1
    assert (figures["decided"], figures["passed"]) == (expected["decided"], expected["passed"])
    assert figures["reviews"] == expected["reviews"] == 4
    assert {p["title"] for p in figures["pools"]} == {"Coaching"}  # not CTQ's credential
    page = await client.get("/coordinate/health?days=7")
    assert page.status_code == 200

    def shown(testid: str) -> str:
        match = re.search(rf'data-testid="{testid}">([^<]*)<', page.text)
        assert match, testid
        return match.group(1)

    assert shown("fig-open") == str(expected["open"])
    assert shown("fig-claimed") == str(expected["claimed"])
    assert shown("fig-overdue") == str(expected["overdue"])
    assert shown("fig-claim-median") == duration(float(expected["claim_median"]))  # type: ignore[arg-type]
    assert shown("fig-claim-p90") == duration(float(expected["claim_p90"]))  # type: ignore[arg-type]
    assert shown("fig-pass-rate") == "100%"
    assert shown("fig-expired") == "1" and shown("fig-escalations") == "1"
    assert page.text.count('data-testid="overdue-row"') == 3
    assert '<svg class="chart"' in page.text
    live = await client.get("/coordinate/health/live?days=30")
    assert live.status_code == 200 and "<html" not in live.text and "fig-open" in live.text
    assert (await client.get("/coordinate/health?days=9")).status_code == 422


async def test_overdue_peer_work_is_offered_to_experts_once_with_the_reason(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    submissions = await _scenario(client, runtime)
    ctx = {"runtime": runtime}
    # Only "waiting" is overdue without an expert task ("split" already has one; "decided"
    # is decided).
    assert await offer_overdue(ctx) == 1
    assert await offer_overdue(ctx) == 0  # idempotent
    tasks = await _tasks_of(runtime, submissions["waiting"])
    experts = [t for t in tasks if t.pool == "expert"]
    assert len(experts) == 1 and experts[0].reason == "escalation"
    # The peer task nobody held left the peer pool; the one held now stays with its reviewer.
    assert sorted(t.state for t in tasks if t.pool == "peer") == ["cancelled", "claimed"]
    async with runtime.sessions() as session:
        audit = (
            await session.exec(
                select(AuditEntry)
                .where(AuditEntry.action == "submission.offered_to_experts")
                .where(AuditEntry.subject_id == submissions["waiting"])
            )
        ).all()
    assert len(audit) == 1
    assert "80 h" in audit[0].data["reason"] and "24 h" in audit[0].data["reason"]
    # An expert sees it in their feed and decides.
    expert = await f.person(runtime, "expert", [Role.expert])
    token = await f.token_for(runtime, expert)
    listed = (await client.get("/api/v1/tasks", headers=auth(token))).json()
    assert str(experts[0].id) in str(listed)
    await _review(client, token, experts[0].id, 3)
    async with runtime.sessions() as session:
        outcome = (
            await session.exec(
                select(Outcome).where(Outcome.submission_id == uuid.UUID(submissions["waiting"]))
            )
        ).one()
        assert outcome.decision == "pass"
        assert (await session.exec(select(Review).where(Review.reviewer_id == expert.id))).one()
        version = (
            await session.exec(
                select(SubmissionVersion).where(
                    SubmissionVersion.submission_id == uuid.UUID(submissions["waiting"])
                )
            )
        ).one()
    assert version.submitted_at is not None
