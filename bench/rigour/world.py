"""Setting up one policy's world in a fresh MCX: its own organisation (so reviewers of one policy
never see another's work), its credential with the simulated rubric, and everyone's API tokens."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from app.actions import calibration, catalog, policy
from app.actions.calibration import Reference
from app.actions.submissions import latest_rubric
from app.auth import hash_password, new_api_token
from app.models import (
    ApiToken,
    Membership,
    Organisation,
    QualityPolicy,
    Role,
    RubricCriterion,
    RubricLevel,
    User,
)
from app.runtime import Runtime
from app.simulation.population import (
    CRITERIA,
    LEVEL_LABELS,
    PASS_LEVEL,
    Population,
    Reviewer,
    Trait,
    sample_truth,
    score,
)
from app.specs import CredentialSpec


@dataclass(frozen=True)
class Policy:
    """A review policy under test: credential settings plus MCX's quality machinery, on or off."""

    name: str
    label: str
    peer_reviews: int
    # The credential's quality policy (app.actions.policy names); unnamed ones keep their
    # defaults. Escalation to an expert is off unless a policy turns it on.
    quality: dict[str, Any] = field(default_factory=dict)
    # Calibration examples made (for the calibration gate and known-answer checks).
    examples: int = 0
    # Only peers of these traits review (None: every peer). A diagnostic no real policy can
    # run (it reads the hidden traits): how fast two peers are with only the reviewers a
    # screening policy keeps.
    peer_traits: frozenset[Trait] | None = None


@dataclass
class World:
    policy: Policy
    organisation: str
    credential_id: uuid.UUID
    criterion_id: uuid.UUID  # the one submission criterion: a written reflection
    tokens: dict[str, str]  # person key -> API token
    user_ids: dict[str, uuid.UUID]
    coordinator_id: uuid.UUID
    # Calibration examples' markers and their expert reference levels (the truth).
    examples: dict[str, tuple[int, ...]] = field(default_factory=dict)
    example_marker: dict[uuid.UUID, str] = field(default_factory=dict)
    criterion_ids: list[uuid.UUID] = field(default_factory=list)  # rubric criteria, in order
    level_ids: list[list[uuid.UUID]] = field(default_factory=list)  # per criterion, by position


def _rubric() -> dict[str, Any]:
    return {
        "min_level": PASS_LEVEL,
        "criteria": [
            {
                "title": f"Criterion {i + 1}",
                "levels": [
                    {"label": label, "points": points, "descriptor": f"{label} practice"}
                    for points, label in enumerate(LEVEL_LABELS)
                ],
            }
            for i in range(CRITERIA)
        ],
    }


async def build_world(
    runtime: Runtime, policy: Policy, population: Population, *, lease_minutes: int
) -> World:
    slug = f"rig-{policy.name}"[:64].replace("_", "-")
    async with runtime.sessions() as session:
        org = Organisation(slug=slug, name=f"Rigour run: {policy.label}")
        session.add(org)
        await session.commit()
        credential = await catalog.create_credential(
            session,
            CredentialSpec.model_validate(
                {
                    "slug": "reflective-practice",
                    "organisation": slug,
                    "title": "Reflective practice",
                    "status": "published",
                    "peer_reviews": policy.peer_reviews,
                    "lease_minutes": lease_minutes,
                    "submission_criteria": [{"title": "Reflection", "kind": "reflection"}],
                    "rubric": _rubric(),
                }
            ),
        )
        criterion = (await catalog.criteria_of(session, credential.id))[0]

    # Reviewers' own packets come from their reviewer accounts.
    people: list[tuple[str, Role | None]] = [
        (e.key, None) for e in population.earners if e.account is None
    ]
    people.append(("coordinator", Role.coordinator))
    people += [(r.key, Role.reviewer) for r in population.peers]
    people += [(x.key, Role.expert) for x in population.experts]
    hashed = hash_password(uuid.uuid4().hex)
    tokens: dict[str, str] = {}
    user_ids: dict[str, uuid.UUID] = {}
    async with runtime.sessions() as session:
        made = []
        for key, role in people:
            user = User(
                email=f"{key}@{slug}.rigour.example",
                name=f"{policy.name} {key}",
                password_hash=hashed,
            )
            session.add(user)
            made.append((key, role, user))
        await session.flush()
        for key, role, user in made:
            token, digest = new_api_token()
            tokens[key] = token
            user_ids[key] = user.id
            session.add(
                ApiToken(user_id=user.id, name="rigour", token_hash=digest, prefix=digest[:8])
            )
            if role is not None:
                session.add(Membership(user_id=user.id, organisation_id=org.id, role=role))
        await session.commit()
    return World(
        policy=policy,
        organisation=slug,
        credential_id=credential.id,
        criterion_id=criterion.id,
        tokens=tokens,
        user_ids=user_ids,
        coordinator_id=user_ids["coordinator"],
    )


async def configure_quality(
    runtime: Runtime, world: World, population: Population, rng: random.Random
) -> None:
    """Set the policy's quality settings as a coordinator would, and add its calibration
    examples: sample evidence with the expert's reference level per criterion."""
    async with runtime.sessions() as session:
        coordinator = await session.get(User, world.coordinator_id)
        assert coordinator is not None
        rubric = await latest_rubric(session, world.credential_id)
        assert rubric is not None
        criteria = (
            await session.exec(
                select(RubricCriterion)
                .where(RubricCriterion.rubric_id == rubric.id)
                .order_by(col(RubricCriterion.position))
            )
        ).all()
        for criterion in criteria:
            world.criterion_ids.append(criterion.id)
            world.level_ids.append(
                [
                    lv.id
                    for lv in (
                        await session.exec(
                            select(RubricLevel)
                            .where(RubricLevel.criterion_id == criterion.id)
                            .order_by(col(RubricLevel.position))
                        )
                    ).all()
                ]
            )
    defaults = QualityPolicy(credential_id=world.credential_id)
    values: dict[str, Any] = {
        **{name: getattr(defaults, name) for name in [*policy.INTEGERS, "reviewer_pd_hours"]},
        "escalate_on_disagreement": False,
        **world.policy.quality,
    }
    form = {name: _form_value(value) for name, value in values.items() if value is not False}
    await policy.set_policy(runtime, coordinator, world.credential_id, form)
    for i in range(world.policy.examples):
        marker = f"cal-{i:02d}"
        truth = sample_truth(rng)
        world.examples[marker] = truth
        example = await calibration.add_example(
            runtime,
            coordinator,
            world.credential_id,
            f"Sample packet {i + 1}",
            f"[packet {marker}] A sample reflection, scored by the programme's expert.",
            [
                Reference(
                    cid, world.level_ids[n][level], f"{LEVEL_LABELS[level]}: as the evidence shows."
                )
                for n, (cid, level) in enumerate(zip(world.criterion_ids, truth, strict=True))
            ],
        )
        world.example_marker[example.id] = marker


def _form_value(value: object) -> str:
    if value is True:
        return "on"
    return "" if value is None else str(value)


async def calibrate(
    runtime: Runtime, world: World, reviewers: list[Reviewer], rng: random.Random
) -> dict[str, bool]:
    """Each peer scores calibration examples until calibrated (K passes) or out of tries
    (K + 2). Careless reviewers try hard here: the test is announced; their carelessness
    shows only in the live queue, where known-answer checks look like any other task."""
    required = int(world.policy.quality.get("calibration_required", 0))
    calibrated: dict[str, bool] = {}
    for reviewer in reviewers:
        as_tested = (
            Reviewer(reviewer.key, Trait.accurate) if reviewer.trait == Trait.careless else reviewer
        )
        async with runtime.sessions() as session:
            user = await session.get(User, world.user_ids[reviewer.key])
        assert user is not None
        passed = 0
        for _ in range(required + 2):
            if passed >= required:
                break
            async with runtime.sessions() as session:
                example = await calibration.next_example(session, user, world.credential_id)
            if example is None:
                break
            levels = score(
                as_tested, world.examples[world.example_marker[example.id]], rng, owner=None
            )
            chosen = {
                cid: world.level_ids[n][level]
                for n, (cid, level) in enumerate(zip(world.criterion_ids, levels, strict=True))
            }
            attempt = await calibration.attempt_example(runtime, user, example.id, chosen)
            passed += attempt.passed
        calibrated[reviewer.key] = passed >= required
    return calibrated


# Settings a coordinator would pick on the what-if page for this population: two calibration
# examples, a known-answer check in four claims, a trust floor of 65; when peers disagree a
# third peer trusted at 80 or more first, an expert when the three do not settle it; levels
# weighted by known-answer accuracy; reviewer pairs watched for collusion.
MCX_QUALITY: dict[str, Any] = {
    "calibration_required": 2,
    "calibration_tolerance": 0,
    "calibration_pass_percent": 75,
    "known_answer_percent": 25,
    "trust_floor": 65,
    "escalate_on_disagreement": True,
    "tiebreak_peer": True,
    "tiebreak_min_trust": 80,
    "trust_weighted": True,
    "collusion_guard": True,
}

POLICIES: tuple[Policy, ...] = (
    Policy("one_peer", "One peer", 1),
    Policy("two_peers", "Two peers, majority (a tie counts the lower score)", 2),
    Policy("median_of_three", "Median of three peers (ORA2-style)", 3),
    Policy(
        "two_peers_screened",
        "Two peers, majority, among the accurate, slow and colluding peers only (a diagnostic: "
        "the reviewers MCX keeps, picked by their hidden traits)",
        2,
        peer_traits=frozenset({Trait.accurate, Trait.slow, Trait.colluding}),
    ),
    Policy(
        "mcx",
        "MCX full policy (trusted third peer, trust-weighted levels, collusion guard)",
        2,
        quality=MCX_QUALITY,
        examples=16,
    ),
    Policy(
        "mcx_median",
        "MCX full policy, plain median instead of trust weighting",
        2,
        quality={**MCX_QUALITY, "trust_weighted": False},
        examples=16,
    ),
)
