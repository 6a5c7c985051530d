"""Catalogue writes: organisations, credentials (with criteria, rubric, alignments), stacks."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.badges import keys
from app.errors import ActionError
from app.models import (
    Alignment,
    AuditEntry,
    Credential,
    Organisation,
    Rubric,
    RubricCriterion,
    RubricLevel,
    Stack,
    StackItem,
    SubmissionCriterion,
    User,
)
from app.specs import CredentialSpec, OrganisationSpec, RubricSpec, StackSpec


async def criteria_of(session: AsyncSession, credential_id: uuid.UUID) -> list[SubmissionCriterion]:
    """A credential's submission criteria, in the order the issuer set."""
    rows = await session.exec(
        select(SubmissionCriterion)
        .where(SubmissionCriterion.credential_id == credential_id)
        .order_by(col(SubmissionCriterion.position))
    )
    return list(rows.all())


async def rubric_scale(
    session: AsyncSession, rubric_id: uuid.UUID | None
) -> list[tuple[RubricCriterion, list[RubricLevel]]]:
    """A rubric version's criteria, each with its levels, both in the issuer's order."""
    if rubric_id is None:
        return []
    criteria = (
        await session.exec(
            select(RubricCriterion)
            .where(RubricCriterion.rubric_id == rubric_id)
            .order_by(col(RubricCriterion.position))
        )
    ).all()
    levels = (
        await session.exec(
            select(RubricLevel)
            .where(col(RubricLevel.criterion_id).in_([c.id for c in criteria]))
            .order_by(col(RubricLevel.position))
        )
    ).all()
    return [(c, [lv for lv in levels if lv.criterion_id == c.id]) for c in criteria]


async def organisation_by_slug(session: AsyncSession, slug: str) -> Organisation | None:
    return (await session.exec(select(Organisation).where(Organisation.slug == slug))).first()


async def ensure_organisation(
    session: AsyncSession, spec: OrganisationSpec, *, secret_key: str
) -> Organisation:
    """The organisation with this slug, created from the spec if it does not exist yet, with
    its signing keys in the same transaction (published before it issues anything)."""
    existing = await organisation_by_slug(session, spec.slug)
    if existing is not None:
        return existing
    organisation = Organisation(**spec.model_dump())
    session.add(organisation)
    await session.flush()
    session.add_all(keys.new_keys(secret_key, organisation.id))
    session.add(
        AuditEntry(
            action="organisation.created",
            subject_type="organisation",
            subject_id=str(organisation.id),
        )
    )
    await session.commit()
    return organisation


async def add_rubric_version(
    session: AsyncSession, credential: Credential, rubric_spec: RubricSpec, *, version: int = 1
) -> Rubric:
    rubric = Rubric(
        credential_id=credential.id,
        version=version,
        min_level=rubric_spec.min_level,
        min_points=rubric_spec.min_points,
    )
    session.add(rubric)
    await session.flush()
    for position, criterion_spec in enumerate(rubric_spec.criteria):
        criterion = RubricCriterion(
            rubric_id=rubric.id,
            position=position,
            title=criterion_spec.title,
            description=criterion_spec.description,
        )
        session.add(criterion)
        await session.flush()
        for level_position, level in enumerate(criterion_spec.levels):
            session.add(
                RubricLevel(
                    criterion_id=criterion.id, position=level_position, **level.model_dump()
                )
            )
    return rubric


async def create_credential(
    session: AsyncSession, spec: CredentialSpec, *, actor: User | None = None, commit: bool = True
) -> Credential:
    """A credential with all its parts, in one transaction (the caller's, when not `commit`)."""
    organisation = await organisation_by_slug(session, spec.organisation)
    if organisation is None:
        raise ActionError("unknown_organisation", f"No organisation '{spec.organisation}'.", 422)
    taken = await session.exec(
        select(Credential.id)
        .where(Credential.organisation_id == organisation.id)
        .where(Credential.slug == spec.slug)
    )
    if taken.first() is not None:
        raise ActionError("slug_taken", f"A credential '{spec.slug}' already exists.", 409)
    fields = spec.model_dump(
        exclude={"organisation", "alignments", "submission_criteria", "rubric"}
    )
    credential = Credential(organisation_id=organisation.id, **fields)
    session.add(credential)
    await session.flush()
    for alignment in spec.alignments:
        session.add(Alignment(credential_id=credential.id, **alignment.model_dump()))
    for position, criterion in enumerate(spec.submission_criteria):
        session.add(
            SubmissionCriterion(
                credential_id=credential.id, position=position, **criterion.model_dump()
            )
        )
    if spec.rubric is not None:
        await add_rubric_version(session, credential, spec.rubric)
    session.add(
        AuditEntry(
            actor_id=actor.id if actor else None,
            action="credential.created",
            subject_type="credential",
            subject_id=str(credential.id),
        )
    )
    if commit:
        await session.commit()
    else:
        await session.flush()
    return credential


async def create_stack(
    session: AsyncSession, spec: StackSpec, *, actor: User | None = None, commit: bool = True
) -> Stack:
    organisation = await organisation_by_slug(session, spec.organisation)
    if organisation is None:
        raise ActionError("unknown_organisation", f"No organisation '{spec.organisation}'.", 422)
    stack = Stack(
        organisation_id=organisation.id,
        slug=spec.slug,
        title=spec.title,
        description=spec.description,
    )
    session.add(stack)
    await session.flush()
    for position, slug in enumerate(spec.credentials):
        credential = (
            await session.exec(
                select(Credential)
                .where(Credential.organisation_id == organisation.id)
                .where(Credential.slug == slug)
            )
        ).first()
        if credential is None:
            raise ActionError("unknown_credential", f"No credential '{slug}' for the stack.", 422)
        session.add(StackItem(stack_id=stack.id, credential_id=credential.id, position=position))
    session.add(
        AuditEntry(
            actor_id=actor.id if actor else None,
            action="stack.created",
            subject_type="stack",
            subject_id=str(stack.id),
        )
    )
    if commit:
        await session.commit()
    else:
        await session.flush()
    return stack


async def revise_rubric(
    session: AsyncSession, credential: Credential, spec: RubricSpec, *, actor: User | None = None
) -> Rubric:
    """A new rubric version; reviews already written keep the version they were scored with."""
    current = (
        await session.exec(
            select(Rubric)
            .where(Rubric.credential_id == credential.id)
            .order_by(col(Rubric.version).desc())
        )
    ).first()
    rubric = await add_rubric_version(
        session, credential, spec, version=(current.version + 1) if current else 1
    )
    session.add(
        AuditEntry(
            actor_id=actor.id if actor else None,
            action="rubric.revised",
            subject_type="credential",
            subject_id=str(credential.id),
            data={"version": rubric.version},
        )
    )
    await session.commit()
    return rubric
