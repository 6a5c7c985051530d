"""Open Badges 3.0: the OpenBadgeCredential of an award, signed as a VC-JWT (ES256)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey

from app.badges import urls
from app.badges.records import Achievement, BadgeRecord, recipient_hash
from app.models import Organisation

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
SCHEMA_URL = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)
# A Bitstring Status List holds at least 16 KiB of bits (the spec's privacy floor).
STATUS_LIST_SIZE = 131072


def iso(moment: datetime) -> str:
    """XSD dateTime in UTC with a Z, the form every validator reads."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def profile(base: str, organisation: Organisation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": urls.issuer(base, organisation),
        "type": ["Profile"],
        "name": organisation.name,
        "url": organisation.url or urls.issuer(base, organisation),
    }
    if organisation.email:
        document["email"] = organisation.email
    if organisation.description:
        document["description"] = organisation.description
    return document


def achievement(base: str, thing: Achievement) -> dict[str, Any]:
    achievement_url = urls.achievement(base, thing.id)
    document: dict[str, Any] = {
        "id": achievement_url,
        "type": ["Achievement"],
        "achievementType": "MicroCredential" if thing.credential else "Badge",
        "name": thing.title,
        "description": thing.description,
        "criteria": {"id": achievement_url + "#criteria", "narrative": thing.criteria_narrative},
        "image": {"id": urls.achievement_image(base, thing.id), "type": "Image"},
        "creator": profile(base, thing.organisation),
        "tag": ["micro-credential"],
    }
    if thing.credential is not None and thing.credential.pd_hours:
        document["creditsAvailable"] = float(thing.credential.pd_hours)
    if thing.alignments:
        document["alignment"] = [
            {
                "type": ["Alignment"],
                "targetName": f"{a.framework} {a.code}",
                "targetUrl": a.url or achievement_url,
                "targetFramework": a.framework,
                "targetCode": a.code,
                **({"targetDescription": a.title} if a.title else {}),
            }
            for a in thing.alignments
        ]
    if thing.rubric:
        document["resultDescription"] = [
            {
                "id": f"{achievement_url}#criterion-{row.criterion.position}",
                "type": ["ResultDescription"],
                "name": row.criterion.title,
                "resultType": "RubricCriterionLevel",
                "allowedValue": [level.label for level in row.levels],
                "rubricCriterionLevel": [
                    {
                        "id": f"{achievement_url}#criterion-{row.criterion.position}"
                        f"-level-{level.position}",
                        "type": ["RubricCriterionLevel"],
                        "name": level.label,
                        "level": level.label,
                        "points": str(level.points),
                        **({"description": level.descriptor} if level.descriptor else {}),
                    }
                    for level in row.levels
                ],
            }
            for row in thing.rubric
        ]
    return document


def status_entry(base: str, record: BadgeRecord) -> dict[str, Any]:
    index = record.award.status_index
    assert index is not None
    list_url = urls.status_list(base, record.organisation, index // STATUS_LIST_SIZE)
    position = index % STATUS_LIST_SIZE
    return {
        "id": f"{list_url}#{position}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(position),
        "statusListCredential": list_url,
    }


def credential(base: str, record: BadgeRecord) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential (VC 2.0 data model) of one award."""
    award = record.award
    achievement_url = urls.achievement(base, record.achievement.id)
    subject: dict[str, Any] = {
        "id": urls.subject(record.earner.subject_id),
        "type": ["AchievementSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityHash": recipient_hash(record.earner.email, award.recipient_salt),
                "identityType": "emailAddress",
                "hashed": True,
                "salt": award.recipient_salt,
            }
        ],
        "achievement": achievement(base, record.achievement),
    }
    if record.shows_name:
        subject["name"] = record.earner.name
    results = [
        {
            "type": ["Result"],
            "resultDescription": f"{achievement_url}#criterion-{row.criterion.position}",
            "achievedLevel": f"{achievement_url}#criterion-{row.criterion.position}"
            f"-level-{record.achieved[row.criterion.id].position}",
            "status": "Completed",
        }
        for row in record.achievement.rubric
        if row.criterion.id in record.achieved
    ]
    if results:
        subject["result"] = results
    document: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": urls.credential(base, award.id),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": profile(base, record.organisation),
        "validFrom": iso(award.issued_at),
        "name": record.achievement.title,
        "description": record.achievement.description,
        "credentialSubject": subject,
        "credentialSchema": [{"id": SCHEMA_URL, "type": "1EdTechJsonSchemaValidator2019"}],
        "credentialStatus": status_entry(base, record),
    }
    if award.expires_at is not None:
        document["validUntil"] = iso(award.expires_at)
    evidence = _evidence(base, record)
    if evidence:
        document["evidence"] = evidence
    return document


def _evidence(base: str, record: BadgeRecord) -> list[dict[str, Any]]:
    if record.award.evidence_note:
        return [{"type": ["Evidence"], "narrative": record.award.evidence_note}]
    if record.public_evidence:
        return [
            {
                "id": urls.page(base, record.award.id) + "#evidence",
                "type": ["Evidence"],
                "name": "Evidence packet",
                "narrative": "Shared publicly by the earner; scored against the published rubric.",
            }
        ]
    return []


def jwt_claims(document: dict[str, Any]) -> dict[str, Any]:
    """The VC-JWT payload: the credential itself plus the registered JWT claims."""
    claims = dict(document)
    claims["iss"] = document["issuer"]["id"]
    claims["jti"] = document["id"]
    subject = document["credentialSubject"]
    if isinstance(subject, dict) and "id" in subject:
        claims["sub"] = subject["id"]
    valid_from = datetime.fromisoformat(document["validFrom"].replace("Z", "+00:00"))
    claims["nbf"] = int(valid_from.timestamp())
    claims["iat"] = int(valid_from.timestamp())
    if "validUntil" in document:
        valid_until = datetime.fromisoformat(document["validUntil"].replace("Z", "+00:00"))
        claims["exp"] = int(valid_until.timestamp())
    return claims


def sign(document: dict[str, Any], key: ECKey | OKPKey, kid: str) -> str:
    """A compact JWS over the credential (ES256; the key's `kid` URL in the header)."""
    header = {"alg": "ES256", "typ": "JWT", "kid": kid}
    return jwt.encode(header, jwt_claims(document), key, algorithms=["ES256"])
