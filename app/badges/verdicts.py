"""What a verification found: each check in plain words, and one overall result."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.badges import ob3, schemas

VC1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
OB3_CONTEXT_RE = re.compile(
    r"^https://purl\.imsglobal\.org/spec/ob/v3p0/context(-3\.\d\.\d)*\.json$"
)
LEGACY_OB3_CONTEXTS = {"https://imsglobal.github.io/openbadges-specification/context.json"}

RESULT_WORDS = {
    "valid": "This badge is genuine: it was issued by {issuer}, it has not been changed, "
    "and it is in force.",
    "valid_unknown_issuer": "This badge is intact and in force: nothing was changed since it "
    "was sealed. It names {issuer} as its issuer, whom MCX does not know itself, so MCX "
    "cannot vouch that the seal is theirs.",
    "revoked": "This badge was revoked by {issuer}. It no longer counts.",
    "expired": "This badge was genuine but expired on {until}. It no longer counts.",
    "not_yet_valid": "This badge only takes effect on {since}; it does not count yet.",
    "invalid": "This badge cannot be trusted: {why}",
    "unverified": "MCX could not check this badge's seal: {why} Ask the issuer to confirm it.",
}


@dataclass
class Check:
    name: str
    ok: bool | None  # None: not checked (and why, in the message)
    message: str


@dataclass
class Verdict:
    result: str
    summary: str
    reason: str | None
    checks: list[Check] = field(default_factory=list)
    credential: dict[str, Any] | None = None
    award_id: uuid.UUID | None = None

    def as_json(self) -> dict[str, Any]:
        document = self.credential or {}
        subject = document.get("credentialSubject") or {}
        achievement = subject.get("achievement") if isinstance(subject, dict) else None
        return {
            "result": self.result,
            "valid": self.result == "valid",
            "summary": self.summary,
            "reason": self.reason,
            "checks": [{"check": c.name, "ok": c.ok, "message": c.message} for c in self.checks],
            "badge": {
                "name": (achievement or {}).get("name") or document.get("name"),
                "issuer": issuer_name(document),
                "earner": subject.get("name") if isinstance(subject, dict) else None,
                "validFrom": since(document),
                "validUntil": until(document),
                "id": document.get("id"),
            },
            "awardId": str(self.award_id) if self.award_id else None,
        }


def failed(name: str, message: str, *, unsupported: bool = False) -> Verdict:
    if unsupported:
        return Verdict(
            "unverified",
            RESULT_WORDS["unverified"].format(why=message),
            "unverified",
            [Check(name, None, message)],
        )
    return Verdict(
        "invalid", RESULT_WORDS["invalid"].format(why=message), name, [Check(name, False, message)]
    )


def as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def issuer_id(document: dict[str, Any]) -> str:
    issuer = document.get("issuer")
    if isinstance(issuer, dict):
        return str(issuer.get("id", ""))
    return str(issuer or "")


def issuer_name(document: dict[str, Any]) -> str | None:
    issuer = document.get("issuer")
    if isinstance(issuer, dict) and isinstance(issuer.get("name"), str):
        return str(issuer["name"])
    return None


def since(document: dict[str, Any]) -> str | None:
    value = document.get("validFrom", document.get("issuanceDate"))
    return value if isinstance(value, str) else None


def until(document: dict[str, Any]) -> str | None:
    value = document.get("validUntil", document.get("expirationDate"))
    return value if isinstance(value, str) else None


def parse(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def day(value: str | None) -> str:
    moment = parse(value)
    return moment.strftime("%-d %B %Y") if moment else "an unreadable date"


def claims_mismatch(claims: dict[str, Any], document: dict[str, Any]) -> str | None:
    """The JWT's registered claims must say what the credential inside says."""
    if "iss" in claims and claims["iss"] != issuer_id(document):
        return "The seal names a different issuer than the badge."
    if "jti" in claims and "id" in document and claims["jti"] != document["id"]:
        return "The seal names a different badge id than the badge."
    subject = document.get("credentialSubject")
    if "sub" in claims and isinstance(subject, dict) and "id" in subject:
        if claims["sub"] != subject["id"]:
            return "The seal names a different earner than the badge."
    return None


def structure(document: dict[str, Any]) -> list[Check]:
    """The JSON-LD contexts, then the 1EdTech schema (VC 1.1 dates read as their VC 2.0 names)."""
    contexts = document.get("@context")
    contexts = contexts if isinstance(contexts, list) else [contexts]
    first = contexts[0] if contexts else None
    has_ob = any(
        isinstance(c, str) and (OB3_CONTEXT_RE.match(c) or c in LEGACY_OB3_CONTEXTS)
        for c in contexts
    )
    if first not in (ob3.VC_CONTEXT, VC1_CONTEXT) or not has_ob:
        return [
            Check(
                "context",
                False,
                "It is not written as an Open Badge 3.0: its JSON-LD contexts are wrong.",
            )
        ]
    found = [Check("context", True, "Written as an Open Badge 3.0.")]
    shaped = dict(document)
    shaped.pop("proof", None)
    if first == VC1_CONTEXT:
        # The older VC 1.1 shape: the schema is for VC 2.0, so map the names it renamed.
        shaped["@context"] = [ob3.VC_CONTEXT, ob3.OB_CONTEXT]
        for old, new in (("issuanceDate", "validFrom"), ("expirationDate", "validUntil")):
            if old in shaped:
                shaped[new] = shaped.pop(old)
    problems = schemas.problems(schemas.OB3_SCHEMA, shaped)
    if problems:
        listed = "; ".join(problems[:3]) + ("; …" if len(problems) > 3 else "")
        found.append(
            Check("schema", False, f"It does not follow the Open Badges 3.0 format ({listed}).")
        )
    else:
        found.append(Check("schema", True, "It follows the Open Badges 3.0 format."))
    return found
