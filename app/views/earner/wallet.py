"""The wallet: my badges (credentials and stacks, revoked ones marked) with share actions, and
the privacy of the evidence behind each one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from app.actions import submissions
from app.errors import ActionError
from app.models import Award, Credential, Organisation, Outcome, Stack, Submission, User
from app.templating import templates
from app.views import form_fields
from app.views.apikit import caller, path_id
from app.views.earner.packet import PRIVACY_CHOICES, day
from app.views.earner.packets import render_packet
from app.views.earner.responses import see_other

LINKEDIN_ADD = "https://www.linkedin.com/profile/add"


@dataclass(frozen=True)
class WalletBadge:
    award_id: uuid.UUID
    title: str
    kind: str  # "Credential" or "Stack"
    organisation: str
    issued: str
    expires: str
    revoked: bool
    revocation_reason: str | None
    url: str  # the public badge page, absolute: this is what gets shared
    linkedin: str
    download_name: str
    submission_id: uuid.UUID | None  # stack badges have no packet, hence no privacy
    privacy: str | None


def linkedin_url(
    title: str, organisation: str, issued: datetime, expires: datetime | None, url: str, cert: str
) -> str:
    """LinkedIn's "add to profile" link, the certification form filled in."""
    fields: dict[str, str | int] = {
        "startTask": "CERTIFICATION_NAME",
        "name": title,
        "organizationName": organisation,
        "issueYear": issued.year,
        "issueMonth": issued.month,
    }
    if expires is not None:
        fields.update(expirationYear=expires.year, expirationMonth=expires.month)
    fields.update(certUrl=url, certId=cert)
    return f"{LINKEDIN_ADD}?{urlencode(fields)}"


async def my_badges(session: AsyncSession, earner: User, base_url: str) -> list[WalletBadge]:
    """Every award of this earner, newest first, revoked ones included (and marked)."""
    awards = (
        await session.exec(
            select(Award)
            .where(Award.user_id == earner.id)
            .order_by(col(Award.issued_at).desc(), col(Award.id))
        )
    ).all()
    credential_ids = {a.credential_id for a in awards if a.credential_id}
    stack_ids = {a.stack_id for a in awards if a.stack_id}
    credentials = {
        c.id: c
        for c in (
            await session.exec(select(Credential).where(col(Credential.id).in_(credential_ids)))
        ).all()
    }
    stacks = {
        s.id: s
        for s in (await session.exec(select(Stack).where(col(Stack.id).in_(stack_ids)))).all()
    }
    organisations = {
        o.id: o
        for o in (
            await session.exec(
                select(Organisation).where(
                    col(Organisation.id).in_(
                        {c.organisation_id for c in credentials.values()}
                        | {s.organisation_id for s in stacks.values()}
                    )
                )
            )
        ).all()
    }
    packets: dict[uuid.UUID, Submission] = dict(
        (
            await session.exec(
                select(Outcome.id, Submission)
                .join(Submission, col(Submission.id) == col(Outcome.submission_id))
                .where(col(Outcome.id).in_({a.outcome_id for a in awards if a.outcome_id}))
            )
        ).all()
    )
    out = []
    for award in awards:
        achievement: Credential | Stack | None = (
            credentials.get(award.credential_id) if award.credential_id else None
        ) or (stacks.get(award.stack_id) if award.stack_id else None)
        assert achievement is not None
        organisation = organisations[achievement.organisation_id].name
        url = f"{base_url}/badges/{award.id}"
        packet = packets.get(award.outcome_id) if award.outcome_id else None
        out.append(
            WalletBadge(
                award_id=award.id,
                title=achievement.title,
                kind="Credential" if award.credential_id else "Stack",
                organisation=organisation,
                issued=day(award.issued_at),
                expires=day(award.expires_at),
                revoked=award.revoked_at is not None,
                revocation_reason=award.revocation_reason,
                url=url,
                linkedin=linkedin_url(
                    achievement.title,
                    organisation,
                    award.issued_at,
                    award.expires_at,
                    url,
                    str(award.id),
                ),
                download_name=f"{achievement.slug}-badge.png",
                submission_id=packet.id if packet else None,
                privacy=packet.privacy if packet else None,
            )
        )
    return out


async def render_wallet(request: Request, error: ActionError | None = None) -> Response:
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        badges = await my_badges(session, user, runtime.settings.base_url)
    return templates.TemplateResponse(
        request,
        "earner/wallet.html",
        {
            "badges": badges,
            "privacy_choices": PRIVACY_CHOICES,
            "error": error.detail if error else None,
        },
        status_code=error.status if error else 200,
    )


async def wallet(request: Request) -> Response:
    """GET /wallet: my badges, how to share them, and who may see the evidence."""
    return await render_wallet(request)


async def privacy(request: Request) -> Response:
    """POST /submissions/{id}/privacy (fields `privacy`, `return_to` = wallet | packet)."""
    runtime, user = await caller(request)
    submission_id = path_id(request, "submission_id")
    form = await form_fields(request)
    to_wallet = form.get("return_to") == "wallet"
    try:
        async with runtime.sessions() as session:
            await submissions.set_privacy(session, user, submission_id, form.get("privacy", ""))
    except ActionError as error:
        if error.status == 404:
            raise
        if to_wallet:
            return await render_wallet(request, error)
        return await render_packet(request, submission_id, error=error)
    return see_other("/wallet" if to_wallet else f"/submissions/{submission_id}")
