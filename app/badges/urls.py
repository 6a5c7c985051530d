"""The stable public URLs of every badge document, all under MCX_BASE_URL."""

from __future__ import annotations

import uuid

from app.models import Organisation


def issuer(base: str, organisation: Organisation) -> str:
    return f"{base}/badges/issuers/{organisation.slug}"


def achievement(base: str, achievement_id: uuid.UUID) -> str:
    return f"{base}/badges/achievements/{achievement_id}"


def achievement_image(base: str, achievement_id: uuid.UUID) -> str:
    return f"{base}/badges/achievements/{achievement_id}/image.png"


def page(base: str, award_id: uuid.UUID) -> str:
    return f"{base}/badges/{award_id}"


def assertion(base: str, award_id: uuid.UUID) -> str:
    return f"{base}/badges/{award_id}.json"


def credential(base: str, award_id: uuid.UUID) -> str:
    return f"{base}/badges/{award_id}/credential"


def status_list(base: str, organisation: Organisation, number: int) -> str:
    return f"{base}/badges/status/{organisation.slug}/{number}"


def subject(earner_subject_id: uuid.UUID) -> str:
    return f"urn:uuid:{earner_subject_id}"
