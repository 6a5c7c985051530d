"""Preparing classroom video and audio: ask for it once per stored file, and the worker's job
that probes, transcodes and measures it (app.media), telling the earner as it goes.

A file is prepared once, by its sha256, however many artifacts hold it. The earner's page
reads the progress from PostgreSQL (MediaFile.progress, updated about once a second) and
hears "media.ready" / "media.failed" as notifications when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
from redis.exceptions import RedisError
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from app import events, evidence
from app.errors import ActionError, not_found
from app.media import observations, renditions
from app.media.probe import MAX_SECONDS, MediaError, Probe, probe
from app.models import (
    Artifact,
    ArtifactKind,
    AuditEntry,
    MediaFile,
    MediaState,
    Submission,
    SubmissionCriterion,
    SubmissionVersion,
)
from app.runtime import Runtime

log = logging.getLogger(__name__)
MEDIA_KINDS = (ArtifactKind.video, ArtifactKind.audio)
PROGRESS_EVERY = 1.0  # seconds between progress writes
MARGIN = 5.0  # seconds the job keeps, under its timeout, to record how it ended


def media_dir(uploads_dir: Path, sha256: str) -> Path:
    """Where a file's rendition, poster and thumbnails live."""
    evidence.path_for(uploads_dir, sha256)  # the same validation of the hash
    return uploads_dir / "media" / sha256


async def request_media(runtime: Runtime, artifacts: Iterable[Artifact]) -> list[str]:
    """Make sure each video or audio artifact's file is prepared or on its way: a
    `pending` row, then the job (deduplicated by file). Returns the hashes enqueued."""
    wanted = {a.sha256: a.kind for a in artifacts if a.kind in MEDIA_KINDS and a.sha256 is not None}
    if not wanted:
        return []
    async with runtime.sessions() as session:
        for sha, kind in wanted.items():
            await session.exec(
                insert(MediaFile)
                .values(
                    sha256=sha,
                    kind=kind,
                    state=MediaState.pending,
                    progress=0,
                    probe={},
                    measures={},
                    poster=False,
                    thumbnails=0,
                    created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing()
            )
        await session.commit()
        waiting = (
            await session.exec(
                select(MediaFile.sha256)
                .where(col(MediaFile.sha256).in_(list(wanted)))
                .where(MediaFile.state == MediaState.pending)
            )
        ).all()
    enqueued = []
    for sha in waiting:
        try:
            # arq's job ids are global to the Redis: the prefix keeps MCXs sharing one apart.
            job_id = f"{runtime.settings.redis_prefix}media:{sha}"
            await runtime.arq.enqueue_job("prepare_media", sha, _job_id=job_id)
            enqueued.append(sha)
        except RedisError as exc:
            # Still `pending` in PostgreSQL: the evidence check asks again.
            log.warning("could not enqueue the preparation of %s: %s", sha, exc)
    return enqueued


async def request_for_version(runtime: Runtime, version_id: uuid.UUID) -> list[str]:
    async with runtime.sessions() as session:
        artifacts = (
            await session.exec(select(Artifact).where(Artifact.version_id == version_id))
        ).all()
    return await request_media(runtime, artifacts)


async def prepare_media(runtime: Runtime, sha256: str, slots: asyncio.Semaphore) -> str:
    """The worker's job: probe, transcode, measure one file; idempotent (a ready or failed
    file is left alone). Waits for one of the worker's transcode `slots`. Returns the state."""
    settings = runtime.settings
    async with runtime.sessions() as session:
        row = await session.get(MediaFile, sha256)
        if row is None or row.state in (MediaState.ready, MediaState.failed):
            return row.state if row else "missing"
        kind = row.kind
    started = time.monotonic()
    deadline = started + settings.media_job_timeout_seconds - MARGIN
    source = evidence.path_for(settings.uploads_dir, sha256)
    folder = media_dir(settings.uploads_dir, sha256)
    async with slots:
        await _update(runtime, sha256, state=MediaState.working, progress=0)
        cancelled = threading.Event()
        told = {"percent": 0}

        def progress(percent: int) -> None:  # from the transcoding thread
            # 100 % is "ready", which its own event says; while working, 99 at most.
            told["percent"] = min(percent, 99)

        holders = await _holders(runtime, sha256)

        async def report() -> None:
            last = -1
            while True:
                await asyncio.sleep(PROGRESS_EVERY)
                if told["percent"] != last:
                    last = told["percent"]
                    await _update(runtime, sha256, progress=last)
                    await _tell_progress(runtime, holders, last)

        reporter = asyncio.create_task(report())
        try:
            found = await anyio.to_thread.run_sync(lambda: probe(source, want=kind))
            made = await anyio.to_thread.run_sync(
                lambda: renditions.make(
                    source,
                    folder,
                    found,
                    deadline=deadline,
                    cancelled=cancelled,
                    progress=progress,
                    kind=kind,
                )
            )
        except MediaError as error:
            reporter.cancel()
            shutil.rmtree(folder, ignore_errors=True)
            await _update(runtime, sha256, state=MediaState.failed, error=str(error))
            await _tell_earners(runtime, sha256, "media.failed", str(error))
            return MediaState.failed
        except asyncio.CancelledError:
            # arq's timeout: the thread stops at its next packet; record why, then go.
            cancelled.set()
            reporter.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    _update(runtime, sha256, state=MediaState.failed, error="it ran out of time")
                )
            raise
        except OSError as error:
            reporter.cancel()
            await _update(runtime, sha256, state=MediaState.failed, error="the file is missing")
            log.warning("media %s: %s", sha256, error)
            return MediaState.failed
        except Exception:
            # Whatever else FFmpeg or Pillow raise: the earner hears a reason, never an
            # endless "Preparing"; the log keeps the details.
            reporter.cancel()
            log.exception("media %s could not be prepared", sha256)
            shutil.rmtree(folder, ignore_errors=True)
            reason = "the file could not be converted"
            await _update(runtime, sha256, state=MediaState.failed, error=reason)
            await _tell_earners(runtime, sha256, "media.failed", reason)
            return MediaState.failed
        reporter.cancel()
    await _update(
        runtime,
        sha256,
        state=MediaState.ready,
        progress=100,
        probe=found.json(),
        measures=made.measures,
        rendition=made.name,
        rendition_bytes=made.size,
        poster=made.poster,
        thumbnails=made.thumbnails,
        error=None,
    )
    log.info(
        "media %s ready: %.1f s of media in %.1f s",
        sha256[:12],
        found.duration,
        time.monotonic() - started,
    )
    await _tell_earners(runtime, sha256, "media.ready", None)
    return MediaState.ready


async def _update(runtime: Runtime, sha256: str, **values: object) -> None:
    async with runtime.sessions() as session:
        row = await session.get(MediaFile, sha256, with_for_update=True)
        if row is None:
            return
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = datetime.now(UTC)
        session.add(row)
        await session.commit()


async def _holders(runtime: Runtime, sha256: str) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """(artifact, submission, earner) for every artifact holding this file."""
    async with runtime.sessions() as session:
        rows = (
            await session.exec(
                select(Artifact.id, Submission.id, Submission.earner_id)
                .join(SubmissionVersion, col(SubmissionVersion.id) == col(Artifact.version_id))
                .join(Submission, col(Submission.id) == col(SubmissionVersion.submission_id))
                .where(Artifact.sha256 == sha256)
            )
        ).all()
    return [(a, s, e) for a, s, e in rows]


async def _tell_earners(runtime: Runtime, sha256: str, kind: str, reason: str | None) -> None:
    """Each earner holding this file in an artifact hears it once per artifact."""
    for artifact_id, submission_id, earner_id in await _holders(runtime, sha256):
        payload = {"submission_id": str(submission_id), "artifact_id": str(artifact_id)}
        if reason:
            payload["reason"] = reason
        settings = runtime.settings
        await events.notify(runtime.engine, runtime.redis, settings, earner_id, kind, payload)


async def _tell_progress(
    runtime: Runtime, holders: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]], percent: int
) -> None:
    """ "Preparing your video: 40 %", live on the earner's open pages: a transient event on
    the user channel, shaped like a notification the browser does not count or keep (no
    row: progress is not news worth a bell). PostgreSQL holds the same figure for pages
    that were not listening."""
    channel = events.user_channel(runtime.settings)
    for artifact_id, submission_id, earner_id in holders:
        message = {
            "type": "notification",
            "user_id": str(earner_id),
            "notification": {
                "id": None,
                "transient": True,
                "read": True,
                "kind": "media.progress",
                "payload": {
                    "submission_id": str(submission_id),
                    "artifact_id": str(artifact_id),
                    "progress": percent,
                },
                "created_at": datetime.now(UTC).isoformat(),
            },
        }
        try:
            await runtime.redis.publish(channel, json.dumps(message))
        except RedisError as exc:
            log.warning("could not publish media progress: %s", exc)
            return


def probe_of(row: MediaFile | None) -> Probe | None:
    return Probe.from_json(row.probe) if row is not None and row.probe else None


async def set_criterion_media(
    runtime: Runtime,
    criterion_id: uuid.UUID,
    *,
    min_seconds: int | None,
    max_seconds: int | None,
    observations_off: Iterable[str],
    actor_id: uuid.UUID,
) -> SubmissionCriterion:
    """A coordinator's length range and observation switches for one video or audio
    criterion (the caller has checked they coordinate its credential). Observations only
    inform: changing these never touches a submission, a review or an outcome."""
    off = sorted(set(observations_off))
    unknown = [key for key in off if key not in observations.KEYS]
    if unknown:
        raise ActionError("bad_observation", f"Unknown observation: {', '.join(unknown)}.", 422)
    for value in (min_seconds, max_seconds):
        if value is not None and not 0 <= value <= MAX_SECONDS:
            raise ActionError("bad_range", "A length is between 0 and 6 hours.", 422)
    if min_seconds is not None and max_seconds is not None and min_seconds > max_seconds:
        raise ActionError("bad_range", "The shortest length is longer than the longest.", 422)
    async with runtime.sessions() as session:
        criterion = await session.get(SubmissionCriterion, criterion_id, with_for_update=True)
        if criterion is None:
            raise not_found("That criterion")
        if criterion.kind not in MEDIA_KINDS:
            raise ActionError("not_media", "Only video and audio items have observations.", 422)
        before = {
            "min_seconds": criterion.min_seconds,
            "max_seconds": criterion.max_seconds,
            "observations_off": list(criterion.observations_off),
        }
        criterion.min_seconds, criterion.max_seconds = min_seconds, max_seconds
        criterion.observations_off = off
        session.add(criterion)
        session.add(
            AuditEntry(
                actor_id=actor_id,
                action="criterion.observations",
                subject_type="submission_criterion",
                subject_id=str(criterion.id),
                data={
                    "from": before,
                    "to": {
                        "min_seconds": min_seconds,
                        "max_seconds": max_seconds,
                        "observations_off": off,
                    },
                },
            )
        )
        await session.commit()
        await session.refresh(criterion)
    return criterion
