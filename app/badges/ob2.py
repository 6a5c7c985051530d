"""Open Badges 2.0 hosted documents: Issuer Profile, BadgeClass and Assertion."""

from __future__ import annotations

from typing import Any

from app.badges import urls
from app.badges.records import Achievement, BadgeRecord, recipient_hash
from app.models import Alignment, Organisation

CONTEXT = "https://w3id.org/openbadges/v2"
CID_CONTEXT = "https://www.w3.org/ns/cid/v1"


def issuer_profile(
    base: str, organisation: Organisation, verification: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The Issuer Profile; with `verification` (cid.verification) it doubles as the issuer's
    controlled identifier document, so a Data Integrity verifier asking for JSON-LD at the
    URL its proof names finds the key there too."""
    profile: dict[str, Any] = {
        "@context": [CONTEXT, CID_CONTEXT] if verification else CONTEXT,
        "type": "Profile",
        "id": urls.issuer(base, organisation),
        "name": organisation.name,
        "url": organisation.url or urls.issuer(base, organisation),
    }
    if organisation.email:
        profile["email"] = organisation.email
    if organisation.description:
        profile["description"] = organisation.description
    if verification:
        profile.update(verification)
    return profile


def revoked_assertion(base: str, record: BadgeRecord) -> dict[str, Any]:
    """What a revoked hosted assertion answers (with 410 Gone): JSON-LD an OB 2.0 verifier
    reads as "revoked" rather than as a malformed document."""
    return {
        "@context": CONTEXT,
        "type": "Assertion",
        "id": urls.assertion(base, record.award.id),
        "revoked": True,
        "revocationReason": record.award.revocation_reason or "",
    }


def alignment(base: str, item: Alignment) -> dict[str, Any]:
    return {
        "targetName": f"{item.framework} {item.code}" + (f": {item.title}" if item.title else ""),
        "targetUrl": item.url or base,
        "targetFramework": item.framework,
        "targetCode": item.code,
        **({"targetDescription": item.title} if item.title else {}),
    }


def badge_class(base: str, achievement: Achievement) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "BadgeClass",
        "id": urls.achievement(base, achievement.id),
        "name": achievement.title,
        "description": achievement.description,
        "image": urls.achievement_image(base, achievement.id),
        "criteria": {
            "id": urls.achievement(base, achievement.id) + "#criteria",
            "narrative": achievement.criteria_narrative,
        },
        "issuer": urls.issuer(base, achievement.organisation),
        "alignment": [alignment(base, a) for a in achievement.alignments],
        "tags": _tags(achievement),
    }
    return document


def _tags(achievement: Achievement) -> list[str]:
    tags = ["micro-credential"]
    if achievement.credential is not None and achievement.credential.topic:
        tags.append(achievement.credential.topic)
    if achievement.stack is not None:
        tags.append("stack")
    return tags


def assertion(base: str, record: BadgeRecord) -> dict[str, Any]:
    award = record.award
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "Assertion",
        "id": urls.assertion(base, award.id),
        "recipient": {
            "type": "email",
            "hashed": True,
            "salt": award.recipient_salt,
            "identity": recipient_hash(record.earner.email, award.recipient_salt),
        },
        "badge": urls.achievement(base, record.achievement.id),
        "issuedOn": award.issued_at.isoformat(),
        "verification": {"type": "HostedBadge"},
        "image": urls.achievement_image(base, record.achievement.id),
    }
    if award.expires_at is not None:
        document["expires"] = award.expires_at.isoformat()
    evidence = _evidence(base, record)
    if evidence:
        document["evidence"] = evidence
    return document


def _evidence(base: str, record: BadgeRecord) -> list[dict[str, Any]]:
    """Evidence by privacy: only a packet its earner made public is pointed at."""
    if record.award.evidence_note:
        return [{"narrative": record.award.evidence_note}]
    if record.public_evidence:
        return [
            {
                "id": urls.page(base, record.award.id) + "#evidence",
                "narrative": "Evidence packet shared publicly by the earner, "
                "scored against the published rubric.",
            }
        ]
    return []
