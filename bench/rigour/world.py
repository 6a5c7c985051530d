"""Setting up one policy's world in a fresh MCX: its own organisation (so reviewers of one policy
never see another's work), its credential with the simulated rubric, and everyone's API tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.actions import catalog
from app.auth import hash_password, new_api_token
from app.models import ApiToken, Membership, Organisation, Role, User
from app.runtime import Runtime
from app.simulation.population import CRITERIA, LEVEL_LABELS, PASS_LEVEL, Population
from app.specs import CredentialSpec


@dataclass(frozen=True)
class Policy:
    """A review policy under test: credential settings plus MCX's quality machinery, on or off."""

    name: str
    label: str
    peer_reviews: int
    # Extra credential settings (escalation policy, calibration, known-answer rate, trust floor).
    settings: dict[str, Any] = field(default_factory=dict)
    calibration: bool = False


@dataclass
class World:
    policy: Policy
    organisation: str
    credential_id: uuid.UUID
    criterion_id: uuid.UUID  # the one submission criterion: a written reflection
    tokens: dict[str, str]  # person key -> API token
    user_ids: dict[str, uuid.UUID]


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

    people: list[tuple[str, Role | None]] = [(e.key, None) for e in population.earners]
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
    )


POLICIES: tuple[Policy, ...] = (
    Policy("one_peer", "One peer", 1),
    Policy("two_peers", "Two peers, majority (a tie counts the lower score)", 2),
    Policy("median_of_three", "Median of three peers (ORA2-style)", 3),
    Policy("mcx", "MCX full policy", 2, calibration=True),
)
