"""A credential's quality policy (calibration, known-answer checks, trust floor, escalation
triggers, the tie-break peer, trust weighting, the collusion guard, reviewer PD hours): read
with defaults, and edited by the issuer's coordinators."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlmodel.ext.asyncio.session import AsyncSession

from app import access
from app.errors import ActionError
from app.models import AuditEntry, QualityPolicy, User
from app.runtime import Runtime

# name: (label, smallest, largest, may be empty)
INTEGERS: dict[str, tuple[str, int, int, bool]] = {
    "calibration_required": ("Calibration examples to pass", 0, 20, False),
    "calibration_tolerance": ("Calibration tolerance (levels)", 0, 5, False),
    "calibration_pass_percent": ("Criteria within tolerance to pass an example (%)", 1, 100, False),
    "known_answer_percent": ("Known-answer checks (% of claim-next)", 0, 50, False),
    "trust_floor": ("Trust floor", 0, 100, False),
    "escalate_level_gap": ("Escalate when a criterion differs by (levels)", 1, 10, True),
    "escalate_pass_margin": (
        "Escalate when the total is within (points) of the pass line",
        0,
        100,
        True,
    ),
    "tiebreak_min_trust": ("Trust a tie-breaking third peer needs (0-100)", 0, 100, False),
}
FLAGS = {
    "escalate_on_disagreement": "Escalate when peers disagree on the decision",
    "escalate_on_appeal": "Escalate to an expert when an earner appeals",
    "tiebreak_peer": (
        "When peers disagree, ask a trusted third peer first; an expert only if the three "
        "do not settle it"
    ),
    "trust_weighted": "Weigh reviewers' levels by their accuracy on known-answer checks",
    "collusion_guard": (
        "Watch reviewer pairs for collusion, and stop routing a flagged pair each other's work"
    ),
}
MAX_PD_HOURS = Decimal("100")
# Settings added after forms were first written: left blank, they keep their default.
BLANK_MEANS = {"tiebreak_min_trust": 80}


async def policy_for(session: AsyncSession, credential_id: uuid.UUID) -> QualityPolicy:
    """The credential's policy, or the defaults (not stored) when none was set."""
    return await session.get(QualityPolicy, credential_id) or QualityPolicy(
        credential_id=credential_id
    )


def parse_policy(form: dict[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    """The form's values, and an error per field that is not acceptable."""
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name, (label, low, high, optional) in INTEGERS.items():
        raw = form.get(name, "").strip()
        if raw == "" and name in BLANK_MEANS:
            values[name] = BLANK_MEANS[name]
            continue
        if raw == "" and optional:
            values[name] = None
            continue
        try:
            number = int(raw)
        except ValueError:
            errors[name] = f"{label}: a whole number from {low} to {high}."
            continue
        if not low <= number <= high:
            errors[name] = f"{label}: a whole number from {low} to {high}."
            continue
        values[name] = number
    for name in FLAGS:
        values[name] = form.get(name) in {"on", "true", "1"}
    raw_hours = form.get("reviewer_pd_hours", "0").strip() or "0"
    try:
        hours = Decimal(raw_hours)
        if not hours.is_finite() or not Decimal(0) <= hours <= MAX_PD_HOURS:
            raise InvalidOperation
        values["reviewer_pd_hours"] = hours.quantize(Decimal("0.01"))
    except InvalidOperation:
        errors["reviewer_pd_hours"] = "PD hours per review: a number from 0 to 100."
    return values, errors


async def set_policy(
    runtime: Runtime, coordinator: User, credential_id: uuid.UUID, form: dict[str, str]
) -> QualityPolicy:
    """Replace the credential's quality policy; ActionError bad_policy lists every problem
    and changes nothing."""
    values, errors = parse_policy(form)
    async with runtime.sessions() as session:
        await access.managed_credential(session, coordinator, credential_id)
        if errors:
            raise ActionError("bad_policy", " ".join(errors.values()), 422)
        policy = await session.get(QualityPolicy, credential_id, with_for_update=True)
        policy = policy or QualityPolicy(credential_id=credential_id)
        for name, value in values.items():
            setattr(policy, name, value)
        policy.updated_at = datetime.now(UTC)
        session.add(policy)
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="quality.policy_set",
                subject_type="credential",
                subject_id=str(credential_id),
                data={k: str(v) for k, v in values.items()},
            )
        )
        await session.commit()
        await session.refresh(policy)
    return policy
