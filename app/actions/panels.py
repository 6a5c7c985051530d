"""Credential review panels: a coordinator convenes certified experts of their organisation to
review a credential's design against MCX's quality rubric; each panellist scores alone (no
one sees another's scores before the decision); when the last one submits, or a coordinator
closes the panel with at least two scored, the medians decide and a pass certifies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access, events, panels
from app.errors import ActionError, not_found
from app.models import (
    AuditEntry,
    Credential,
    CredentialPanel,
    Membership,
    Organisation,
    PanelMember,
    PanelScore,
    Role,
    User,
)
from app.runtime import Runtime

MIN_PANELLISTS = 2
MAX_PANELLISTS = 9


@dataclass(frozen=True)
class Score:
    component: str
    level: int
    comment: str = ""


async def access_panel(
    session: AsyncSession, user: User, panel_id: uuid.UUID
) -> tuple[CredentialPanel, bool]:
    """The panel and whether this person is one of its panellists; coordinators of the
    convening or the issuing organisation see it too. Anyone else: 404."""
    panel = await session.get(CredentialPanel, panel_id)
    if panel is None:
        raise not_found("That panel")
    member = (
        await session.exec(
            select(PanelMember.id)
            .where(PanelMember.panel_id == panel.id)
            .where(PanelMember.user_id == user.id)
        )
    ).first()
    if member is not None:
        return panel, True
    credential = await session.get(Credential, panel.credential_id)
    assert credential is not None
    for organisation_id in (panel.organisation_id, credential.organisation_id):
        if await access.is_coordinator_of(session, user, organisation_id):
            return panel, False
    raise not_found("That panel")


async def convene(
    runtime: Runtime,
    coordinator: User,
    credential_id: uuid.UUID,
    name: str,
    panellist_emails: list[str],
    organisation_slug: str | None = None,
) -> CredentialPanel:
    """A coordinator's organisation convenes experts (holding the expert role there) to
    review a pilot or published credential; the issuer's own coordinators may not sit."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 200:
        raise ActionError("bad_name", "Name the panel (up to 200 characters).", 422)
    emails = sorted({e.strip().lower() for e in panellist_emails if e.strip()})
    if not MIN_PANELLISTS <= len(emails) <= MAX_PANELLISTS:
        raise ActionError(
            "bad_panel",
            f"A panel has {MIN_PANELLISTS} to {MAX_PANELLISTS} panellists, one email each.",
            422,
        )
    async with runtime.sessions() as session:
        credential = await session.get(Credential, credential_id)
        if credential is None or credential.status == "draft":
            raise not_found("That credential")
        organisations = (
            await session.exec(
                select(Organisation)
                .join(Membership, col(Membership.organisation_id) == col(Organisation.id))
                .where(Membership.user_id == coordinator.id)
                .where(Membership.role == Role.coordinator)
                .where(col(Membership.suspended_at).is_(None))
                .order_by(col(Organisation.slug))
            )
        ).all()
        if organisation_slug:
            organisations = [o for o in organisations if o.slug == organisation_slug]
        if not organisations:
            raise not_found("That organisation")
        # Default: the issuer, when this coordinator coordinates it.
        convening = next(
            (o for o in organisations if o.id == credential.organisation_id), organisations[0]
        )
        experts = (
            await session.exec(
                select(User)
                .join(Membership, col(Membership.user_id) == col(User.id))
                .where(func.lower(User.email).in_(emails))
                .where(Membership.organisation_id == convening.id)
                .where(Membership.role == Role.expert)
                .where(col(Membership.suspended_at).is_(None))
                .distinct()
            )
        ).all()
        found = {u.email.lower() for u in experts}
        missing = [e for e in emails if e not in found]
        if missing:
            raise ActionError(
                "not_an_expert",
                f"Not a certified expert of {convening.name}: {', '.join(missing)}.",
                422,
            )
        for expert in experts:
            if await access.is_coordinator_of(session, expert, credential.organisation_id):
                raise ActionError(
                    "conflict_of_interest",
                    f"{expert.email} coordinates the issuer and cannot sit on its panel.",
                    422,
                )
        panel = CredentialPanel(
            credential_id=credential.id,
            organisation_id=convening.id,
            name=name,
            quality_rubric_version=panels.QUALITY_RUBRIC_VERSION,
            convened_by_id=coordinator.id,
        )
        session.add(panel)
        await session.flush()
        for expert in experts:
            session.add(PanelMember(panel_id=panel.id, user_id=expert.id))
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action="panel.convened",
                subject_type="credential",
                subject_id=str(credential.id),
                data={"panel": str(panel.id), "panellists": emails},
            )
        )
        await session.commit()
        await session.refresh(panel)
        members = [u.id for u in experts]
    for user_id in members:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            user_id,
            "panel.invited",
            {"panel_id": str(panel.id), "credential": credential.title, "panel": panel.name},
        )
    return panel


def _validate(scores: list[Score], final: bool) -> None:
    seen = set()
    for score in scores:
        if score.component not in panels.COMPONENT_KEYS:
            raise ActionError("bad_component", f"{score.component}: not a rubric component.", 422)
        if score.component in seen:
            raise ActionError("bad_component", f"{score.component}: scored twice.", 422)
        seen.add(score.component)
        if not 0 <= score.level < len(panels.LEVELS):
            raise ActionError("bad_level", f"{score.component}: level 0 to 3.", 422)
        if len(score.comment) > 2000:
            raise ActionError("too_long", f"{score.component}: comment too long.", 422)
    if final and seen != set(panels.COMPONENT_KEYS):
        missing = [k for k in panels.COMPONENT_KEYS if k not in seen]
        raise ActionError("incomplete", f"Score every component: {', '.join(missing)}.", 422)


async def score(
    runtime: Runtime, panellist: User, panel_id: uuid.UUID, scores: list[Score], *, final: bool
) -> CredentialPanel:
    """Save (or, with `final`, submit) this panellist's own scores; submitted is final.
    The last panellist to submit decides the panel."""
    _validate(scores, final)
    async with runtime.sessions() as session:
        panel = await session.get(CredentialPanel, panel_id, with_for_update=True)
        member = (
            await session.exec(
                select(PanelMember)
                .where(PanelMember.panel_id == panel_id)
                .where(PanelMember.user_id == panellist.id)
                .with_for_update()
            )
        ).first()
        if panel is None or member is None:
            raise not_found("That panel")
        if panel.decided_at is not None or member.submitted_at is not None:
            raise ActionError("already_submitted", "Your scores are already in.", 409)
        existing = {
            s.component: s
            for s in (
                await session.exec(
                    select(PanelScore)
                    .where(PanelScore.panel_id == panel.id)
                    .where(PanelScore.user_id == panellist.id)
                )
            ).all()
        }
        for given in scores:
            row = existing.get(given.component) or PanelScore(
                panel_id=panel.id, user_id=panellist.id, component=given.component, level=0
            )
            row.level = given.level
            row.comment = given.comment.strip()
            session.add(row)
        if final:
            member.submitted_at = datetime.now(UTC)
            session.add(member)
            await session.flush()
            pending = (
                await session.exec(
                    select(func.count())
                    .select_from(PanelMember)
                    .where(PanelMember.panel_id == panel.id)
                    .where(col(PanelMember.submitted_at).is_(None))
                )
            ).one()
            if pending == 0:
                await _decide(session, panel, panellist)
        await session.commit()
        await session.refresh(panel)
    return panel


async def close(runtime: Runtime, coordinator: User, panel_id: uuid.UUID) -> CredentialPanel:
    """A coordinator of the convening organisation decides on the scores submitted so far
    (at least two); panellists who did not submit are left out."""
    async with runtime.sessions() as session:
        panel = await session.get(CredentialPanel, panel_id, with_for_update=True)
        if panel is None or not await access.is_coordinator_of(
            session, coordinator, panel.organisation_id
        ):
            raise not_found("That panel")
        if panel.decided_at is not None:
            raise ActionError("already_decided", "This panel has decided.", 409)
        await _decide(session, panel, coordinator)
        await session.commit()
        await session.refresh(panel)
    return panel


async def _decide(session: AsyncSession, panel: CredentialPanel, actor: User) -> None:
    members = (
        await session.exec(select(PanelMember).where(PanelMember.panel_id == panel.id))
    ).all()
    submitted = {m.user_id for m in members if m.submitted_at is not None}
    if len(submitted) < MIN_PANELLISTS:
        raise ActionError(
            "too_few_scores",
            f"At least {MIN_PANELLISTS} panellists must submit before the panel decides.",
            409,
        )
    scores = (await session.exec(select(PanelScore).where(PanelScore.panel_id == panel.id))).all()
    result = panels.results(list(scores), submitted)
    panel.decided_at = datetime.now(UTC)
    panel.passed = panels.passes(result)
    panel.alpha = result.alpha
    panel.fingerprint = await panels.fingerprint(session, panel.credential_id)
    session.add(panel)
    session.add(
        AuditEntry(
            actor_id=actor.id,
            action="panel.certified" if panel.passed else "panel.not_certified",
            subject_type="credential",
            subject_id=str(panel.credential_id),
            data={"panel": str(panel.id), "alpha": result.alpha, "medians": result.medians},
        )
    )
