"""Issue 21 on constructed cases: the trust weighting (floor, cap, never one reviewer alone),
the tie-break (who may take it, who is kept off, when the expert is called) and the pair
detector (a grab-and-pass pair is flagged with its evidence; honest frequent co-reviewers are
not)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import text
from sqlmodel import col, select

from app.actions import collusion, tiebreak
from app.actions.escalations import UNPROVEN, UNSHARED, RubricShape, Scored, triggers
from app.actions.overdue import offer_stranded_tiebreaks
from app.agreement import WEIGHT_CAP, WEIGHT_FLOOR, accuracy_weight, median_level, weighted_level
from app.models import (
    AuditEntry,
    Credential,
    Decision,
    Escalation,
    Outcome,
    QualityPolicy,
    Review,
    ReviewerPair,
    ReviewerStanding,
    ReviewTask,
    Role,
    SubmissionExclusion,
    SubmissionVersion,
    User,
)
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.test_whatif import _shape

# ---- trust weighting ----


def test_equal_weights_are_the_plain_median() -> None:
    rng = random.Random(21)
    for n in range(1, 6):
        for _ in range(200):
            levels = [rng.randrange(4) for _ in range(n)]
            assert weighted_level(levels, [0.7] * n) == median_level(levels)


def test_weights_are_floored_and_capped() -> None:
    assert accuracy_weight(0.0, 40) == WEIGHT_FLOOR
    assert 0.99 < accuracy_weight(1.0, 40) <= WEIGHT_CAP
    assert accuracy_weight(None, 0) == 0.75  # no checks yet: the prior
    assert WEIGHT_FLOOR < accuracy_weight(0.5, 2) < 0.75


def test_no_single_reviewer_decides_alone() -> None:
    # Two reviewers: however unequal, the lower level counts (neither outweighs the other).
    assert weighted_level([3, 1], [1.0, 0.25]) == 1
    assert weighted_level([1, 3], [1.0, 0.25]) == 1
    # A trusted reviewer cannot lift two others' level alone, even with a huge raw weight.
    assert weighted_level([3, 1, 1], [1.0, 0.25, 0.25]) == 1
    assert weighted_level([3, 1, 1], [1000.0, 0.0, 0.0]) == 1
    # ... but the weights matter: against two barely trusted ones, a trusted lower level holds
    # (a tie, which counts the lower level), while against two trusted ones it does not.
    assert weighted_level([1, 3, 3], [1.0, 0.25, 0.25]) == 1
    assert weighted_level([1, 3, 3], [1.0, 0.9, 0.9]) == 3
    # In general the result is never above the second-highest level given: someone else
    # always stands at or above it.
    rng = random.Random(7)
    for n in range(2, 6):
        for _ in range(300):
            levels = [rng.randrange(4) for _ in range(n)]
            weights = [rng.uniform(0, 2) for _ in range(n)]
            assert weighted_level(levels, weights) <= sorted(levels)[-2]


# ---- the tie-break, through the API ----


async def _review(
    client: httpx.AsyncClient, token: str, positions: list[int], *, task_id: str | None = None
) -> httpx.Response:
    if task_id is None:
        claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
    else:
        claim = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
    assert claim.status_code == 201, claim.text
    task = claim.json()["task_id"]
    detail = (await client.get(f"/api/v1/tasks/{task}", headers=auth(token))).json()
    scores = [
        {"criterion_id": c["criterion_id"], "level_id": c["levels"][p]["level_id"]}
        for c, p in zip(detail["rubric"]["criteria"], positions, strict=False)
    ]
    sent = await client.post(
        f"/api/v1/tasks/{task}/review",
        json={"lease_version": claim.json()["lease_version"], "scores": scores, "feedback": "F."},
        headers=auth(token),
    )
    assert sent.status_code == 201, sent.text
    return sent


async def _split(
    client: httpx.AsyncClient, runtime: Runtime, *, stranger_trusted: bool = True
) -> tuple[str, dict[str, str]]:
    """A packet two peers split on (one passes it, one does not) under the tie-break policy;
    and tokens for: a newcomer, a peer trusted on calibration alone (no known-answer checks
    yet), a trusted peer from the first reviewer's school, a peer from elsewhere (trusted
    unless `stranger_trusted` is False: then nobody may break the tie)."""
    credential = await f.credential(runtime, peer_reviews=2)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await f.quality_policy(
        runtime, coordinator, credential, tiebreak_peer=True, tiebreak_min_trust=80
    )
    earner = await f.token_for(runtime, await f.person(runtime, "earner"))
    submission_id = await f.submitted(client, runtime, earner, credential)
    first = await f.person(runtime, "first", [Role.reviewer], school="Lincoln")
    second = await f.person(runtime, "second", [Role.reviewer], school="Adams")
    newcomer = await f.person(runtime, "newcomer", [Role.reviewer], school="Grant")
    colleague = await f.person(runtime, "colleague", [Role.reviewer], school="lincoln")
    stranger = await f.person(runtime, "stranger", [Role.reviewer], school="Grant")
    unproven = await f.person(runtime, "unproven", [Role.reviewer], school="Grant")
    checked = {"known_answer": {"score": 0.95, "count": 3}}
    async with runtime.sessions() as session:
        for who in (colleague, stranger) if stranger_trusted else (colleague,):
            session.add(
                ReviewerStanding(
                    reviewer_id=who.id, credential_id=credential.id, trust=92, components=checked
                )
            )
        # Trust 92 from the announced calibration only: not measured on the live queue yet.
        session.add(
            ReviewerStanding(
                reviewer_id=unproven.id,
                credential_id=credential.id,
                trust=92,
                components={"calibration": {"score": 1.0, "count": 2}},
            )
        )
        await session.commit()
    await _review(client, await f.token_for(runtime, first), [2, 2])
    await _review(client, await f.token_for(runtime, second), [1, 2])
    tokens = {
        "newcomer": await f.token_for(runtime, newcomer),
        "unproven": await f.token_for(runtime, unproven),
        "colleague": await f.token_for(runtime, colleague),
        "stranger": await f.token_for(runtime, stranger),
    }
    return submission_id, tokens


async def _tasks(runtime: Runtime, submission_id: str) -> list[ReviewTask]:
    async with runtime.sessions() as session:
        return list(
            (
                await session.exec(
                    select(ReviewTask)
                    .where(ReviewTask.submission_id == uuid.UUID(submission_id))
                    .order_by(col(ReviewTask.created_at))
                )
            ).all()
        )


async def test_a_split_asks_a_trusted_third_peer_from_elsewhere_not_an_expert(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    submission_id, tokens = await _split(client, runtime)
    tasks = await _tasks(runtime, submission_id)
    third = tasks[-1]
    assert (third.pool, third.reason, third.min_trust) == ("peer", "tiebreak", 80.0)
    assert not [t for t in tasks if t.pool == "expert"]
    async with runtime.sessions() as session:
        kept = {
            x.reason
            for x in (
                await session.exec(
                    select(SubmissionExclusion).where(
                        SubmissionExclusion.submission_id == uuid.UUID(submission_id)
                    )
                )
            ).all()
        }
    assert "school" in kept  # the first reviewer's colleague, whatever the case of the name
    # The newcomer (trust 75 < 80), the peer trusted on calibration alone (no known-answer
    # checks behind it) and the colleague (same school) cannot take it ...
    for who in ("newcomer", "unproven", "colleague"):
        refused = await client.post("/api/v1/tasks/claim-next", headers=auth(tokens[who]))
        assert refused.status_code == 404, (who, refused.text)
    # ... the trusted stranger does, and a "not yet" that the three's median agrees with stands.
    await _review(client, tokens["stranger"], [1, 2])
    async with runtime.sessions() as session:
        outcome = (
            await session.exec(
                select(Outcome).where(Outcome.submission_id == uuid.UUID(submission_id))
            )
        ).one()
    assert outcome.decision == "not_yet" and "third peer settled" in outcome.rule
    assert not [t for t in await _tasks(runtime, submission_id) if t.pool == "expert"]


async def test_the_expert_is_called_when_the_three_do_not_settle_it(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    submission_id, tokens = await _split(client, runtime)
    # A pass resting on the pass line where a peer put a criterion below it: not settled.
    await _review(client, tokens["stranger"], [2, 2])
    async with runtime.sessions() as session:
        assert (
            await session.exec(
                select(Outcome).where(Outcome.submission_id == uuid.UUID(submission_id))
            )
        ).first() is None
        escalation = (
            await session.exec(
                select(Escalation).where(Escalation.submission_id == uuid.UUID(submission_id))
            )
        ).one()
    assert tiebreak.UNSETTLED in escalation.triggers
    assert [t.pool for t in await _tasks(runtime, submission_id)][-1] == "expert"


async def _expert_decides(
    client: httpx.AsyncClient, runtime: Runtime, submission_id: str
) -> Outcome:
    """An expert claims the packet's expert task from the live queue and passes it."""
    expert = await f.token_for(runtime, await f.person(runtime, "expert", [Role.expert]))
    await _review(client, expert, [2, 2])
    async with runtime.sessions() as session:
        return (
            await session.exec(
                select(Outcome).where(Outcome.submission_id == uuid.UUID(submission_id))
            )
        ).one()


async def test_a_tiebreak_nobody_may_take_goes_to_an_expert_at_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # The only trusted peer is the first reviewer's colleague: nobody may break the tie.
    submission_id, tokens = await _split(client, runtime, stranger_trusted=False)
    tasks = await _tasks(runtime, submission_id)
    third = next(t for t in tasks if t.reason == "tiebreak")
    assert third.state == "cancelled"
    assert [(t.pool, t.state) for t in tasks if t.pool == "expert"] == [("expert", "open")]
    async with runtime.sessions() as session:
        escalation = (
            await session.exec(
                select(Escalation).where(Escalation.submission_id == uuid.UUID(submission_id))
            )
        ).one()
    assert escalation.triggers == [tiebreak.STRANDED]
    for who in tokens.values():  # no peer is offered the packet again
        refused = await client.post("/api/v1/tasks/claim-next", headers=auth(who))
        assert refused.status_code == 404, refused.text
    outcome = await _expert_decides(client, runtime, submission_id)
    assert outcome.decision == Decision.passed and "the expert decided" in outcome.rule


async def test_the_worker_hands_a_tiebreak_to_an_expert_once_nobody_may_take_it(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    submission_id, tokens = await _split(client, runtime)
    # The trusted stranger may take it: the sweep leaves it (the control).
    assert await offer_stranded_tiebreaks(runtime) == 0
    third = (await _tasks(runtime, submission_id))[-1]
    assert (third.reason, third.state) == ("tiebreak", "open")
    # The trusted peers are suspended on the credential (low trust on later checks, say).
    async with runtime.sessions() as session:
        suspended = await session.execute(
            text(
                "UPDATE reviewer_standings SET suspended_at = now() "
                "WHERE trust = 92 AND components ? 'known_answer'"
            )
        )
        assert suspended.rowcount == 2  # type: ignore[attr-defined]
        await session.commit()
    assert await offer_stranded_tiebreaks(runtime) == 1
    assert await offer_stranded_tiebreaks(runtime) == 0  # once
    tasks = await _tasks(runtime, submission_id)
    assert [(t.reason, t.pool, t.state) for t in tasks[-2:]] == [
        ("tiebreak", "peer", "cancelled"),
        ("escalation", "expert", "open"),
    ]
    for who in tokens.values():
        refused = await client.post("/api/v1/tasks/claim-next", headers=auth(who))
        assert refused.status_code == 404, refused.text
    outcome = await _expert_decides(client, runtime, submission_id)
    assert outcome.decision == Decision.passed and "tiebreak_stranded" in outcome.rule

    from app.models import QualityPolicy

    on = QualityPolicy(credential_id=uuid.uuid4(), tiebreak_peer=True)
    off = QualityPolicy(credential_id=uuid.uuid4(), tiebreak_peer=False)
    assert tiebreak.applies(on, [("disagreement", "")])
    assert not tiebreak.applies(off, [("disagreement", "")])
    assert not tiebreak.applies(on, [("disagreement", ""), ("pass_margin", "")])
    assert not tiebreak.applies(on, [])


# ---- the pair detector ----

CRITERIA = [uuid.uuid4() for _ in range(4)]


def _scoring(
    version: uuid.UUID,
    reviewer: uuid.UUID,
    earner: uuid.UUID,
    levels: list[int],
    *,
    decision: str = Decision.not_yet,
    delay: float = 6.0,
) -> collusion.Scoring:
    return collusion.Scoring(
        version,
        reviewer,
        earner,
        "peer",
        Decision.passed if min(levels) >= 2 else Decision.not_yet,
        decision,
        delay,
        dict(zip(CRITERIA, levels, strict=True)),
    )


def test_a_pair_that_grabs_and_passes_each_others_work_is_flagged_with_evidence() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    packet = uuid.uuid4()
    reviews = [
        _scoring(packet, a, b, [3, 3, 3, 3], delay=0.2),  # grabbed within minutes, all top
        _scoring(packet, c, b, [1, 1, 0, 1]),
    ]
    # On strangers' work `a` scores like everyone else.
    for _ in range(4):
        v, stranger = uuid.uuid4(), uuid.uuid4()
        reviews += [_scoring(v, a, stranger, [2, 1, 2, 2]), _scoring(v, c, stranger, [2, 1, 2, 2])]
    found = collusion.evidence(a, b, reviews, {a: 0.9})
    assert found["reviews_of_each_other"] == {str(a): 1, str(b): 0}
    assert found["lift_on_each_other"] == 2.25 and found["lift_on_others"] == 0.0
    assert found["passes_against_decision"] == 1 and found["fast_claims"] == 1
    assert collusion.suspicion(found) >= collusion.FLAG_SCORE


def test_honest_frequent_co_reviewers_who_match_known_answers_are_not_flagged() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    reviews = []
    for i in range(8):
        v, stranger, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        levels = [1 + (i % 3), 2, 2, 1 + (i % 2)]
        reviews += [
            _scoring(v, a, stranger, levels),
            _scoring(v, b, stranger, levels),
            _scoring(v, third, stranger, levels),
        ]
    # `b` once reviewed `a`'s packet, fairly, and quickly.
    v = uuid.uuid4()
    reviews += [_scoring(v, b, a, [2, 1, 2, 2], delay=0.3), _scoring(v, a, a, [2, 1, 2, 2])]
    reviews.append(_scoring(v, uuid.uuid4(), a, [2, 1, 2, 2]))
    found = collusion.evidence(a, b, reviews, {a: 0.9, b: 0.88})
    assert found["co_reviewed"] == 8 and found["agreement_with_each_other"] == 1.0
    assert found["agreement_with_reference"] == 1.0
    assert collusion.suspicion(found) < collusion.FLAG_SCORE


def test_scoring_strangers_in_lockstep_away_from_everyone_is_flagged() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    reviews = []
    for _ in range(5):
        v, stranger = uuid.uuid4(), uuid.uuid4()
        others = [uuid.uuid4(), uuid.uuid4()]
        reviews += [_scoring(v, a, stranger, [3, 3, 3, 3]), _scoring(v, b, stranger, [3, 3, 3, 3])]
        reviews += [_scoring(v, o, stranger, [1, 0, 1, 1]) for o in others]
    found = collusion.evidence(a, b, reviews)
    assert collusion.suspicion(found) >= collusion.FLAG_SCORE


def test_one_quick_generous_review_of_a_fellow_reviewer_is_not_enough() -> None:
    """An honest peer claims a fellow reviewer's packet at once (it was first in the queue)
    and scores it a level above the other reviewer, who failed it: not a pair yet."""
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    packet = uuid.uuid4()
    reviews = [
        _scoring(packet, a, b, [3, 3, 3, 2], delay=0.02),
        _scoring(packet, c, b, [2, 2, 2, 1]),
    ]
    for _ in range(3):
        v, stranger = uuid.uuid4(), uuid.uuid4()
        reviews += [_scoring(v, a, stranger, [2, 2, 2, 2]), _scoring(v, c, stranger, [2, 2, 2, 2])]
    found = collusion.evidence(a, b, reviews)
    assert found["lift_on_each_other"] == 1.0 and found["fast_claims"] == 1
    assert found["passes_against_decision"] == 1
    assert collusion.suspicion(found) < collusion.FLAG_SCORE


def test_a_careless_reviewer_far_below_everyone_is_not_a_pair_for_scoring_one_packet_fairly() -> (
    None
):
    """Seen in a rigour run: a careless reviewer's lift on others was -2, so half a level on a
    fellow reviewer's packet looked like 2.5 levels of inflation."""
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    packet = uuid.uuid4()
    reviews = [
        _scoring(packet, a, b, [2, 2, 3, 2], delay=0.0),
        _scoring(packet, c, b, [2, 2, 2, 1]),
    ]
    v, stranger = uuid.uuid4(), uuid.uuid4()
    reviews += [_scoring(v, a, stranger, [0, 0, 0, 0]), _scoring(v, c, stranger, [2, 2, 2, 2])]
    found = collusion.evidence(a, b, reviews)
    assert found["lift_on_each_other"] == 0.5 and found["lift_on_others"] == -2.0
    assert collusion.suspicion(found) < collusion.FLAG_SCORE


def test_honest_co_reviewers_are_weighed_only_where_someone_else_scored_too() -> None:
    """Two accurate peers agree on four packets; on one a careless third scored at random.
    Their agreement is weighed against that third on that packet alone, not on all four."""
    a, b = uuid.uuid4(), uuid.uuid4()
    reviews = []
    for _ in range(4):
        v, stranger = uuid.uuid4(), uuid.uuid4()
        reviews += [_scoring(v, a, stranger, [2, 1, 2, 2]), _scoring(v, b, stranger, [2, 1, 2, 2])]
    reviews.append(_scoring(v, uuid.uuid4(), stranger, [0, 3, 0, 3]))
    found = collusion.evidence(a, b, reviews)
    assert found["co_reviewed"] == 1
    assert collusion.suspicion(found) < collusion.FLAG_SCORE


@dataclass
class Grab:
    """Alice handed in a packet; Bob grabbed it and passed it; Carol scored it fairly."""

    credential: Credential
    coordinator: User
    alice: User
    bob: User
    carol: User
    alice_token: str
    bob_token: str


async def _grab_and_pass(client: httpx.AsyncClient, runtime: Runtime, **policy: object) -> Grab:
    credential = await f.credential(runtime, peer_reviews=2)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await f.quality_policy(runtime, coordinator, credential, **policy)
    a = await f.person(runtime, "alice", [Role.reviewer])
    b = await f.person(runtime, "bob", [Role.reviewer])
    honest = await f.person(runtime, "carol", [Role.reviewer])
    a_token, b_token = await f.token_for(runtime, a), await f.token_for(runtime, b)
    await f.submitted(client, runtime, a_token, credential)
    await _review(client, b_token, [3, 3])  # bob grabs alice's packet and passes it
    await _review(client, await f.token_for(runtime, honest), [0, 1])
    return Grab(credential, coordinator, a, b, honest, a_token, b_token)


async def test_a_grab_and_pass_through_the_api_flags_the_pair_and_blocks_it(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    grab = await _grab_and_pass(client, runtime, escalate_on_disagreement=False)
    a, b, honest, a_token, b_token = (
        grab.alice,
        grab.bob,
        grab.carol,
        grab.alice_token,
        grab.bob_token,
    )
    async with runtime.sessions() as session:
        pairs = (await session.exec(select(ReviewerPair))).all()
    assert len(pairs) == 1
    pair = pairs[0]
    assert {pair.reviewer_id, pair.partner_id} == {a.id, b.id} and pair.blocked
    assert pair.evidence["fast_claims"] == 1 and pair.evidence["passes_against_decision"] == 1
    assert not any(
        {p.reviewer_id, p.partner_id} & {honest.id} for p in pairs
    )  # carol, who scored fairly, is in no pair
    # Alice's next packet is not routed to Bob.
    second = await f.credential(runtime, slug="second", peer_reviews=1)
    await f.submitted(client, runtime, a_token, second)
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(b_token))).status_code == 404


async def test_a_grab_and_pass_is_flagged_before_the_decision_waits_on_a_third_peer(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The split sends the packet to a third peer (and maybe an expert), a day or more: the
    pair is weighed as soon as a second review gives a reference, not after the decision."""
    grab = await _grab_and_pass(client, runtime, tiebreak_peer=True, collusion_guard=True)
    a, b = grab.alice, grab.bob
    async with runtime.sessions() as session:
        assert (await session.exec(select(Outcome))).all() == []  # a third peer is asked
        (pair,) = (await session.exec(select(ReviewerPair))).all()
    assert {pair.reviewer_id, pair.partner_id} == {a.id, b.id} and pair.blocked
    assert pair.evidence["fast_claims"] == 1


async def _held_grab(client: httpx.AsyncClient, runtime: Runtime) -> Grab:
    """Bob grabs Alice's packet and passes it; nobody else has scored it yet."""
    credential = await f.credential(runtime, peer_reviews=2)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await f.quality_policy(runtime, coordinator, credential, escalate_on_disagreement=False)
    a = await f.person(runtime, "alice", [Role.reviewer])
    b = await f.person(runtime, "bob", [Role.reviewer])
    honest = await f.person(runtime, "carol", [Role.reviewer])
    a_token, b_token = await f.token_for(runtime, a), await f.token_for(runtime, b)
    await f.submitted(client, runtime, a_token, credential)
    await _review(client, b_token, [3, 3])
    return Grab(credential, coordinator, a, b, honest, a_token, b_token)


async def _routed_to_bob(client: httpx.AsyncClient, runtime: Runtime, grab: Grab) -> bool:
    """Whether Alice's next packet, on another credential, is routed to Bob."""
    other = await f.credential(runtime, slug=f"next-{uuid.uuid4().hex[:6]}", peer_reviews=1)
    await f.submitted(client, runtime, grab.alice_token, other)
    claimed = await client.post("/api/v1/tasks/claim-next", headers=auth(grab.bob_token))
    return claimed.status_code == 201


async def test_a_fast_pass_of_a_fellow_reviewers_packet_holds_the_pair_until_a_reference_flags_it(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    grab = await _held_grab(client, runtime)
    async with runtime.sessions() as session:
        (held,) = (await session.exec(select(ReviewerPair))).all()
    assert {held.reviewer_id, held.partner_id} == {grab.alice.id, grab.bob.id}
    assert held.held and held.blocked
    # Held, not flagged: coordinators see no pair yet, and nobody is routed the other's work.
    assert await collusion.flagged_pairs(runtime, grab.coordinator, grab.credential.id) == []
    assert not await _routed_to_bob(client, runtime, grab)
    # Carol's fair review is the reference: Bob's pass sits far above it, so the hold is a flag
    # from the time it began.
    await _review(client, await f.token_for(runtime, grab.carol), [0, 1])
    async with runtime.sessions() as session:
        (pair,) = (await session.exec(select(ReviewerPair))).all()
    assert pair.id == held.id and pair.blocked and not pair.held
    assert pair.flagged_at == held.flagged_at
    assert pair.score >= collusion.FLAG_SCORE
    listed = await collusion.flagged_pairs(runtime, grab.coordinator, grab.credential.id)
    assert [row.id for row, _a, _b in listed] == [pair.id]


async def test_a_hold_is_lifted_when_the_reference_agrees_with_the_fast_pass(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    grab = await _held_grab(client, runtime)
    # Carol scores Alice's packet as Bob did: an honest fast pass of a good packet.
    await _review(client, await f.token_for(runtime, grab.carol), [3, 3])
    async with runtime.sessions() as session:
        assert (await session.exec(select(ReviewerPair))).all() == []
        lifted = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.action == "quality.pair_hold_lifted")
            )
        ).all()
    assert len(lifted) == 1
    assert await _routed_to_bob(client, runtime, grab)


async def test_coordinators_see_a_flagged_pair_with_its_evidence_and_may_clear_it(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from tests.helpers import log_in

    grab = await _grab_and_pass(client, runtime, escalate_on_disagreement=False)
    await log_in(client, grab.coordinator.email, "factory-password-1")
    page = await client.get(f"/coordinate/quality/{grab.credential.id}")
    assert page.status_code == 200
    assert 'data-testid="pair"' in page.text
    assert "Alice and Bob" in page.text or "Bob and Alice" in page.text
    assert "claims within an hour of the submission: 1" in page.text
    async with runtime.sessions() as session:
        pair = (await session.exec(select(ReviewerPair))).one()
    csrf = __import__("re").search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    cleared = await client.post(
        f"/coordinate/quality/pairs/{pair.id}/clear", data={"csrf_token": csrf}
    )
    assert cleared.status_code == 303
    async with runtime.sessions() as session:
        assert not (await session.get(ReviewerPair, pair.id)).blocked


# ---- which agreements a third peer looks at ----


def _peers(shape: RubricShape, *given: tuple[list[int], float]) -> list[Scored]:
    return [
        Scored(
            uuid.uuid4(),
            uuid.uuid4(),
            "peer",
            shape.verdict(dict(zip([c.id for c in shape.criteria], levels, strict=True))),
            dict(zip([c.id for c in shape.criteria], levels, strict=True)),
            weight=weight,
        )
        for levels, weight in given
    ]


def _tiebreak_policy(**changes: object) -> QualityPolicy:
    values: dict[str, object] = {
        "credential_id": uuid.uuid4(),
        "tiebreak_peer": True,
        "trust_weighted": True,
        "escalate_on_disagreement": True,
    }
    return QualityPolicy(**{**values, **changes})


def test_not_yet_on_no_shared_criterion_goes_to_a_third_peer() -> None:
    shape = _shape()
    policy = _tiebreak_policy()
    # Each first peer put a different criterion below the line: they agree on "not yet" but
    # not on why, and the lower of two levels fails a packet neither failed on both counts.
    split = _peers(shape, ([2, 2, 3, 1], 0.9), ([2, 2, 1, 2], 0.9))
    assert [code for code, _ in triggers(policy, shape, split)] == [UNSHARED]
    # A third who passes it settles nothing: a criterion a first peer failed sits on the line
    # (once, in a rigour run, such a pass was false); the expert decides.
    third = _peers(shape, ([2, 2, 2, 2], 0.9))[0]
    found = triggers(policy, shape, split)
    assert tiebreak.settle(shape, [*split, third], third, weighted=True, found=found) is None
    # A third who also fails it, on a criterion a first peer failed, settles "not yet".
    failing = _peers(shape, ([2, 2, 2, 1], 0.9))[0]
    assert (
        tiebreak.settle(shape, [*split, failing], failing, weighted=True, found=found)
        == Decision.not_yet
    )
    # Both failed the same criterion: a shared reason, decided by the two.
    shared = _peers(shape, ([2, 2, 3, 1], 0.9), ([2, 2, 2, 1], 0.9))
    assert triggers(policy, shape, shared) == []
    # Without the tie-break peer nothing changes.
    assert triggers(_tiebreak_policy(tiebreak_peer=False), shape, split) == []


def test_two_agreeing_peers_of_low_known_answer_accuracy_get_a_third_look() -> None:
    shape = _shape()
    policy = _tiebreak_policy()
    weak = _peers(shape, ([2, 3, 2, 2], 0.5), ([2, 2, 2, 3], 0.6))
    assert [code for code, _ in triggers(policy, shape, weak)] == [UNPROVEN]
    proven = _peers(shape, ([2, 3, 2, 2], 0.75), ([2, 2, 2, 3], 0.9))  # unchecked: 0.75
    assert triggers(policy, shape, proven) == []
    # Plain medians (no weighting): no weights to judge by.
    assert triggers(_tiebreak_policy(trust_weighted=False), shape, weak) == []
    # A third peer's disagreement with the weak pair sends it to the expert.
    third = _peers(shape, ([2, 1, 2, 2], 0.9))[0]
    found = triggers(policy, shape, weak)
    assert tiebreak.settle(shape, [*weak, third], third, weighted=True, found=found) is None


def test_a_tie_break_does_not_rest_on_a_first_reviewer_suspended_since() -> None:
    """Seen in a rigour run: a careless first peer (suspended for low trust a few reviews
    later) and a third peer's slip on one criterion settled a false "not yet" on a packet
    the other first peer passed. With the careless review set aside, the honest first peer and
    the third disagree: the expert decides."""
    shape = _shape()
    careless, honest = _peers(shape, ([2, 1, 0, 3], 0.75), ([2, 3, 2, 2], 0.75))
    third = _peers(shape, ([3, 1, 2, 2], 0.75))[0]
    third.tiebreak = True
    three = [careless, honest, third]
    assert tiebreak.settle(shape, three, third, weighted=True) == Decision.not_yet
    careless.set_aside = True
    assert tiebreak.settle(shape, three, third, weighted=True) is None
    # When the two who count agree, they settle it, on their own levels.
    agreeing = _peers(shape, ([2, 2, 3, 2], 0.75))[0]
    agreeing.tiebreak = True
    assert tiebreak.settle(shape, [careless, honest, agreeing], agreeing, weighted=True) == (
        Decision.passed
    )


async def _reviewed_by(
    client: httpx.AsyncClient,
    runtime: Runtime,
    credential: Credential,
    earner: User,
    reviewers: tuple[User, ...],
) -> None:
    """A packet of `earner`'s with a submitted review by each of `reviewers` (rows written
    directly: only who reviewed whose work, and with whom, matters here)."""
    token = await f.token_for(runtime, earner)
    submission_id = uuid.UUID(await f.submitted(client, runtime, token, credential))
    async with runtime.sessions() as session:
        tasks = (
            await session.exec(select(ReviewTask).where(ReviewTask.submission_id == submission_id))
        ).all()
        version = await session.get(SubmissionVersion, tasks[0].version_id)
        assert version is not None and version.rubric_id is not None
        for task, reviewer in zip(tasks, reviewers, strict=True):
            task.reviewer_id, task.state = reviewer.id, "completed"
            session.add(task)
            session.add(
                Review(
                    task_id=task.id,
                    submission_id=submission_id,
                    version_id=task.version_id,
                    reviewer_id=reviewer.id,
                    rubric_id=version.rubric_id,
                    lease_version=1,
                    state="submitted",
                    recommendation=Decision.passed,
                    submitted_at=datetime.now(UTC),
                )
            )
        await session.commit()


async def test_who_is_kept_off_a_tiebreak_frequent_partners_by_share_and_swaps_not_one_way(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=2)
    other = await f.credential(runtime, "other", title="Another credential", peer_reviews=2)
    people = {
        key: await f.person(runtime, key, [Role.reviewer])
        for key in ("first", "second", "partner", "busy", "swap", "oneway", "filler")
    }
    first = people["first"]

    async def packet(*reviewers: User, on: Credential = credential) -> None:
        earner = await f.person(runtime, f"earner{uuid.uuid4().hex[:8]}")
        await _reviewed_by(client, runtime, on, earner, reviewers)

    # The first reviewer did 12 reviews (15 with the expert's below): 3 with "partner" (all of
    # partner's), 3 with "busy" (who did 12 too), 6 with others.
    for _ in range(3):
        await packet(first, people["partner"])
        await packet(first, people["busy"])
    for i in range(6):
        await packet(first, await f.person(runtime, f"once{i}", [Role.reviewer]))
    # An expert who scored three of the first reviewer's packets with them (all the expert's
    # reviews) is no partner: experts co-review with everyone, and the escalation needs them.
    expert = await f.person(runtime, "expert", [Role.expert])
    for _ in range(3):
        await packet(first, expert)
    for _ in range(9):
        await packet(people["busy"], people["filler"])
    # "swap" reviewed the first reviewer's packet and was reviewed by them; "oneway" only
    # reviewed the first reviewer's packet.
    await _reviewed_by(client, runtime, other, first, (people["swap"], people["oneway"]))
    await _reviewed_by(client, runtime, other, people["swap"], (first, people["filler"]))

    async with runtime.sessions() as session:
        kept = await tiebreak.kept_off(session, credential, [first.id, people["second"].id])
    assert kept.get(people["partner"].id) == "frequent_partner"
    assert kept.get(people["swap"].id) == "reviewed_each_other"
    # Three of twelve is no partnership for two busy reviewers; one review is no swap.
    assert people["busy"].id not in kept
    assert people["oneway"].id not in kept
    assert expert.id not in kept
