"""The demo's review quality: every credential (each has a peer pool) gets a quality policy (one
calibration example to pass, known-answer checks now and then), two calibration examples (a
strong packet and one that is not there yet, with the expert's level and reason per criterion),
and the demo's reviewers and experts pass one example each, so they can claim at once. One demo
reviewer (CALIBRATING) has not calibrated: a newcomer meets the calibration page through them.

Everything goes through the quality actions; a second run adds nothing.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, func, select

from app.actions import calibration, policy
from app.actions.submissions import latest_rubric
from app.models import (
    CalibrationAttempt,
    CalibrationExample,
    Credential,
    RubricCriterion,
    RubricLevel,
    User,
)
from app.runtime import Runtime

# Reviewers and experts who start calibrated; CALIBRATING (in content.USERS) does not.
CALIBRATED = (
    "reviewer1@mcx.example",
    "reviewer2@mcx.example",
    "reviewer3@mcx.example",
    "expert1@mcx.example",
    "expert2@mcx.example",
)
CALIBRATING = "reviewer4@mcx.example"
POLICY = {
    "calibration_required": "1",
    "calibration_tolerance": "0",
    "calibration_pass_percent": "67",
    "known_answer_percent": "10",
    "trust_floor": "40",
    "escalate_level_gap": "2",
    "escalate_pass_margin": "",
    "escalate_on_disagreement": "on",
    "reviewer_pd_hours": "0.5",
}
# (title, levels per rubric criterion (0 not yet ... 3 exceeds), the sample evidence)
EXAMPLES = (
    (
        "A complete cycle that meets the bar",
        (2, 2, 2),
        "Sample evidence (written for calibration). I worked through the key method with one "
        "colleague over three weeks. We looked at the evidence together before either of us "
        "said what it meant, agreed on one goal for students that we could measure, and wrote "
        "the plan with owners and dates. At the follow-up the measure had moved from 12 of 26 "
        "students to 19 of 26; we agreed to continue for one more cycle and to add a second "
        "measure. What I would change: I spoke first in the second meeting, and the plan "
        "became more mine than ours until the teacher rewrote one step.",
    ),
    (
        "A packet that is not there yet",
        (1, 1, 0),
        "Sample evidence (written for calibration). I met the teacher twice and shared what I "
        "had noticed in the lesson. We talked about several things the class could do better "
        "and the teacher said they would try some of them. I think the meetings went well and "
        "the teacher was positive. I did not get to a follow-up meeting before the end of the "
        "term, so I do not yet know what changed for students.",
    ),
)


async def _levels(runtime: Runtime, credential: Credential) -> list[list[RubricLevel]]:
    """The credential's current rubric: per criterion (in order), its levels in order."""
    async with runtime.sessions() as session:
        rubric = await latest_rubric(session, credential.id)
        assert rubric is not None, f"demo credential {credential.slug} has no rubric"
        criteria = (
            await session.exec(
                select(RubricCriterion)
                .where(RubricCriterion.rubric_id == rubric.id)
                .order_by(col(RubricCriterion.position))
            )
        ).all()
        found = []
        for criterion in criteria:
            levels = (
                await session.exec(
                    select(RubricLevel)
                    .where(RubricLevel.criterion_id == criterion.id)
                    .order_by(col(RubricLevel.position))
                )
            ).all()
            found.append(list(levels))
        return found


async def _user(runtime: Runtime, email: str) -> User:
    async with runtime.sessions() as session:
        return (await session.exec(select(User).where(User.email == email))).one()


async def load_calibration(runtime: Runtime, coordinators: dict[str, str]) -> dict[str, int]:
    """Policies, examples and calibrated reviewers for every demo credential;
    `coordinators` maps an organisation slug to its demo coordinator's email."""
    made = {"calibration examples": 0, "calibrations": 0}
    async with runtime.sessions() as session:
        credentials = (await session.exec(select(Credential).order_by(col(Credential.slug)))).all()
    for credential in credentials:
        organisation_slug = await _organisation_slug(runtime, credential)
        if organisation_slug not in coordinators:
            continue
        coordinator = await _user(runtime, coordinators[organisation_slug])
        async with runtime.sessions() as session:
            existing = (
                await session.exec(
                    select(func.count())
                    .select_from(CalibrationExample)
                    .where(CalibrationExample.credential_id == credential.id)
                )
            ).one()
        if existing:
            continue
        await policy.set_policy(runtime, coordinator, credential.id, dict(POLICY))
        levels = await _levels(runtime, credential)
        examples = []
        for title, positions, evidence in EXAMPLES:
            references = []
            for criterion_levels, position in zip(
                levels, _fit(positions, len(levels)), strict=True
            ):
                level = criterion_levels[min(position, len(criterion_levels) - 1)]
                references.append(
                    calibration.Reference(
                        level.criterion_id,
                        level.id,
                        f"{level.label}: {level.descriptor or 'as the rubric describes it.'}",
                    )
                )
            examples.append(
                await calibration.add_example(
                    runtime, coordinator, credential.id, title, evidence, references
                )
            )
            made["calibration examples"] += 1
        made["calibrations"] += await _calibrate(runtime, credential, examples[0])
    return made


def _fit(positions: tuple[int, ...], count: int) -> list[int]:
    """The example's levels for a rubric of `count` criteria (the last level repeats)."""
    return [positions[min(i, len(positions) - 1)] for i in range(count)]


async def _organisation_slug(runtime: Runtime, credential: Credential) -> str:
    from app.models import Organisation

    async with runtime.sessions() as session:
        organisation = await session.get(Organisation, credential.organisation_id)
        assert organisation is not None
        return organisation.slug


async def _calibrate(runtime: Runtime, credential: Credential, example: Any) -> int:
    """The calibrated demo reviewers score the first example as the expert did."""
    async with runtime.sessions() as session:
        references = (
            await session.exec(
                select(calibration.CalibrationReference).where(
                    calibration.CalibrationReference.example_id == example.id
                )
            )
        ).all()
    chosen = {ref.criterion_id: ref.level_id for ref in references}
    done = 0
    for email in CALIBRATED:
        reviewer = await _user(runtime, email)
        async with runtime.sessions() as session:
            already = (
                await session.exec(
                    select(CalibrationAttempt.id)
                    .where(CalibrationAttempt.reviewer_id == reviewer.id)
                    .where(CalibrationAttempt.example_id == example.id)
                )
            ).first()
        if already is None:
            await calibration.attempt_example(runtime, reviewer, example.id, chosen)
            done += 1
    return done
