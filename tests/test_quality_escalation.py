"""Each escalation trigger opens an expert task with its reason; the scoring rule is the
median of the counted reviews; the expert overrides the peers; reviews keep their rubric."""

from __future__ import annotations

import uuid

import httpx
from sqlmodel import col, select

from app.actions import catalog
from app.models import Credential, Escalation, Outcome, Review, ReviewTask, Role, Rubric, Submission
from app.runtime import Runtime
from app.specs import RubricSpec
from tests import factories as f
from tests.factories import auth
from tests.helpers import log_in


async def _review(
    client: httpx.AsyncClient, runtime: Runtime, label: str, positions: list[int]
) -> httpx.Response:
    """A new peer claims the next task and scores each criterion at the given level."""
    token = await f.token_for(runtime, await f.person(runtime, label, [Role.reviewer]))
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    assert claim.status_code == 201, claim.text
    task_id = claim.json()["task_id"]
    detail = (await client.get(f"/api/v1/tasks/{task_id}", headers=auth(token))).json()
    scores = [
        {"criterion_id": c["criterion_id"], "level_id": c["levels"][p]["level_id"]}
        for c, p in zip(detail["rubric"]["criteria"], positions, strict=True)
    ]
    sent = await client.post(
        f"/api/v1/tasks/{task_id}/review",
        json={"lease_version": claim.json()["lease_version"], "scores": scores, "feedback": "F."},
        headers=auth(token),
    )
    assert sent.status_code == 201, sent.text
    return sent


async def _start(
    client: httpx.AsyncClient, runtime: Runtime, rubric: dict | None = None, **policy: object
) -> tuple[str, str]:
    overrides = {"rubric": rubric} if rubric else {}
    credential = await f.credential(runtime, **overrides)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await f.quality_policy(runtime, coordinator, credential, **policy)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    return await f.submitted(client, runtime, earner_token, credential), earner_token


async def _escalation(runtime: Runtime, submission_id: str) -> tuple[ReviewTask, Escalation] | None:
    async with runtime.sessions() as session:
        row = (
            await session.exec(
                select(ReviewTask, Escalation)
                .join(Escalation, col(Escalation.task_id) == col(ReviewTask.id))
                .where(ReviewTask.submission_id == uuid.UUID(submission_id))
            )
        ).first()
    return row


async def _outcome(runtime: Runtime, submission_id: str) -> Outcome | None:
    async with runtime.sessions() as session:
        return (
            await session.exec(
                select(Outcome).where(Outcome.submission_id == uuid.UUID(submission_id))
            )
        ).first()


async def test_peers_disagreeing_on_the_decision_escalate(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    submission_id, _ = await _start(client, runtime)
    await _review(client, runtime, "p1", [3, 3])
    await _review(client, runtime, "p2", [0, 0])
    found = await _escalation(runtime, submission_id)
    assert found is not None
    task, escalation = found
    assert task.pool == "expert" and task.reason == "escalation" and task.state == "open"
    assert escalation.triggers == ["disagreement"]
    assert escalation.detail == "peers disagreed on the decision"
    assert await _outcome(runtime, submission_id) is None


async def test_a_criterion_gap_of_n_levels_escalates(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # Disagreement switched off, so only the gap can escalate.
    submission_id, _ = await _start(
        client, runtime, escalate_on_disagreement=False, escalate_level_gap=2
    )
    await _review(client, runtime, "p1", [3, 3])
    await _review(client, runtime, "p2", [1, 3])
    found = await _escalation(runtime, submission_id)
    assert found is not None
    assert found[1].triggers == ["level_gap"]
    assert found[1].detail == "“Plans” levels differ by 2 (escalates at 2)"


async def test_a_gap_under_n_levels_decides_by_the_median(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    submission_id, _ = await _start(
        client, runtime, escalate_on_disagreement=False, escalate_level_gap=3
    )
    await _review(client, runtime, "p1", [3, 3])
    await _review(client, runtime, "p2", [1, 3])
    assert await _escalation(runtime, submission_id) is None
    outcome = await _outcome(runtime, submission_id)
    # Even count: the lower middle level counts, so "Plans" is at level 1 (below "Meets").
    assert outcome is not None and outcome.decision == "not_yet"
    assert outcome.rule == "low stakes: 2 peer reviews, each criterion at the median level"


async def test_a_total_within_the_margin_of_the_pass_line_escalates(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    rubric = {
        "min_level": 0,
        "min_points": 4,
        "criteria": [
            {"title": "Plans", "levels": f.LEVELS},
            {"title": "Acts", "levels": f.LEVELS},
        ],
    }
    submission_id, _ = await _start(client, runtime, rubric, escalate_pass_margin=1)
    await _review(client, runtime, "p1", [2, 3])
    await _review(client, runtime, "p2", [2, 3])
    found = await _escalation(runtime, submission_id)
    assert found is not None
    assert found[1].triggers == ["pass_margin"]
    assert found[1].detail == "total 5 is within 1 point(s) of the pass line 4"
    # The expert who takes it is told why.
    expert = await f.person(runtime, "exp", [Role.expert])
    claim = await client.post(
        "/api/v1/tasks/claim-next", headers=auth(await f.token_for(runtime, expert))
    )
    assert claim.json()["task_id"] == str(found[0].id)
    await log_in(client, expert.email, "factory-password-1")
    page = (await client.get(f"/review/tasks/{found[0].id}")).text
    assert "Sent to you because total 5 is within 1 point(s) of the pass line 4." in page


async def test_a_clear_total_outside_the_margin_is_decided(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    rubric = {
        "min_level": 0,
        "min_points": 2,
        "criteria": [
            {"title": "Plans", "levels": f.LEVELS},
            {"title": "Acts", "levels": f.LEVELS},
        ],
    }
    submission_id, _ = await _start(client, runtime, rubric, escalate_pass_margin=1)
    await _review(client, runtime, "p1", [3, 3])
    await _review(client, runtime, "p2", [3, 2])
    assert await _escalation(runtime, submission_id) is None
    outcome = await _outcome(runtime, submission_id)
    assert outcome is not None and outcome.decision == "pass"


async def test_an_appeal_escalates_when_the_policy_says_so(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    submission_id, earner_token = await _start(client, runtime, escalate_on_appeal=True)
    await _review(client, runtime, "p1", [0, 0])
    await _review(client, runtime, "p2", [1, 1])
    outcome = await _outcome(runtime, submission_id)
    assert outcome is not None and outcome.decision == "not_yet"
    appealed = await client.post(
        f"/api/v1/submissions/{submission_id}/appeal",
        json={"reason": "The reviewers missed my second video."},
        headers=auth(earner_token),
    )
    assert appealed.status_code in (200, 201), appealed.text
    found = await _escalation(runtime, submission_id)
    assert found is not None
    task, escalation = found
    assert task.reason == "appeal" and task.pool == "expert" and task.state == "open"
    assert escalation.triggers == ["appeal"]
    assert escalation.detail == "the earner appealed the decision"
    # An expert sees it in their feed.
    expert_token = await f.token_for(runtime, await f.person(runtime, "exp", [Role.expert]))
    feed = (await client.get("/api/v1/tasks", headers=auth(expert_token))).json()["tasks"]
    assert [t["task_id"] for t in feed] == [str(task.id)]


async def test_an_appeal_does_not_escalate_by_default(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    submission_id, earner_token = await _start(client, runtime)
    await _review(client, runtime, "p1", [0, 0])
    await _review(client, runtime, "p2", [1, 1])
    appealed = await client.post(
        f"/api/v1/submissions/{submission_id}/appeal",
        json={"reason": "The reviewers missed my second video."},
        headers=auth(earner_token),
    )
    assert appealed.status_code in (200, 201)
    assert await _escalation(runtime, submission_id) is None


async def test_the_expert_overrides_the_peers_and_reviews_keep_their_rubric_version(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    submission_id, _ = await _start(client, runtime)
    await _review(client, runtime, "p1", [3, 3])
    await _review(client, runtime, "p2", [0, 0])
    # The coordinator publishes rubric v2 (one criterion) while the expert task waits: the
    # packet, its reviews and the expert's review all stay on v1.
    async with runtime.sessions() as session:
        submission = await session.get(Submission, uuid.UUID(submission_id))
        assert submission is not None
        credential = await session.get(Credential, submission.credential_id)
        assert credential is not None
        v2 = await catalog.revise_rubric(
            session,
            credential,
            RubricSpec.model_validate(
                {"min_level": 1, "criteria": [{"title": "Only", "levels": f.LEVELS}]}
            ),
        )
    assert v2.version == 2
    expert_token = await f.token_for(runtime, await f.person(runtime, "exp", [Role.expert]))
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(expert_token))
    version, scores = await f.scores_for(client, expert_token, claim.json()["task_id"], 2)
    sent = await client.post(
        f"/api/v1/tasks/{claim.json()['task_id']}/review",
        json={"lease_version": version, "scores": scores, "feedback": "Meets."},
        headers=auth(expert_token),
    )
    assert sent.status_code == 201
    outcome = await _outcome(runtime, submission_id)
    assert outcome is not None and outcome.decision == "pass"
    assert outcome.rule == "peers disagreed; the expert decided"
    async with runtime.sessions() as session:
        submission = await session.get(Submission, uuid.UUID(submission_id))
        assert submission is not None
        v1 = (
            await session.exec(
                select(Rubric)
                .where(Rubric.credential_id == submission.credential_id)
                .where(Rubric.version == 1)
            )
        ).one()
        reviews = (await session.exec(select(Review))).all()
    assert len(reviews) == 3 and {r.rubric_id for r in reviews} == {v1.id}
