"""The demo's catalogue quality (issue 18): earners' ratings with an issuer's answer, one
panel-certified credential, and the state's recognition list. Idempotent: each piece is
added only when missing. Demo data, so ratings skip the "finished it" rule the app enforces."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import panels
from app.actions import catalog
from app.demo import content
from app.models import (
    Credential,
    CredentialPanel,
    CredentialRating,
    PanelMember,
    PanelScore,
    Recognition,
    User,
)


async def _user(session: AsyncSession, email: str) -> User:
    return (await session.exec(select(User).where(func.lower(User.email) == email))).one()


async def _credential(session: AsyncSession, slug: str) -> Credential:
    return (await session.exec(select(Credential).where(Credential.slug == slug))).one()


async def load(session: AsyncSession) -> None:
    now = datetime.now(UTC)
    for raw in content.RATINGS:
        credential = await _credential(session, raw["credential"])
        earner = await _user(session, raw["earner"])
        exists = await session.exec(
            select(CredentialRating.id)
            .where(CredentialRating.credential_id == credential.id)
            .where(CredentialRating.earner_id == earner.id)
        )
        if exists.first() is not None:
            continue
        clarity, relevance, workload, feedback = raw["stars"]
        answer = raw.get("answer")
        session.add(
            CredentialRating(
                credential_id=credential.id,
                earner_id=earner.id,
                clarity=clarity,
                relevance=relevance,
                workload=workload,
                feedback=feedback,
                text=raw["text"],
                answer=answer,
                answered_at=now if answer else None,
            )
        )
    for raw in content.PANELS:
        credential = await _credential(session, raw["credential"])
        if (
            await session.exec(
                select(CredentialPanel.id).where(CredentialPanel.credential_id == credential.id)
            )
        ).first() is not None:
            continue
        organisation = await catalog.organisation_by_slug(session, raw["organisation"])
        assert organisation is not None
        panel = CredentialPanel(
            credential_id=credential.id,
            organisation_id=organisation.id,
            name=raw["name"],
            quality_rubric_version=panels.QUALITY_RUBRIC_VERSION,
            convened_by_id=(await _user(session, raw["convened_by"])).id,
        )
        session.add(panel)
        await session.flush()
        scores = []
        for email, levels in raw["scores"].items():
            member = await _user(session, email)
            session.add(PanelMember(panel_id=panel.id, user_id=member.id, submitted_at=now))
            for component, level in zip(panels.COMPONENT_KEYS, levels, strict=True):
                score = PanelScore(
                    panel_id=panel.id, user_id=member.id, component=component, level=level
                )
                session.add(score)
                scores.append(score)
        result = panels.results(scores, {s.user_id for s in scores})
        panel.decided_at = now
        panel.passed = panels.passes(result)
        panel.alpha = result.alpha
        panel.fingerprint = await panels.fingerprint(session, credential.id)
        session.add(panel)
    for raw in content.RECOGNITIONS:
        organisation = await catalog.organisation_by_slug(session, raw["organisation"])
        assert organisation is not None
        credential = await _credential(session, raw["credential"])
        exists = await session.exec(
            select(Recognition.id)
            .where(Recognition.organisation_id == organisation.id)
            .where(col(Recognition.credential_id) == credential.id)
        )
        if exists.first() is not None:
            continue
        session.add(
            Recognition(
                organisation_id=organisation.id,
                credential_id=credential.id,
                credit_type=raw["credit_type"],
                amount=Decimal(raw["amount"]),
                effective_from=date.fromisoformat(raw["effective_from"]),
                effective_to=(
                    date.fromisoformat(raw["effective_to"]) if raw.get("effective_to") else None
                ),
                note=raw["note"],
            )
        )
    await session.commit()
