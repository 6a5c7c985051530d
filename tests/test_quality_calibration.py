"""Calibration gates claiming; known-answer checks feed trust and never touch an earner's
outcome; trust below the floor suspends claiming until recalibration or an override."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlmodel import col, select

from app import queue
from app.actions import known_answers, tasks
from app.actions.submissions import latest_rubric
from app.models import (
    CalibrationAttempt,
    Credential,
    Notification,
    Outcome,
    ReviewerStanding,
    ReviewTask,
    Role,
    RubricCriterion,
    RubricLevel,
    Submission,
    User,
)
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"


async def _levels(
    runtime: Runtime, credential: Credential
) -> list[tuple[uuid.UUID, list[uuid.UUID]]]:
    """Each criterion of the current rubric with its level ids by position."""
    async with runtime.sessions() as session:
        rubric = await latest_rubric(session, credential.id)
        assert rubric is not None
        criteria = (
            await session.exec(
                select(RubricCriterion)
                .where(RubricCriterion.rubric_id == rubric.id)
                .order_by(col(RubricCriterion.position))
            )
        ).all()
        out = []
        for criterion in criteria:
            levels = (
                await session.exec(
                    select(RubricLevel.id)
                    .where(RubricLevel.criterion_id == criterion.id)
                    .order_by(col(RubricLevel.position))
                )
            ).all()
            out.append((criterion.id, list(levels)))
    return out


async def _score_example(
    client: httpx.AsyncClient, runtime: Runtime, credential: Credential, positions: list[int]
) -> httpx.Response:
    """Score the next example on the calibration page, as the logged-in reviewer would."""
    page = await client.get(f"/review/calibration/{credential.id}")
    assert page.status_code == 200, page.text
    example_id = re.search(r'/review/calibration/examples/([0-9a-f-]{36})"', page.text)
    assert example_id, "no example offered"
    data = {"csrf_token": await csrf_from(client, f"/review/calibration/{credential.id}")}
    for (criterion_id, levels), position in zip(
        await _levels(runtime, credential), positions, strict=True
    ):
        data[f"level-{criterion_id}"] = str(levels[position])
    posted = await client.post(f"/review/calibration/examples/{example_id.group(1)}", data=data)
    assert posted.status_code == 303, posted.text
    return await client.get(posted.headers["location"])


async def _setup(
    client: httpx.AsyncClient, runtime: Runtime, **policy: object
) -> tuple[Credential, User, User, str, str]:
    credential = await f.credential(runtime)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await f.quality_policy(runtime, coordinator, credential, **policy)
    reviewer = await f.person(runtime, "rev", [Role.reviewer])
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    submission_id = await f.submitted(client, runtime, earner_token, credential)
    return credential, coordinator, reviewer, await f.token_for(runtime, reviewer), submission_id


async def test_claiming_needs_calibration_and_a_miss_shows_the_reference(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential, coordinator, reviewer, token, _ = await _setup(
        client, runtime, calibration_required=1, calibration_tolerance=0
    )
    await f.calibration_example(runtime, coordinator, credential, [2, 2], "First example")
    await f.calibration_example(runtime, coordinator, credential, [3, 1], "Second example")
    # Before calibration: nothing to see, nothing to claim.
    assert (await client.get("/api/v1/tasks", headers=auth(token))).json()["tasks"] == []
    refused = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert refused.status_code == 404 and "calibrate first" in refused.json()["detail"]
    async with runtime.sessions() as session:
        task_id = (await session.exec(select(ReviewTask.id))).first()
    assert (
        await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
    ).status_code == 404

    assert (await log_in(client, reviewer.email, PASSWORD)).status_code == 303
    listing = (await client.get("/review/calibration")).text
    assert "Score 1 example(s) to start reviewing." in listing
    # A miss: one criterion off by two levels. The result names the expert's level and why.
    missed = await _score_example(client, runtime, credential, [0, 2])
    assert "Not passed" in missed.text and "50% of criteria" in missed.text
    assert 'data-testid="miss"' in missed.text
    assert "Plans is Meets." in missed.text and "Acts is Meets." in missed.text
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).status_code == 404

    # A pass (the second example, scored exactly) opens the credential's work.
    passed = await _score_example(client, runtime, credential, [3, 1])
    assert "Passed" in passed.text and "You are calibrated" in passed.text
    assert len((await client.get("/api/v1/tasks", headers=auth(token))).json()["tasks"]) == 2
    claim = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
    assert claim.status_code == 201, claim.text
    # Each example is scored once; no examples are left for this reviewer.
    done = (await client.get(f"/review/calibration/{credential.id}")).text
    assert "You are calibrated for this credential." in done


async def test_a_calibration_form_with_a_foreign_level_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential, coordinator, reviewer, _token, _ = await _setup(
        client, runtime, calibration_required=1
    )
    example = await f.calibration_example(runtime, coordinator, credential, [2, 2])
    await log_in(client, reviewer.email, PASSWORD)
    levels = await _levels(runtime, credential)
    data = {
        "csrf_token": await csrf_from(client, f"/review/calibration/{credential.id}"),
        f"level-{levels[0][0]}": str(levels[1][1][0]),  # a level of the other criterion
        f"level-{levels[1][0]}": str(levels[1][1][2]),
    }
    refused = await client.post(f"/review/calibration/examples/{example.id}", data=data)
    assert refused.status_code == 422
    assert "Score every criterion" in refused.text
    async with runtime.sessions() as session:
        assert (await session.exec(select(CalibrationAttempt))).all() == []
    # Someone outside the credential's pools cannot even see the example.
    outsider = await f.person(runtime, "outsider", [])
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ) as other:
        await log_in(other, outsider.email, PASSWORD)
        assert (await other.get(f"/review/calibration/{credential.id}")).status_code == 404


async def test_known_answer_checks_feed_trust_and_never_touch_an_earners_outcome(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: object
) -> None:
    credential, coordinator, reviewer, token, submission_id = await _setup(
        client, runtime, known_answer_percent=50
    )
    example = await f.calibration_example(runtime, coordinator, credential, [2, 2])
    # The coin is the only randomness: make it land on "check" for this claim.
    monkeypatch.setattr(known_answers, "should_serve_known_answer", lambda percent: percent > 0)  # type: ignore[attr-defined]
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert claim.status_code == 201, claim.text
    check_id = claim.json()["task_id"]
    # It looks like any task: same shape, same reason, evidence and rubric.
    detail = (await client.get(f"/api/v1/tasks/{check_id}", headers=auth(token))).json()
    assert detail["pool"] == "peer" and detail["evidence"][0]["kind"] == "reflection"
    assert len(detail["rubric"]["criteria"]) == 2
    async with runtime.sessions() as session:
        check = await session.get(ReviewTask, uuid.UUID(check_id))
        assert check is not None and check.submission_id == example.submission_id
        waited = (
            await session.exec(
                select(ReviewTask.created_at).where(
                    ReviewTask.submission_id == uuid.UUID(submission_id)
                )
            )
        ).all()
    # It has waited as long as the real work it stands in for, and reads as ordinary work.
    assert check.created_at in waited
    assert check.reason == "initial"
    # The reviewer scores it one level off on one criterion (tolerance 0: half credit).
    version, scores = await f.scores_for(client, token, check_id, 2)
    scores[0]["level_id"] = detail["rubric"]["criteria"][0]["levels"][3]["level_id"]
    done = await client.post(
        f"/api/v1/tasks/{check_id}/review",
        json={"lease_version": version, "scores": scores, "feedback": "Looks fine."},
        headers=auth(token),
    )
    assert done.status_code == 201, done.text
    async with runtime.sessions() as session:
        attempt = (await session.exec(select(CalibrationAttempt))).one()
        standing = (await session.exec(select(ReviewerStanding))).one()
        real = await session.get(Submission, uuid.UUID(submission_id))
        outcomes = (await session.exec(select(Outcome))).all()
        earner_kinds = (
            await session.exec(
                select(Notification.kind).where(Notification.user_id == real.earner_id)  # type: ignore[union-attr]
            )
        ).all()
        real_tasks = (
            await session.exec(
                select(ReviewTask).where(ReviewTask.submission_id == uuid.UUID(submission_id))
            )
        ).all()
    assert attempt.kind == "known_answer" and attempt.credit == 0.5 and not attempt.passed
    assert standing.components["known_answer"] == {"score": 0.5, "count": 1}
    assert standing.trust < 75  # half credit pulls the newcomer's prior down
    assert real is not None and real.state == "in_review" and outcomes == []
    assert all(t.state == "open" and t.reviewer_id is None for t in real_tasks)
    assert "submission.claimed" not in earner_kinds and "review.received" not in earner_kinds
    # The reviewer's comparison page reveals it afterwards, with the reference.
    await log_in(client, reviewer.email, PASSWORD)
    history = (await client.get("/review/history")).text
    review_id = re.search(r"/review/history/([0-9a-f-]{36})/compare", history)
    assert review_id
    compare = (await client.get(f"/review/history/{review_id.group(1)}/compare")).text
    assert "known-answer check" in compare and "Plans is Meets." in compare
    # The real packet is then decided by its real reviews only, as usual.
    for i in range(2):
        peer = await f.person(runtime, f"peer{i}", [Role.reviewer])
        peer_token = await f.token_for(runtime, peer)
        claimed = await tasks.claim_task(runtime, peer, real_tasks[i].id)
        version, scores = await f.scores_for(client, peer_token, str(claimed.task_id), 3)
        sent = await client.post(
            f"/api/v1/tasks/{claimed.task_id}/review",
            json={"lease_version": version, "scores": scores, "feedback": "Strong."},
            headers=auth(peer_token),
        )
        assert sent.status_code == 201
    async with runtime.sessions() as session:
        outcome = (await session.exec(select(Outcome))).one()
    assert outcome.submission_id == uuid.UUID(submission_id) and outcome.decision == "pass"
    assert outcome.rule == "low stakes: 2 peer reviews agreed"


async def test_a_newcomers_first_two_claims_are_known_answer_checks_then_the_rate_applies(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probation, with the real coin: at a credential's 10 % rate, a reviewer with no checks
    yet is served a check on each of their first two claims (on the live queue's cached
    rate); once two checks measure them, the credential's rate applies and real work comes."""
    credential, coordinator, _reviewer, token, submission_id = await _setup(
        client, runtime, known_answer_percent=10
    )
    examples = {
        (
            await f.calibration_example(runtime, coordinator, credential, [2, 2], f"E{i}")
        ).submission_id
        for i in range(3)
    }
    for _ in range(2):
        claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
        assert claim.status_code == 201, claim.text
        async with runtime.sessions() as session:
            check = await session.get(ReviewTask, uuid.UUID(claim.json()["task_id"]))
        assert check is not None and check.submission_id in examples
        version, scores = await f.scores_for(client, token, str(check.id), 2)
        done = await client.post(
            f"/api/v1/tasks/{check.id}/review",
            json={"lease_version": version, "scores": scores, "feedback": "As the rubric says."},
            headers=auth(token),
        )
        assert done.status_code == 201, done.text
    async with runtime.sessions() as session:
        standing = (await session.exec(select(ReviewerStanding))).one()
    assert standing.components["known_answer"] == {"score": 1.0, "count": 2}
    # Measured now: only a rate below probation's 100 % applies, and this coin never serves it.
    monkeypatch.setattr(known_answers, "should_serve_known_answer", lambda percent: percent >= 100)
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert claim.status_code == 201, claim.text
    async with runtime.sessions() as session:
        real = await session.get(ReviewTask, uuid.UUID(claim.json()["task_id"]))
    assert real is not None and real.submission_id == uuid.UUID(submission_id)


async def test_one_missed_check_in_probation_suspends_nobody_the_second_does(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """A newcomer's second claim is a check too: the floor waits for both before it suspends
    (one check is little evidence; no earner's packet rests on them meanwhile)."""
    credential, coordinator, _reviewer, token, _ = await _setup(
        client, runtime, known_answer_percent=10, trust_floor=70
    )
    for i in range(2):
        await f.calibration_example(runtime, coordinator, credential, [3, 3], f"E{i}")
    standings = []
    for _ in range(2):
        claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
        assert claim.status_code == 201, claim.text
        version, scores = await f.scores_for(client, token, claim.json()["task_id"], 0)
        done = await client.post(
            f"/api/v1/tasks/{claim.json()['task_id']}/review",
            json={"lease_version": version, "scores": scores, "feedback": "As I see it."},
            headers=auth(token),
        )
        assert done.status_code == 201, done.text
        async with runtime.sessions() as session:
            standings.append((await session.exec(select(ReviewerStanding))).one())
    first, second = standings
    assert first.trust < 70 and first.suspended_at is None
    assert second.components["known_answer"]["count"] == 2 and second.suspended_at is not None
    refused = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert refused.status_code == 404


async def test_no_known_answer_check_at_a_zero_rate_and_a_released_check_never_reopens(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: object
) -> None:
    credential, coordinator, _reviewer, token, _ = await _setup(client, runtime)
    example = await f.calibration_example(runtime, coordinator, credential, [2, 2])
    for _ in range(3):  # rate 0: always real work
        claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
        assert claim.status_code == 201
        async with runtime.sessions() as session:
            task = await session.get(ReviewTask, uuid.UUID(claim.json()["task_id"]))
        assert task is not None and task.submission_id != example.submission_id
        released = await client.post(
            f"/api/v1/tasks/{task.id}/release",
            json={"lease_version": claim.json()["lease_version"]},
            headers=auth(token),
        )
        assert released.status_code in (200, 204), released.text
    await f.quality_policy(runtime, coordinator, credential, known_answer_percent=50)
    monkeypatch.setattr(known_answers, "should_serve_known_answer", lambda percent: percent > 0)  # type: ignore[attr-defined]
    check = (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).json()
    released = await client.post(
        f"/api/v1/tasks/{check['task_id']}/release",
        json={"lease_version": check["lease_version"]},
        headers=auth(token),
    )
    assert released.status_code in (200, 204)
    async with runtime.sessions() as session:
        task = await session.get(ReviewTask, uuid.UUID(check["task_id"]))
    # Cancelled, never open: no other reviewer is ever offered a sample as work.
    assert task is not None and task.state == "cancelled"
    other = await f.person(runtime, "other", [Role.reviewer])
    feed = await client.get("/api/v1/tasks", headers=auth(await f.token_for(runtime, other)))
    assert [t["task_id"] for t in feed.json()["tasks"]] != [check["task_id"]]
    assert check["task_id"] not in str(feed.json())


async def test_trust_below_the_floor_suspends_claiming_until_recalibrated_or_overridden(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential, coordinator, reviewer, token, _ = await _setup(
        client, runtime, trust_floor=60, calibration_tolerance=0
    )
    for i in range(3):
        await f.calibration_example(runtime, coordinator, credential, [2, 2], f"Example {i}")
    assert (await client.get("/api/v1/tasks", headers=auth(token))).json()["tasks"] != []
    await log_in(client, reviewer.email, PASSWORD)
    # Two wrong examples: trust 100 x (2 x 0.75) / (2 + 2) = 37.5, under the floor of 60.
    await _score_example(client, runtime, credential, [0, 0])
    await _score_example(client, runtime, credential, [0, 0])
    async with runtime.sessions() as session:
        standing = (await session.exec(select(ReviewerStanding))).one()
    assert standing.trust == 37.5 and standing.suspended_at is not None
    assert (await client.get("/api/v1/tasks", headers=auth(token))).json()["tasks"] == []
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).status_code == 404
    assert "Claiming is suspended" in (await client.get("/review/calibration")).text

    # The coordinator sees them below the floor and lets them claim again.
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ) as coord:
        await log_in(coord, coordinator.email, PASSWORD)
        page = (await coord.get("/coordinate/quality")).text
        assert "Rev" in page and 'data-testid="below-floor-row"' in page
        override = await coord.post(
            f"/coordinate/quality/standings/{standing.id}/override",
            data={"csrf_token": await csrf_from(coord, f"/coordinate/quality/{credential.id}")},
        )
        assert override.status_code == 303
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert claim.status_code == 201, claim.text


async def test_recalibrating_lifts_a_suspension(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential, coordinator, reviewer, token, _ = await _setup(client, runtime, trust_floor=60)
    for i in range(3):
        await f.calibration_example(runtime, coordinator, credential, [2, 2], f"Example {i}")
    await log_in(client, reviewer.email, PASSWORD)
    await _score_example(client, runtime, credential, [0, 0])
    await _score_example(client, runtime, credential, [0, 0])
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).status_code == 404
    # Passing an example after the suspension recalibrates (trust is then 50: still low,
    # but earned back through calibration, which is the rule; the coordinator sees it).
    result = await _score_example(client, runtime, credential, [2, 2])
    assert "Passed" in result.text
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).status_code == 201


async def test_claim_next_serves_known_answer_checks_when_postgresql_picks_too(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When Redis cannot answer claim-next (a pool unknown to it, or the reviewer's cached
    eligibility dropped again at once), PostgreSQL picks: checks are served there too."""
    credential, coordinator, _reviewer, token, submission_id = await _setup(
        client, runtime, known_answer_percent=50
    )
    example = await f.calibration_example(runtime, coordinator, credential, [2, 2])

    async def unknown(*_args: object) -> int:
        return queue.UNKNOWN

    monkeypatch.setattr(queue, "reserve_next", unknown)
    monkeypatch.setattr(known_answers, "should_serve_known_answer", lambda percent: percent > 0)
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert claim.status_code == 201, claim.text
    async with runtime.sessions() as session:
        check = await session.get(ReviewTask, uuid.UUID(claim.json()["task_id"]))
        assert check is not None and check.submission_id == example.submission_id
        real = (
            await session.exec(
                select(ReviewTask.state).where(ReviewTask.submission_id == uuid.UUID(submission_id))
            )
        ).all()
    assert set(real) == {"open"}  # the real work waits for the next claim, untouched


def test_known_answer_checks_come_first_then_taper_for_a_proven_reviewer_only() -> None:
    """Every claim a check until two checks measure the reviewer; a quarter of the rate once 4
    checks average 0.75 credit or more; full rate in between, and for anyone whose checks
    average less (a careless or biased reviewer never gets there); none where the credential
    serves none."""
    from app.access import known_answer_rate

    assert known_answer_rate(25, None) == 100
    assert known_answer_rate(25, {"known_answer": {"score": 1.0, "count": 1}}) == 100
    assert known_answer_rate(25, {"known_answer": {"score": 0.2, "count": 2}}) == 25
    assert known_answer_rate(0, None) == 0
    assert known_answer_rate(25, {"known_answer": {"score": 1.0, "count": 3}}) == 25
    assert known_answer_rate(25, {"known_answer": {"score": 0.6, "count": 9}}) == 25
    assert known_answer_rate(25, {"known_answer": {"score": 0.8, "count": 4}}) == 7
    assert known_answer_rate(0, {"known_answer": {"score": 1.0, "count": 9}}) == 0
