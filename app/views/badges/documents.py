"""Open Badges JSON at stable URLs: OB 2.0 Issuer, BadgeClass and Assertion; the OB 3.0
credential (JSON and VC-JWT); the issuers' JWK set; status lists; badge images."""

from __future__ import annotations

import json
import re
import uuid

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.access import access_own_award, require_user
from app.auth import current_user
from app.badges import baking, cid, images, issuing, keys, ob2, status, urls
from app.badges.issuing import proved_credential, signed_credential
from app.badges.records import BadgeRecord, load_achievement, load_record
from app.errors import ActionError, not_found
from app.models import IssuerKey, Organisation

JSON_LD = "application/ld+json"
VC_JWT = "application/vc+jwt"
# VC 2.0 registers `application/vc` for a credential secured by an embedded proof.
VC = "application/vc"


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found(what) from None


async def record_for(request: Request, raw: str) -> BadgeRecord:
    award_id = _uuid(raw, "That badge")
    async with request.app.state.runtime.sessions() as session:
        record = await load_record(session, award_id)
    if record is None:
        raise not_found("That badge")
    return record


async def assertion(request: Request, raw: str) -> Response:
    """GET /badges/{id}.json: the OB 2.0 hosted Assertion; 410 Gone with the reason once revoked."""
    record = await record_for(request, raw)
    base = request.app.state.runtime.settings.base_url
    if record.award.revoked_at is not None:
        gone = ob2.revoked_assertion(base, record)
        return JSONResponse(gone, status_code=410, media_type=JSON_LD)
    return JSONResponse(ob2.assertion(base, record), media_type=JSON_LD)


async def credential_json(request: Request) -> Response:
    """GET /badges/{id}/credential: the OB 3.0 OpenBadgeCredential with its Data Integrity
    proof (eddsa-rdfc-2022); the same credential as a VC-JWT is at .jwt."""
    record = await record_for(request, request.path_params["award_id"])
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        document = await proved_credential(session, runtime.settings, record)
    return JSONResponse(document, media_type=VC)


async def credential_jwt(request: Request) -> Response:
    """GET /badges/{id}/credential.jwt: the credential signed as a VC-JWT (ES256)."""
    record = await record_for(request, request.path_params["award_id"])
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        _, token = await signed_credential(session, runtime.settings, record)
    return Response(token, media_type=VC_JWT)


async def baked(request: Request) -> Response:
    """GET /badges/{id}/baked.png|.svg[?version=2.0]: the badge image carrying the badge
    (OB 3.0: the signed credential; OB 2.0: the hosted assertion)."""
    kind = request.path_params["kind"]
    if kind not in ("png", "svg"):
        raise not_found("That image")
    record = await record_for(request, request.path_params["award_id"])
    if record.award.revoked_at is not None:
        raise ActionError("revoked", "This badge was revoked; it can no longer be downloaded.", 410)
    runtime = request.app.state.runtime
    base = runtime.settings.base_url
    version = request.query_params.get("version", "3.0")
    if version not in ("2.0", "3.0"):
        raise ActionError("bad_version", "Ask for Open Badges version 2.0 or 3.0.", 400)
    if version == "3.0":
        async with runtime.sessions() as session:
            _, payload = await signed_credential(session, runtime.settings, record)
    else:
        payload = json.dumps(ob2.assertion(base, record))
    # An ASCII file name: headers are latin-1, titles are not.
    slug = re.sub(r"[^A-Za-z0-9]+", "-", record.achievement.title).strip("-")[:60] or "badge"
    name = f"{slug}-{record.award.id.hex[:8]}"
    if kind == "png":
        image = images.badge_png(runtime.settings, record.achievement)
        body: bytes | str = baking.bake_png(image, payload, version=version)
        media = "image/png"
    else:
        svg = images.drawn_svg(record.achievement.title, record.organisation.name)
        body = baking.bake_svg(
            svg, payload, version=version, assertion_url=urls.assertion(base, record.award.id)
        )
        media = "image/svg+xml"
    disposition = f'attachment; filename="{name}.{kind}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})


async def learner_record(request: Request) -> Response:
    """GET /badges/{id}/clr[.jwt]: the earner's CLR 2.0 for a completed stack (theirs only):
    JSON with a Data Integrity proof, or a VC-JWT; either embeds each credential as issued."""
    user = require_user(await current_user(request))
    if request.path_params.get("kind", ".jwt") != ".jwt":
        raise not_found("That learner record")
    award_id = _uuid(request.path_params["award_id"], "That badge")
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        await access_own_award(session, user, award_id)
        stack = await load_record(session, award_id)
        if stack is None or stack.achievement.stack is None:
            raise not_found("That learner record")
        parts = []
        for part in stack.achievement.parts:
            if part.award is not None:
                loaded = await load_record(session, part.award.id)
                assert loaded is not None
                parts.append(loaded)
        if request.path_params.get("kind") == ".jwt":
            document = await issuing.learner_record(session, runtime.settings, stack, parts)
            token = await issuing.sign_jwt(session, runtime.settings, stack.organisation, document)
            return Response(token, media_type=VC_JWT)
        proved = await issuing.proved_learner_record(session, runtime.settings, stack, parts)
    return JSONResponse(
        proved,
        media_type=VC,
        headers={"Content-Disposition": 'attachment; filename="learner-record.json"'},
    )


async def issuer(request: Request) -> Response:
    """GET /badges/issuers/{slug}: the OB 2.0 Issuer Profile, which also lists the issuer's
    Data Integrity keys (verificationMethod / assertionMethod, Multikey); asked for as
    `application/cid` (or a DID document type), the bare controlled identifier document."""
    slug = request.path_params["slug"]
    async with request.app.state.runtime.sessions() as session:
        organisation = (
            await session.exec(select(Organisation).where(Organisation.slug == slug))
        ).first()
        if organisation is None:
            raise not_found("That issuer")
        ed25519 = await keys.organisation_keys(session, organisation.id, keys.ED25519)
    base = request.app.state.runtime.settings.base_url
    # Caches must keep the two answers apart.
    headers = {"Vary": "Accept"}
    if cid.wants_document(request.headers.get("accept", "")):
        return JSONResponse(
            cid.document(base, organisation, ed25519), media_type=cid.MEDIA_TYPE, headers=headers
        )
    profile = ob2.issuer_profile(base, organisation, cid.verification(base, organisation, ed25519))
    return JSONResponse(profile, media_type=JSON_LD, headers=headers)


async def achievement(request: Request) -> Response:
    """GET /badges/achievements/{id}: the OB 2.0 BadgeClass of a credential or stack."""
    achievement_id = _uuid(request.path_params["achievement_id"], "That badge")
    async with request.app.state.runtime.sessions() as session:
        found = await load_achievement(session, achievement_id)
    if found is None or (found.credential is not None and found.credential.status == "draft"):
        raise not_found("That badge")
    base = request.app.state.runtime.settings.base_url
    return JSONResponse(ob2.badge_class(base, found), media_type=JSON_LD)


async def achievement_image(request: Request) -> Response:
    """GET /badges/achievements/{id}/image.png: the badge image (the issuer's, or drawn)."""
    achievement_id = _uuid(request.path_params["achievement_id"], "That badge")
    async with request.app.state.runtime.sessions() as session:
        found = await load_achievement(session, achievement_id)
    if found is None:
        raise not_found("That badge")
    png = images.badge_png(request.app.state.runtime.settings, found)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


async def jwks(request: Request) -> Response:
    """GET /.well-known/jwks.json: every issuer signing key, retired ones included."""
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        document = await keys.published_keys(session, runtime.settings.base_url)
    return JSONResponse(
        document, media_type="application/jwk-set+json", headers={"Cache-Control": "max-age=300"}
    )


async def key(request: Request) -> Response:
    """GET /badges/keys/{kid}: one public key (a JWT header's `kid` resolves here)."""
    kid = request.path_params["kid"]
    async with request.app.state.runtime.sessions() as session:
        found = (
            await session.exec(
                select(IssuerKey).where(IssuerKey.kid == kid).where(IssuerKey.alg == keys.ES256)
            )
        ).first()
    if found is None:
        raise not_found("That key")
    base = request.app.state.runtime.settings.base_url
    return JSONResponse(keys.public_jwk(base, found), media_type="application/jwk+json")


async def status_list(request: Request) -> Response:
    """GET /badges/status/{slug}/{number}: the issuer's Bitstring Status List, as a VC-JWT."""
    slug = request.path_params["slug"]
    number = request.path_params["number"]
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        token = await status.signed_status_list(session, runtime.settings, slug, number)
    if token is None:
        raise not_found("That status list")
    return Response(token, media_type=VC_JWT, headers={"Cache-Control": "max-age=60"})


routes = [
    Route("/.well-known/jwks.json", jwks),
    Route("/badges/keys/{kid:str}", key),
    Route("/badges/issuers/{slug:str}", issuer),
    Route("/badges/achievements/{achievement_id:str}", achievement),
    Route("/badges/achievements/{achievement_id:str}/image.png", achievement_image),
    Route("/badges/status/{slug:str}/{number:int}", status_list),
    Route("/badges/{award_id:str}/credential", credential_json),
    Route("/badges/{award_id:str}/credential.jwt", credential_jwt),
    Route("/badges/{award_id:str}/baked.{kind:str}", baked),
    Route("/badges/{award_id:str}/clr", learner_record),
    Route("/badges/{award_id:str}/clr{kind:str}", learner_record),
]
