"""Comprehensive Learner Record 2.0: a completed stack's badges bundled in one ClrCredential,
with each credential `isPartOf` the stack and each one `precedes` the next in stack order.
The bundled credentials are embedded as issued (with their proofs); see app.badges.issuing."""

from __future__ import annotations

from typing import Any

from app.badges import ob3, urls
from app.badges.records import BadgeRecord, recipient_hash

CLR_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
CLR_SCHEMA_URL = (
    "https://purl.imsglobal.org/spec/clr/v2p0/schema/json/clr_v2p0_clrcredential_schema.json"
)


def clr_url(base: str, record: BadgeRecord) -> str:
    return f"{base}/badges/{record.award.id}/clr"


def clr_credential(
    base: str, stack: BadgeRecord, parts: list[BadgeRecord], embedded: list[dict[str, Any]]
) -> dict[str, Any]:
    """The unsigned ClrCredential for a stack award and the awards of its credentials;
    `embedded` are their signed credentials, the stack's first, then the parts in order."""
    stack_achievement = urls.achievement(base, stack.achievement.id)
    part_ids = [urls.achievement(base, part.achievement.id) for part in parts]
    associations = [
        {
            "type": "Association",
            "associationType": "isPartOf",
            "sourceId": part_id,
            "targetId": stack_achievement,
        }
        for part_id in part_ids
    ]
    associations += [
        {
            "type": "Association",
            "associationType": "precedes",
            "sourceId": earlier,
            "targetId": later,
        }
        for earlier, later in zip(part_ids, part_ids[1:], strict=False)
    ]
    award = stack.award
    return {
        "@context": [ob3.VC_CONTEXT, CLR_CONTEXT, ob3.OB_CONTEXT],
        "id": clr_url(base, stack),
        "type": ["VerifiableCredential", "ClrCredential"],
        "issuer": ob3.profile(base, stack.organisation),
        "name": f"{stack.achievement.title}: learner record",
        "description": f"Every credential of {stack.achievement.title}, in order, as earned.",
        "validFrom": ob3.iso(award.issued_at),
        "credentialSubject": {
            "id": urls.subject(stack.earner.subject_id),
            "type": ["ClrSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": recipient_hash(stack.earner.email, award.recipient_salt),
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": award.recipient_salt,
                }
            ],
            "achievement": [ob3.achievement(base, stack.achievement)]
            + [ob3.achievement(base, part.achievement) for part in parts],
            "verifiableCredential": embedded,
            "association": associations,
        },
        "credentialSchema": [{"id": CLR_SCHEMA_URL, "type": "1EdTechJsonSchemaValidator2019"}],
    }
