"""A credential's settings, as its issuer's coordinators change them: review policy (stakes,
number of reviews, lease), eligibility (required badge, same-school exclusion, blind review),
pilot spots, status and the time target (how long work may wait before it is overdue).

Policy is read when tasks are opened (app.actions.submissions), so a change applies to work
opened afterwards; tasks already in the queue keep the pool they were opened in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access
from app.actions import pilots
from app.actions.submissions import latest_rubric, spots_taken
from app.errors import ActionError, not_found
from app.models import (
    AuditEntry,
    Credential,
    CredentialStatus,
    Stakes,
    Submission,
    SubmissionCriterion,
    SubmissionState,
    User,
)
from app.runtime import Runtime

# The form's field names are the credential's column names; these are what people read.
LABELS = {
    "stakes": "Stakes",
    "peer_reviews": "Peer reviews",
    "expert_reviews": "Expert reviews",
    "required_badge_credential_id": "Required badge",
    "exclude_same_school": "Same-school exclusion",
    "blind_review": "Blind review",
    "lease_minutes": "Lease length",
    "pilot_spots": "Pilot spots",
    "status": "Status",
    "target_hours": "Time target",
}
MAX_PILOT_SPOTS = 100_000
# Pilot and published credentials are open to earners; both need something to be scored by.
OPEN_TO_EARNERS = (CredentialStatus.pilot, CredentialStatus.published)
_TRUE = frozenset({"1", "on", "true", "yes"})
_FALSE = frozenset({"", "0", "off", "false", "no"})
_DIGITS = re.compile(r"[0-9]{1,7}")


class InvalidSettings(ActionError):
    """Every refused field (name → message naming it); nothing was changed."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid_settings", " ".join(errors.values()), 422)
        self.errors = errors


def _whole(raw: str, low: int, high: int, *, blank: bool = False) -> int | None:
    """A whole number in [low, high]; blank gives None when `blank` allows it."""
    text = raw.strip()
    if not text and blank:
        return None
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise ValueError(f"give a whole number from {low} to {high}")
    return int(text)


def _switch(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("must be on or off")


def _stakes(raw: str) -> str:
    if raw not in Stakes.__members__.values():
        raise ValueError("choose low (peer review) or high (expert review)")
    return raw


def _status(raw: str) -> str:
    if raw not in CredentialStatus.__members__.values():
        raise ValueError("choose draft, pilot, published or retired")
    return raw


def _lease(raw: str) -> int | None:
    try:
        return _whole(raw, 1, 1440, blank=True)
    except ValueError:
        raise ValueError(
            "give a whole number of minutes from 1 to 1440, or leave it blank for the default"
        ) from None


def _spots(raw: str) -> int | None:
    return _whole(raw, 0, MAX_PILOT_SPOTS, blank=True)


def _target(raw: str) -> int | None:
    try:
        return _whole(raw, 1, 2160, blank=True)
    except ValueError:
        raise ValueError(
            "give a whole number of hours from 1 to 2160, or leave it blank for 72"
        ) from None


PARSERS: dict[str, Callable[[str], Any]] = {
    "stakes": _stakes,
    "peer_reviews": lambda raw: _whole(raw, 1, 9),
    "expert_reviews": lambda raw: _whole(raw, 1, 5),
    "exclude_same_school": _switch,
    "blind_review": _switch,
    "lease_minutes": _lease,
    "pilot_spots": _spots,
    "status": _status,
    "target_hours": _target,
}


async def _required_badge(
    session: AsyncSession, credential: Credential, raw: str
) -> uuid.UUID | None:
    """None for "no badge required", else one of the same organisation's credentials (this
    one included: "earn it to assess it")."""
    if not raw.strip():
        return None
    refusal = ValueError("choose one of this organisation's credentials, or none")
    try:
        wanted = uuid.UUID(raw.strip())
    except ValueError:
        raise refusal from None
    found = await session.get(Credential, wanted)
    if found is None or found.organisation_id != credential.organisation_id:
        raise refusal
    return wanted


async def ready_to_open(session: AsyncSession, credential: Credential) -> bool:
    """A rubric to score by and at least one required artifact to score."""
    if await latest_rubric(session, credential.id) is None:
        return False
    required = await session.exec(
        select(SubmissionCriterion.id)
        .where(SubmissionCriterion.credential_id == credential.id)
        .where(col(SubmissionCriterion.required))
        .limit(1)
    )
    return required.first() is not None


async def _has_submissions(session: AsyncSession, credential_id: uuid.UUID) -> bool:
    found = await session.exec(
        select(Submission.id)
        .where(Submission.credential_id == credential_id)
        .where(Submission.state != SubmissionState.draft)
        .limit(1)
    )
    return found.first() is not None


async def _cross_checks(
    session: AsyncSession, credential: Credential, new: dict[str, Any], errors: dict[str, str]
) -> None:
    """Rules between fields, against the values the credential would have afterwards."""
    status = new.get("status", credential.status)
    spots = new.get("pilot_spots", credential.pilot_spots)
    if "status" in errors or "pilot_spots" in errors:
        return
    if status == CredentialStatus.pilot:
        taken = await spots_taken(session, credential.id)
        if spots is None:
            errors["pilot_spots"] = "Pilot spots: a pilot needs a number of spots."
        elif spots < taken:
            errors["pilot_spots"] = (
                f"Pilot spots: {taken} earners already hold a spot; give at least {taken}."
            )
    if (
        status == CredentialStatus.draft
        and credential.status != CredentialStatus.draft
        and await _has_submissions(session, credential.id)
    ):
        errors["status"] = (
            "Status: earners have already submitted for this credential, so it cannot go back "
            "to draft; retire it instead."
        )
    if (
        status in OPEN_TO_EARNERS
        and status != credential.status
        and not await ready_to_open(session, credential)
    ):
        errors["status"] = (
            "Status: a credential needs a rubric and at least one required submission "
            "criterion before it can be piloted or published."
        )


def _json_safe(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


async def update_credential_settings(
    session: AsyncSession, coordinator: User, credential_id: uuid.UUID, form: Mapping[str, str]
) -> dict[str, list[Any]]:
    """Validate and apply the settings in `form`, audit and commit; returns {field: [old, new]}
    for what changed (empty: nothing did, nothing is written).

    A field missing from `form` keeps its value (so a form that posts a hidden "0" before a
    checkbox can say "off"); unknown keys are ignored. 404 unless the coordinator is one of
    the issuer's; InvalidSettings (every bad field, each message naming it) changes nothing.
    """
    credential = await session.get(Credential, credential_id, with_for_update=True)
    if credential is None or not await access.is_coordinator_of(
        session, coordinator, credential.organisation_id
    ):
        raise not_found("That credential")
    new: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, parse in PARSERS.items():
        if field not in form:
            continue
        try:
            new[field] = parse(form[field])
        except ValueError as exc:
            errors[field] = f"{LABELS[field]}: {exc}."
    badge_field = "required_badge_credential_id"
    if badge_field in form:
        try:
            new[badge_field] = await _required_badge(session, credential, form[badge_field])
        except ValueError as exc:
            errors[badge_field] = f"{LABELS[badge_field]}: {exc}."
    await _cross_checks(session, credential, new, errors)
    if errors:
        raise InvalidSettings({field: errors[field] for field in LABELS if field in errors})
    changes = {
        field: [_json_safe(getattr(credential, field)), _json_safe(value)]
        for field, value in new.items()
        if getattr(credential, field) != value
    }
    if not changes:
        return {}
    for field in changes:
        setattr(credential, field, new[field])
    credential.updated_at = datetime.now(UTC)
    session.add(credential)
    session.add(
        AuditEntry(
            actor_id=coordinator.id,
            action="credential.settings_changed",
            subject_type="credential",
            subject_id=str(credential.id),
            data={"changes": changes},
        )
    )
    await session.commit()
    return changes


async def after_settings(
    runtime: Runtime, credential_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    """After commit: more pilot spots may let waiting earners in."""
    if "pilot_spots" in changes or "status" in changes:
        await pilots.offer_free_spots(runtime, credential_id)
