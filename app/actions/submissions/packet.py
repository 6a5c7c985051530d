"""A packet being put together: start it, attach (or replace) artifacts, set its privacy,
and the lookups the rest of the flow shares (latest version and rubric, pilot spots)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import evidence
from app.actions import stored_files
from app.actions.pilots import spots_taken
from app.errors import ActionError, not_found
from app.models import (
    Artifact,
    ArtifactKind,
    AuditEntry,
    Credential,
    CredentialStatus,
    Privacy,
    Rubric,
    Submission,
    SubmissionCriterion,
    SubmissionState,
    SubmissionVersion,
    User,
)
from app.runtime import Runtime

EDITABLE = (SubmissionState.draft, SubmissionState.returned)
log = logging.getLogger(__name__)


async def latest_version(session: AsyncSession, submission_id: uuid.UUID) -> SubmissionVersion:
    version = (
        await session.exec(
            select(SubmissionVersion)
            .where(SubmissionVersion.submission_id == submission_id)
            .order_by(col(SubmissionVersion.number).desc())
        )
    ).first()
    assert version is not None, "a submission always has a version"
    return version


async def latest_rubric(session: AsyncSession, credential_id: uuid.UUID) -> Rubric | None:
    return (
        await session.exec(
            select(Rubric)
            .where(Rubric.credential_id == credential_id)
            .order_by(col(Rubric.version).desc())
        )
    ).first()


async def _require_open_for_earners(session: AsyncSession, credential: Credential) -> None:
    if credential.status == CredentialStatus.published:
        return
    if credential.status == CredentialStatus.pilot:
        if await spots_taken(session, credential.id) < (credential.pilot_spots or 0):
            return
        raise ActionError(
            "pilot_full",
            f"The pilot of {credential.title} has no spots left; join its waitlist to be told "
            "when one frees up.",
            409,
        )
    raise not_found("That credential")


async def start_submission(
    session: AsyncSession, earner: User, credential_id: uuid.UUID, privacy: str = Privacy.reviewers
) -> Submission:
    credential = await session.get(Credential, credential_id)
    if credential is None:
        raise not_found("That credential")
    await _require_open_for_earners(session, credential)
    if privacy not in Privacy.__members__.values():
        raise ActionError("bad_privacy", "Privacy is one of: reviewers, organisation, public.")
    rubric = await latest_rubric(session, credential.id)
    if rubric is None:
        raise not_found("That credential")
    live = await session.exec(
        select(Submission.id)
        .where(Submission.earner_id == earner.id)
        .where(Submission.credential_id == credential.id)
        .where(Submission.state != SubmissionState.withdrawn)
    )
    if live.first() is not None:
        raise ActionError(
            "already_started", f"You already have a submission for {credential.title}.", 409
        )
    submission = Submission(credential_id=credential.id, earner_id=earner.id, privacy=privacy)
    session.add(submission)
    await session.flush()
    session.add(SubmissionVersion(submission_id=submission.id, number=1, rubric_id=rubric.id))
    await session.commit()
    return submission


async def editable_packet(
    session: AsyncSession, earner: User, submission_id: uuid.UUID
) -> tuple[Submission, SubmissionVersion]:
    submission = await session.get(Submission, submission_id, with_for_update=True)
    if submission is None or submission.earner_id != earner.id:
        raise not_found("That submission")
    if submission.state not in EDITABLE:
        raise ActionError(
            "not_editable", "This packet is with reviewers now and cannot be changed.", 409
        )
    return submission, await latest_version(session, submission.id)


async def criterion_of(
    session: AsyncSession, submission: Submission, criterion_id: uuid.UUID
) -> SubmissionCriterion:
    criterion = await session.get(SubmissionCriterion, criterion_id)
    if criterion is None or criterion.credential_id != submission.credential_id:
        raise ActionError(
            "unknown_criterion", "That submission criterion is not part of this credential.", 422
        )
    return criterion


async def attach_artifact(
    session: AsyncSession,
    earner: User,
    submission_id: uuid.UUID,
    criterion_id: uuid.UUID,
    *,
    stored: evidence.StoredFile | None = None,
    url: str | None = None,
    body: str | None = None,
) -> Artifact:
    """Attach (or replace) the artifact for one criterion of the packet being prepared. A
    replaced file leaves the evidence store once no other row refers to its bytes."""
    submission, version = await editable_packet(session, earner, submission_id)
    criterion = await criterion_of(session, submission, criterion_id)
    artifact = Artifact(version_id=version.id, criterion_id=criterion.id, kind=criterion.kind)
    if criterion.kind == ArtifactKind.link:
        artifact.url = evidence.validate_link(url or "")
    elif criterion.kind == ArtifactKind.reflection:
        artifact.body = evidence.validate_reflection(body or "")
    else:
        if stored is None:
            raise ActionError("file_required", f"'{criterion.title}' needs a file.", 422)
        evidence.check_type(
            stored.media_type,
            kind=criterion.kind,
            accepted=criterion.accepted_types,
            filename=stored.filename,
            criterion=criterion.title,
        )
        if criterion.max_bytes is not None and stored.size > criterion.max_bytes:
            raise ActionError(
                "too_large",
                f"'{criterion.title}' accepts files up to {criterion.max_bytes} bytes.",
                413,
            )
        artifact.filename = stored.filename
        artifact.media_type = stored.media_type
        artifact.sha256 = stored.sha256
        artifact.size_bytes = stored.size
        await stored_files.hold_file(session, stored)
    replaced = (
        await session.exec(
            text(  # type: ignore[call-overload]
                "DELETE FROM artifacts WHERE version_id = :v AND criterion_id = :c RETURNING sha256"
            ),
            params={"v": version.id, "c": criterion.id},
        )
    ).scalar_one_or_none()
    session.add(artifact)
    submission.updated_at = datetime.now(UTC)
    session.add(submission)
    await session.commit()
    if stored is not None and replaced is not None and replaced != stored.sha256:
        # A file criterion only ever holds files, all in the store `stored` was put in. The
        # new artifact is committed: failing to delete the old file only leaves it on disk.
        try:
            await stored_files.forget_file(session, stored.path.parents[1], replaced)
        except (OSError, SQLAlchemyError) as exc:
            log.warning("replaced evidence file %s not removed: %r", replaced, exc)
    return artifact


async def set_privacy(
    session: AsyncSession, earner: User, submission_id: uuid.UUID, privacy: str
) -> Submission:
    """Who may see the earner's evidence (and name on the badge page): reviewers only, the
    issuing organisation, or the public. The earner's own packets only, in any state."""
    if privacy not in Privacy.__members__.values():
        raise ActionError("bad_privacy", "Privacy is one of: reviewers, organisation, public.", 422)
    submission = await session.get(Submission, submission_id, with_for_update=True)
    if submission is None or submission.earner_id != earner.id:
        raise not_found("That submission")
    if submission.privacy != privacy:
        session.add(
            AuditEntry(
                actor_id=earner.id,
                action="submission.privacy",
                subject_type="submission",
                subject_id=str(submission.id),
                data={"from": submission.privacy, "to": privacy},
            )
        )
        submission.privacy = privacy
        submission.updated_at = datetime.now(UTC)
        session.add(submission)
    await session.commit()
    return submission


async def discard_unreferenced(runtime: Runtime, stored: evidence.StoredFile) -> None:
    """A refused upload leaves nothing behind, unless another row holds the same bytes."""
    async with runtime.sessions() as session:
        await stored_files.forget_file(session, runtime.settings.uploads_dir, stored.sha256)
