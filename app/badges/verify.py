"""Verification of an Open Badge: schema, signature, issuer, dates and status, each reported
in plain words, with one overall result (valid, revoked, expired, not yet valid, invalid, or
unverified when MCX cannot check the seal offline).

Checks run in a fixed order and the first failing one is the reason; revoked and expired are
reported distinctly. MCX's own keys and status lists are read from PostgreSQL; nothing is
fetched from other sites.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.badges import dataintegrity, status
from app.badges.baking import Baked
from app.badges.verdicts import (
    RESULT_WORDS,
    Check,
    Verdict,
    as_uuid,
    claims_mismatch,
    day,
    failed,
    issuer_id,
    issuer_name,
    parse,
    since,
    structure,
    until,
)
from app.models import IssuerKey, Organisation
from app.settings import Settings

JWT_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
JWT_CLAIMS = ("iss", "jti", "sub", "nbf", "iat", "exp", "aud")
VC1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
OB3_CONTEXT_RE = re.compile(
    r"^https://purl\.imsglobal\.org/spec/ob/v3p0/context(-3\.\d\.\d)*\.json$"
)
LEGACY_OB3_CONTEXTS = {"https://imsglobal.github.io/openbadges-specification/context.json"}
ALGORITHMS = ("RS256", "ES256")
ORDER = ("format", "context", "schema", "proof_method", "signature", "issuer")


def _registry() -> jws.JWSRegistry:
    # Headers that embed an RSA key outgrow joserfc's 512-byte default; still bounded.
    registry = jws.JWSRegistry(algorithms=list(ALGORITHMS), strict_check_header=False)
    registry.max_header_length = 16 * 1024
    registry.max_payload_length = 1024 * 1024
    return registry


class Verifier:
    """Verifies credentials against MCX's published keys and status lists."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.base = settings.base_url
        self.now = datetime.now(UTC)

    async def payload(self, text: str) -> Verdict:
        """A pasted JWT, a credential's JSON, or an OB 2.0 assertion's JSON."""
        text = text.strip()
        if JWT_RE.match(text):
            return await self.jwt(text)
        if text.startswith("{"):
            try:
                document = json.loads(text)
            except ValueError:
                return failed("format", "The text is not valid JSON.")
            if not isinstance(document, dict):
                return failed("format", "The JSON is not a badge.")
            if document.get("type") == "Assertion" or "recipient" in document:
                return await self.assertion(document)
            return await self.document(document, [])
        if text.startswith(("http://", "https://")) or as_uuid(text):
            award_id = self.award_id_from(text)
            if award_id is None:
                return failed(
                    "format",
                    "That link is not an MCX badge; MCX does not fetch badges from other sites.",
                    unsupported=True,
                )
            return await self.award(award_id)
        return failed("format", "Paste a badge: its link, its signed text (JWT), or its JSON.")

    async def baked(self, baked: Baked) -> Verdict:
        return await self.payload(baked.payload)

    def award_id_from(self, text: str) -> uuid.UUID | None:
        direct = as_uuid(text)
        if direct:
            return direct
        prefix = f"{self.base}/badges/"
        if not text.startswith(prefix):
            return None
        return as_uuid(re.split(r"[/.#?]", text.removeprefix(prefix), maxsplit=1)[0])

    async def award(self, award_id: uuid.UUID) -> Verdict:
        """An MCX award by id: its own signed credential, verified like any other."""
        from app.badges.issuing import signed_credential
        from app.badges.records import load_record

        record = await load_record(self.session, award_id)
        if record is None:
            return failed("format", "MCX has no badge with that id.")
        _, token = await signed_credential(self.session, self.settings, record)
        verdict = await self.jwt(token)
        verdict.award_id = award_id
        return verdict

    async def assertion(self, document: dict[str, Any]) -> Verdict:
        """OB 2.0 hosted assertions are verified by their hosting: MCX checks its own."""
        award_id = self.award_id_from(str(document.get("id", "")))
        if award_id is None:
            return failed(
                "format",
                "This is an Open Badges 2.0 badge hosted elsewhere; MCX does not fetch it.",
                unsupported=True,
            )
        return await self.award(award_id)

    async def jwt(self, token: str) -> Verdict:
        checks: list[Check] = []
        try:
            compact = jws.extract_compact(token.encode(), registry=_registry())
            header = compact.headers()
            claims = json.loads(compact.payload)
        except (JoseError, ValueError):
            return failed("format", "The signed text (JWT) is damaged and cannot be read.")
        if not isinstance(claims, dict):
            return failed("format", "The signed text (JWT) does not hold a badge.")
        document = claims.get("vc") if isinstance(claims.get("vc"), dict) else None
        if document is None:
            document = {k: v for k, v in claims.items() if k not in JWT_CLAIMS}
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            checks.append(
                Check("signature", False, f"The seal uses {alg}; Open Badges allow RS256 or ES256.")
            )
            return self.conclude(document, checks)
        if header.get("typ") not in (None, "JWT", "vc+jwt"):
            checks.append(Check("format", False, f"The JWT type '{header.get('typ')}' is wrong."))
        key, issuer_org = await self.jwt_key(header, checks)
        if key is not None:
            try:
                jws.deserialize_compact(token, key, algorithms=[alg], registry=_registry())
                checks.append(Check("signature", True, "The seal is intact: nothing was changed."))
            except JoseError:
                checks.append(
                    Check(
                        "signature",
                        False,
                        "The seal does not match: the badge was changed, or sealed with "
                        "another key than the one it names.",
                    )
                )
        mismatch = claims_mismatch(claims, document)
        if mismatch:
            checks.append(Check("issuer", False, mismatch))
        return await self.finish(document, checks, issuer_org)

    async def jwt_key(
        self, header: dict[str, Any], checks: list[Check]
    ) -> tuple[ECKey | RSAKey | None, Organisation | None]:
        kid = header.get("kid")
        if isinstance(kid, str) and kid.startswith(f"{self.base}/badges/keys/"):
            found = (
                await self.session.exec(
                    select(IssuerKey).where(
                        IssuerKey.kid == kid.removeprefix(f"{self.base}/badges/keys/")
                    )
                )
            ).first()
            if found is None:
                checks.append(Check("signature", False, "The key it names was never MCX's."))
                return None, None
            organisation = await self.session.get(Organisation, found.organisation_id)
            return ECKey.import_key(json.loads(found.public_jwk)), organisation
        jwk = header.get("jwk")
        if isinstance(jwk, dict):
            if "d" in jwk:
                checks.append(Check("signature", False, "The badge carries a private key."))
                return None, None
            try:
                imported = (RSAKey if jwk.get("kty") == "RSA" else ECKey).import_key(jwk)
            except (JoseError, ValueError, TypeError):
                checks.append(Check("signature", False, "The key in the badge is damaged."))
                return None, None
            return imported, None
        where = f" ({kid})" if kid else ""
        checks.append(
            Check(
                "signature",
                None,
                f"The issuer's key is published elsewhere{where}; MCX does not fetch it.",
            )
        )
        return None, None

    async def document(self, document: dict[str, Any], checks: list[Check]) -> Verdict:
        """A credential with embedded Data Integrity proofs."""
        proofs = document.get("proof")
        listed = proofs if isinstance(proofs, list) else [proofs] if proofs else []
        supported = [
            p
            for p in listed
            if isinstance(p, dict)
            and p.get("type") == "DataIntegrityProof"
            and p.get("cryptosuite") == dataintegrity.CRYPTOSUITE
        ]
        if not listed:
            checks.append(
                Check(
                    "signature",
                    False,
                    "The badge carries no seal, so anyone could have written it.",
                )
            )
        elif not supported:
            kinds = ", ".join(sorted({str(p.get("type")) for p in listed if isinstance(p, dict)}))
            checks.append(
                Check(
                    "signature", None, f"The badge is sealed with {kinds}, which MCX cannot check."
                )
            )
        signer_org = None
        for proof in supported:
            try:
                key = dataintegrity.verify_proof(document, proof)
                checks.append(Check("signature", True, "The seal is intact: nothing was changed."))
                signer_org = signer_org or await self.organisation_of(key)
            except dataintegrity.ProofError as error:
                checks.append(
                    Check(error.code, None if error.unsupported else False, error.message)
                )
        return await self.finish(document, checks, signer_org)

    async def organisation_of(self, key: Ed25519PublicKey) -> Organisation | None:
        """The MCX issuer whose Ed25519 key this is, if any."""
        wanted = dataintegrity.to_multikey(key)
        rows = await self.session.exec(
            select(IssuerKey, Organisation)
            .join(Organisation, col(Organisation.id) == col(IssuerKey.organisation_id))
            .where(IssuerKey.alg == "Ed25519")
        )
        for stored, organisation in rows.all():
            jwk = json.loads(stored.public_jwk)
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            if dataintegrity.to_multikey(Ed25519PublicKey.from_public_bytes(raw)) == wanted:
                return organisation
        return None

    async def finish(
        self, document: dict[str, Any], checks: list[Check], signer_org: Organisation | None
    ) -> Verdict:
        checks.extend(structure(document))
        checks.extend(await self.issuer_and_status(document, signer_org))
        return self.conclude(document, checks)

    async def issuer_and_status(
        self, document: dict[str, Any], signer_org: Organisation | None
    ) -> list[Check]:
        found: list[Check] = []
        named = issuer_id(document)
        ours = named.startswith(f"{self.base}/badges/issuers/")
        if ours:
            slug = named.removeprefix(f"{self.base}/badges/issuers/")
            if signer_org is None or signer_org.slug != slug:
                found.append(
                    Check(
                        "issuer",
                        False,
                        "The badge names an MCX issuer but was not sealed with its key.",
                    )
                )
            else:
                found.append(Check("issuer", True, f"Issued by {signer_org.name}, an MCX issuer."))
        elif signer_org is not None:
            found.append(
                Check("issuer", False, "The seal is MCX's but the badge names another issuer.")
            )
        else:
            name = issuer_name(document) or named or "an unnamed issuer"
            found.append(
                Check("issuer", None, f"Issued by {name}, which MCX does not know itself.")
            )
        listed = document.get("credentialStatus")
        if not listed:
            found.append(Check("status", True, "The issuer publishes no revocation list for it."))
            return found
        entry = listed[0] if isinstance(listed, list) and listed else listed
        revoked = (
            await status.entry_status(self.session, self.base, entry)
            if isinstance(entry, dict)
            else None
        )
        if revoked is None:
            found.append(
                Check(
                    "status",
                    None,
                    "Its revocation list is published elsewhere; MCX does not fetch it.",
                )
            )
        elif revoked[0]:
            found.append(Check("status", False, f"Revoked by the issuer: {revoked[1]}"))
        else:
            found.append(Check("status", True, "Not revoked."))
        return found

    def conclude(self, document: dict[str, Any], checks: list[Check]) -> Verdict:
        checks.sort(key=lambda c: ORDER.index(c.name) if c.name in ORDER else len(ORDER))
        issuer = issuer_name(document) or "its issuer"
        dates = self.dates(document)
        checks.append(dates)
        broken = next((c for c in checks if c.ok is False and c.name in ORDER), None)
        if broken is not None:
            words = RESULT_WORDS["invalid"].format(why=broken.message)
            return Verdict("invalid", words, broken.name, checks, document)
        state = next((c for c in checks if c.name == "status"), None)
        if state is not None and state.ok is False:
            return Verdict(
                "revoked",
                RESULT_WORDS["revoked"].format(issuer=issuer) + " " + state.message,
                "revoked",
                checks,
                document,
            )
        if dates.ok is False:
            kind = "expired" if "expired" in dates.message else "not_yet_valid"
            words = RESULT_WORDS[kind].format(
                until=day(until(document)), since=day(since(document))
            )
            return Verdict(kind, words, kind, checks, document)
        unchecked = next(
            (
                c
                for c in checks
                if c.name in ("context", "proof_method", "signature") and c.ok is None
            ),
            None,
        )
        if unchecked is not None or not any(c.name == "signature" and c.ok for c in checks):
            why = unchecked.message if unchecked else "it carries no seal MCX can read."
            return Verdict(
                "unverified",
                RESULT_WORDS["unverified"].format(why=why),
                "unverified",
                checks,
                document,
            )
        words = RESULT_WORDS["valid"].format(issuer=issuer)
        if any(c.name == "issuer" and c.ok is None for c in checks):
            # A seal proves the badge is unchanged; only a known issuer's key proves who sealed it.
            words = RESULT_WORDS["valid_unknown_issuer"].format(issuer=issuer)
        return Verdict("valid", words, None, checks, document)

    def dates(self, document: dict[str, Any]) -> Check:
        start, end = parse(since(document)), parse(until(document))
        if start is None:
            return Check("dates", False, "The badge has no readable start date.")
        if start > self.now:
            return Check("dates", False, f"Not valid before {day(since(document))}.")
        if end is not None and end < self.now:
            return Check("dates", False, f"It expired on {day(until(document))}.")
        return Check(
            "dates",
            True,
            "Its dates are in order today" + (f", until {day(until(document))}." if end else "."),
        )
