"""A packet's lifecycle: submit, the worker's evidence check, take back, withdraw, resubmit.

Submitting puts the packet in `checking`; the worker's evidence check then opens the review
tasks the credential's policy asks for (or returns the packet with the reason).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from redis.exceptions import RedisError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import events, evidence, queue
from app.actions import media, pilots
from app.actions.submissions.packet import (
    _require_open_for_earners,
    editable_packet,
    latest_rubric,
    latest_version,
)
from app.actions.submissions.selfcheck import packet_problems
from app.errors import ActionError, not_found
from app.models import (
    Artifact,
    AuditEntry,
    Credential,
    Pool,
    ReviewTask,
    Stakes,
    Submission,
    SubmissionState,
    SubmissionVersion,
    User,
)
from app.runtime import Runtime

log = logging.getLogger(__name__)


async def submit_evidence(runtime: Runtime, earner: User, submission_id: uuid.UUID) -> Submission:
    """Hand the packet in: every required criterion answered, within size, a pilot spot held."""
    async with runtime.sessions() as session:
        submission, version = await editable_packet(session, earner, submission_id)
        credential = await session.get(Credential, submission.credential_id, with_for_update=True)
        assert credential is not None
        artifacts = (
            await session.exec(select(Artifact).where(Artifact.version_id == version.id))
        ).all()
        checklist = await packet_problems(session, submission, version.id)
        missing = [i.title for i in checklist.items if i.required and not i.present]
        if missing:
            raise ActionError(
                "missing_artifact",
                "Add the required evidence first: " + "; ".join(f"'{m}'" for m in missing) + ".",
                422,
            )
        if not checklist.ready:
            raise ActionError(
                "self_check", "Fix these first: " + "; ".join(checklist.blocking) + ".", 422
            )
        total = sum(artifact.size_bytes or 0 for artifact in artifacts)
        if total > runtime.settings.upload_max_submission_bytes:
            raise ActionError("too_large", "The packet is larger than the submission limit.", 413)
        if submission.state == SubmissionState.draft and version.number == 1:
            await _require_open_for_earners(session, credential)
        submission.state = SubmissionState.checking
        submission.updated_at = version.submitted_at = datetime.now(UTC)
        version.check_error = None
        session.add_all([submission, version])
        session.add(
            AuditEntry(
                actor_id=earner.id,
                action="submission.submitted",
                subject_type="submission",
                subject_id=str(submission.id),
                data={"version": version.number},
            )
        )
        await session.commit()
    try:
        await runtime.arq.enqueue_job(
            "check_evidence", str(version.id), _job_id=f"check:{version.id}"
        )
    except RedisError as exc:
        # Handed in all the same (PostgreSQL says 'checking'); the worker's queue rebuild
        # enqueues the check of every packet still waiting for one.
        log.warning("could not enqueue the check of version %s: %s", version.id, exc)
    await events.notify(
        runtime.engine,
        runtime.redis,
        runtime.settings,
        earner.id,
        "submission.checking",
        {"submission_id": str(submission.id), "credential": credential.title},
    )
    return submission


async def check_evidence(runtime: Runtime, version_id: uuid.UUID) -> str:
    """The worker's check before a packet enters the queue; idempotent. Returns the new state."""
    async with runtime.sessions() as session:
        version = await session.get(SubmissionVersion, version_id)
        if version is None:
            return "missing"
        submission = await session.get(Submission, version.submission_id, with_for_update=True)
        assert submission is not None
        if submission.state != SubmissionState.checking:
            return submission.state
        latest = await latest_version(session, submission.id)
        if latest.id != version.id:
            return submission.state
        credential = await session.get(Credential, submission.credential_id)
        assert credential is not None
        artifacts = (
            await session.exec(select(Artifact).where(Artifact.version_id == version.id))
        ).all()
        problems = []
        for artifact in artifacts:
            if artifact.sha256 is None:
                continue
            problem = await evidence.check_stored_async(
                evidence.path_for(runtime.settings.uploads_dir, artifact.sha256),
                sha256=artifact.sha256,
                size=artifact.size_bytes or 0,
                media_type=artifact.media_type,
            )
            if problem:
                problems.append(f"{artifact.filename or 'a file'}: {problem}")
        if problems:
            submission.state = SubmissionState.returned
            version.check_error = " ".join(problems)
            session.add_all([submission, version])
            await session.commit()
            await events.notify(
                runtime.engine,
                runtime.redis,
                runtime.settings,
                submission.earner_id,
                "submission.returned",
                {"submission_id": str(submission.id), "reason": version.check_error},
            )
            return submission.state
        opened = _tasks_for_policy(credential, submission, version)
        session.add_all(opened)
        submission.state = SubmissionState.in_review
        session.add(submission)
        await session.commit()
    for task in opened:
        await queue.announce_open(runtime, task, submission, credential, "task.opened")
    # Renditions for the reviewers' phones (usually already made while the earner drafted).
    await media.request_for_version(runtime, version.id)
    # Honest evidence runs apart: its flags inform coordinators and never hold the packet up.
    await runtime.arq.enqueue_job("scan_evidence", str(version.id), _job_id=f"scan:{version.id}")
    await events.notify(
        runtime.engine,
        runtime.redis,
        runtime.settings,
        submission.earner_id,
        "submission.queued",
        {"submission_id": str(submission.id), "credential": credential.title},
    )
    return submission.state


def _tasks_for_policy(
    credential: Credential, submission: Submission, version: SubmissionVersion
) -> list[ReviewTask]:
    """Low stakes: N peer tasks; high stakes: the expert tasks."""
    if credential.stakes == Stakes.high:
        pool, count = Pool.expert, credential.expert_reviews
    else:
        pool, count = Pool.peer, credential.peer_reviews
    return [
        ReviewTask(submission_id=submission.id, version_id=version.id, pool=pool)
        for _ in range(count)
    ]


async def _cancel_unclaimed(
    runtime: Runtime, earner: User, submission_id: uuid.UUID, new_state: SubmissionState
) -> Submission:
    """Withdraw, or take back for editing: only until the first claim."""
    async with runtime.sessions() as session:
        submission = await session.get(Submission, submission_id, with_for_update=True)
        if submission is None or submission.earner_id != earner.id:
            raise not_found("That submission")
        allowed = {
            SubmissionState.draft,
            SubmissionState.checking,
            SubmissionState.returned,
            SubmissionState.in_review,
        }
        if new_state == SubmissionState.withdrawn:
            allowed.add(SubmissionState.not_yet)
        if submission.state not in allowed:
            raise ActionError("too_late", "This packet can no longer be changed.", 409)
        version = await latest_version(session, submission.id)
        # Any claim, even one released since, means a reviewer has seen the evidence. A decided
        # "not yet" has been seen and has nothing left to cancel: giving up is always allowed.
        touched = (
            None
            if submission.state == SubmissionState.not_yet
            else (
                await session.exec(
                    select(ReviewTask.id)
                    .where(ReviewTask.version_id == version.id)
                    .where(col(ReviewTask.lease_version) > 0)
                )
            ).first()
        )
        if touched is not None:
            raise ActionError(
                "already_claimed",
                "A reviewer has already picked this packet up; it can no longer be changed.",
                409,
            )
        cancelled = await queue.cancel_open(session, version.id)
        submission.state = new_state
        submission.updated_at = datetime.now(UTC)
        session.add(submission)
        session.add(
            AuditEntry(
                actor_id=earner.id,
                action=f"submission.{new_state.value}",
                subject_type="submission",
                subject_id=str(submission.id),
            )
        )
        await session.commit()
        credential_id = submission.credential_id
    await queue.announce_cancelled(runtime, credential_id, cancelled)
    # A packet that held a pilot spot gave it back: the next in line hears of it.
    await pilots.offer_free_spots(runtime, credential_id)
    return submission


async def withdraw_submission(
    runtime: Runtime, earner: User, submission_id: uuid.UUID
) -> Submission:
    return await _cancel_unclaimed(runtime, earner, submission_id, SubmissionState.withdrawn)


async def edit_submission(runtime: Runtime, earner: User, submission_id: uuid.UUID) -> Submission:
    """Back to draft (until the first claim), to change the packet and submit again."""
    return await _cancel_unclaimed(runtime, earner, submission_id, SubmissionState.draft)


async def resubmit(
    session: AsyncSession, earner: User, submission_id: uuid.UUID
) -> SubmissionVersion:
    """After "not yet": a new version, starting from the previous artifacts; history is kept."""
    submission = await session.get(Submission, submission_id, with_for_update=True)
    if submission is None or submission.earner_id != earner.id:
        raise not_found("That submission")
    if submission.state != SubmissionState.not_yet:
        raise ActionError("not_revisable", "Only a 'not yet' result can be revised.", 409)
    previous = await latest_version(session, submission.id)
    credential = await session.get(Credential, submission.credential_id)
    assert credential is not None
    if previous.number >= credential.max_attempts:
        raise ActionError(
            "attempts_used",
            f"All {credential.max_attempts} attempts at {credential.title} are used; "
            "ask for a coaching conversation instead.",
            409,
        )
    rubric = await latest_rubric(session, submission.credential_id)
    assert rubric is not None
    version = SubmissionVersion(
        submission_id=submission.id, number=previous.number + 1, rubric_id=rubric.id
    )
    session.add(version)
    await session.flush()
    for old in (
        await session.exec(select(Artifact).where(Artifact.version_id == previous.id))
    ).all():
        session.add(
            Artifact(
                version_id=version.id,
                criterion_id=old.criterion_id,
                kind=old.kind,
                filename=old.filename,
                media_type=old.media_type,
                sha256=old.sha256,
                size_bytes=old.size_bytes,
                url=old.url,
                body=old.body,
            )
        )
    submission.state = SubmissionState.draft
    submission.updated_at = datetime.now(UTC)
    session.add(submission)
    await session.commit()
    return version
