"""Coordinators author credentials: create one from a spec, edit it, set its badge image.

The structure (submission criteria) is fixed once an earner has started a submission, since
artifacts point at it; before that, editing replaces every part. A changed rubric after that
becomes a new version (reviews keep the version they were scored with).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access, evidence
from app.actions import catalog, stored_files
from app.actions.submissions import latest_rubric
from app.actions.transfer import spec_of
from app.errors import ActionError, not_found
from app.models import (
    Alignment,
    AuditEntry,
    Credential,
    Rubric,
    Stack,
    Submission,
    SubmissionCriterion,
    User,
)
from app.specs import CredentialSpec, StackSpec

# What the edit form may change on the credential row itself.
EDITABLE = (
    "slug",
    "title",
    "summary",
    "topic",
    "pd_hours",
    "validity_months",
    "competency",
    "key_method",
    "method_components",
    "research_resources",
)
BADGE_TYPES = {"image/png": "png", "image/jpeg": "jpg"}
MAX_BADGE_BYTES = 2 * 1024 * 1024


async def managed(session: AsyncSession, user: User, credential_id: uuid.UUID) -> Credential:
    """The credential, if this person coordinates its issuer; 404 otherwise (as if missing)."""
    credential = await session.get(Credential, credential_id)
    if credential is None or not await access.is_coordinator_of(
        session, user, credential.organisation_id
    ):
        raise not_found("That credential")
    return credential


async def author_credential(session: AsyncSession, user: User, spec: CredentialSpec) -> Credential:
    """A new credential of an organisation this person coordinates (404 for any other)."""
    organisation = await catalog.organisation_by_slug(session, spec.organisation)
    if organisation is None or not await access.is_coordinator_of(session, user, organisation.id):
        raise not_found("That organisation")
    return await catalog.create_credential(session, spec, actor=user)


async def author_stack(session: AsyncSession, user: User, spec: StackSpec) -> Stack:
    """A new stack of an organisation this person coordinates (404 for any other); its
    credentials are that organisation's, by slug, in order."""
    organisation = await catalog.organisation_by_slug(session, spec.organisation)
    if organisation is None or not await access.is_coordinator_of(session, user, organisation.id):
        raise not_found("That organisation")
    taken = await session.exec(
        select(Stack.id)
        .where(Stack.organisation_id == organisation.id)
        .where(Stack.slug == spec.slug)
    )
    if taken.first() is not None:
        raise ActionError("slug_taken", f"A stack '{spec.slug}' already exists.", 409)
    return await catalog.create_stack(session, spec, actor=user)


async def has_submissions(session: AsyncSession, credential_id: uuid.UUID) -> bool:
    found = await session.exec(
        select(Submission.id).where(Submission.credential_id == credential_id).limit(1)
    )
    return found.first() is not None


async def edit_credential(
    session: AsyncSession, user: User, credential_id: uuid.UUID, spec: CredentialSpec
) -> list[str]:
    """Apply the spec's authored parts (status and review policy are the settings form's);
    returns what changed. ActionError (nothing written) for a taken slug, another
    organisation, or changed criteria once earners have submissions."""
    credential = await managed(session, user, credential_id)
    await session.refresh(credential, with_for_update=True)
    before = await spec_of(session, credential)
    if spec.organisation != before.organisation:
        raise ActionError("organisation_fixed", "A credential cannot move to another issuer.", 422)
    if spec.slug != credential.slug:
        taken = await session.exec(
            select(Credential.id)
            .where(Credential.organisation_id == credential.organisation_id)
            .where(Credential.slug == spec.slug)
        )
        if taken.first() is not None:
            raise ActionError("slug_taken", f"A credential '{spec.slug}' already exists.", 409)
    changed = [field for field in EDITABLE if getattr(before, field) != getattr(spec, field)]
    locked = await has_submissions(session, credential.id)
    criteria_changed = before.submission_criteria != spec.submission_criteria
    if criteria_changed and locked:
        raise ActionError(
            "criteria_locked",
            "Earners have already started submissions against these submission criteria, so "
            "they can no longer change; retire this credential and author a new one instead.",
            409,
        )
    rubric_changed = before.rubric != spec.rubric
    if before.alignments != spec.alignments:
        changed.append("alignments")
        await session.execute(
            delete(Alignment).where(col(Alignment.credential_id) == credential.id)
        )
        for alignment in spec.alignments:
            session.add(Alignment(credential_id=credential.id, **alignment.model_dump()))
    if criteria_changed:
        changed.append("submission_criteria")
        await session.execute(
            delete(SubmissionCriterion).where(
                col(SubmissionCriterion.credential_id) == credential.id
            )
        )
        await session.flush()
        for position, criterion in enumerate(spec.submission_criteria):
            session.add(
                SubmissionCriterion(
                    credential_id=credential.id, position=position, **criterion.model_dump()
                )
            )
    if rubric_changed:
        changed.append("rubric")
        current = await latest_rubric(session, credential.id)
        version = current.version + 1 if current else 1
        if not locked:
            # Nothing was ever scored against it: replace rather than pile up versions.
            await session.execute(delete(Rubric).where(col(Rubric.credential_id) == credential.id))
            await session.flush()
            version = 1
        if spec.rubric is not None:
            await catalog.add_rubric_version(session, credential, spec.rubric, version=version)
    if not changed:
        return []
    for field in EDITABLE:
        setattr(credential, field, getattr(spec, field))
    credential.updated_at = datetime.now(UTC)
    session.add(credential)
    session.add(
        AuditEntry(
            actor_id=user.id,
            action="credential.edited",
            subject_type="credential",
            subject_id=str(credential.id),
            data={"changed": changed},
        )
    )
    await session.commit()
    return changed


async def set_badge_image(
    session: AsyncSession, user: User, credential_id: uuid.UUID, stored: evidence.StoredFile
) -> str:
    """Use an uploaded PNG or JPEG (that really opens) as the credential's badge image;
    returns its URL. ActionError bad_image (nothing changed) otherwise."""
    credential = await managed(session, user, credential_id)
    if stored.media_type not in BADGE_TYPES:
        raise ActionError("bad_image", "The badge image must be a PNG or JPEG picture.", 422)
    problem = await evidence.check_stored_async(
        stored.path, sha256=stored.sha256, size=stored.size, media_type=stored.media_type
    )
    if problem:
        raise ActionError("bad_image", f"The badge image cannot be used: {problem}.", 422)
    await stored_files.hold_file(session, stored)  # no refused upload removes it meanwhile
    url = f"/credential-images/{stored.sha256}.{BADGE_TYPES[stored.media_type]}"
    credential.badge_image = url
    credential.updated_at = datetime.now(UTC)
    session.add(credential)
    session.add(
        AuditEntry(
            actor_id=user.id,
            action="credential.badge_image",
            subject_type="credential",
            subject_id=str(credential.id),
            data={"sha256": stored.sha256, "media_type": stored.media_type},
        )
    )
    await session.commit()
    return url
