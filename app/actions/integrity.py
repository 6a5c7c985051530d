"""Honest evidence: after a packet enters review, its files are compared by content hash and
its reflections by word shingles (MinHash) with other earners' submitted evidence. A match is
a flag with its evidence for the issuer's coordinators, never a verdict: flags do not change a
submission's state. A coordinator clears the flag or confirms misconduct, and the decision is
audited; revoking a badge for misconduct goes through the badge's own revocation path."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
from datasketch import MinHash
from sqlalchemy import Select, and_, or_, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access, events
from app.actions.coaching import coordinators_of
from app.errors import ActionError
from app.models import (
    Artifact,
    ArtifactKind,
    AuditEntry,
    Credential,
    EvidenceFlag,
    FlagKind,
    FlagState,
    Role,
    Submission,
    SubmissionVersion,
    User,
)
from app.runtime import Runtime

SHINGLE_WORDS = 5
NUM_PERM = 128
# Estimated Jaccard similarity of the 5-word shingle sets at which reflections are flagged:
# independent writing on one prompt shares almost no 5-word runs; a lightly edited copy
# shares most of them.
THRESHOLD = 0.4
MAX_PASSAGES = 5
# Signatures are stored (artifacts.minhash), so the hashing is named rather than left to
# datasketch's default: a later default must not make old and new signatures incomparable.
SCHEME = "affine32"
SIGNATURE_DTYPE = np.dtype("<u4")
SIGNATURE_BYTES = NUM_PERM * SIGNATURE_DTYPE.itemsize
# Missing signatures (every reflection, on the first scans after migration 0015) are made this
# many at a time in a thread, so that the worker's event loop serves its other jobs meanwhile.
SIGNATURE_BATCH = 200
_WORD = re.compile(r"\w+(?:['’]\w+)*")


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def shingles(words: list[str], k: int = SHINGLE_WORDS) -> list[str]:
    if len(words) < k:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + k]) for i in range(len(words) - k + 1)]


def minhash(items: list[str]) -> MinHash:
    sketch = MinHash(num_perm=NUM_PERM, seed=10, scheme=SCHEME)
    sketch.update_batch([item.encode("utf-8") for item in set(items)])
    return sketch


def signature(text: str) -> bytes:
    """The text's shingles' MinHash as stored: NUM_PERM hash values, little-endian; empty bytes
    for a text without words (it resembles nothing)."""
    items = shingles(words_of(text))
    if not items:
        return b""
    return minhash(items).hashvalues.astype(SIGNATURE_DTYPE).tobytes()


def similarities(mine: bytes, theirs: Sequence[bytes]) -> np.ndarray:
    """Estimated Jaccard similarity of `mine` with each of `theirs`: the share of equal hash
    values (as MinHash.jaccard), all compared at once; 0.0 where either text has no words."""
    scores = np.zeros(len(theirs))
    rows = [i for i, other in enumerate(theirs) if other]
    if not mine or not rows:
        return scores
    matrix = np.frombuffer(b"".join(theirs[i] for i in rows), dtype=SIGNATURE_DTYPE)
    equal = matrix.reshape(len(rows), NUM_PERM) == np.frombuffer(mine, dtype=SIGNATURE_DTYPE)
    scores[rows] = equal.mean(axis=1)
    return scores


@dataclass(frozen=True)
class Similarity:
    score: float
    passages: list[str]


def compare(text: str, other: str) -> Similarity:
    """MinHash-estimated similarity, and the passages of `text` (as written) whose shingles
    `other` shares (consecutive shared shingles merged; the longest first)."""
    mine, theirs = signature(text), signature(other)
    if not mine or not theirs:
        return Similarity(0.0, [])
    return Similarity(float(similarities(mine, [theirs])[0]), passages(text, other))


def passages(text: str, other: str) -> list[str]:
    """The passages of `text` (as written) whose shingles `other` shares, the longest first."""
    spans = list(_WORD.finditer(text))
    mine = shingles([m.group().lower() for m in spans])
    shared = set(mine) & set(shingles(words_of(other)))
    runs: list[tuple[int, int]] = []
    for i, shingle in enumerate(mine):
        if shingle not in shared:
            continue
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    runs.sort(key=lambda run: run[0] - run[1])
    last = len(spans) - 1
    return [
        text[spans[start].start() : spans[min(end + SHINGLE_WORDS - 1, last)].end()]
        for start, end in runs[:MAX_PASSAGES]
    ]


# Run once per row, in artifact id order (see _signatures): two scans storing the same rows
# take their row locks in the same order, so neither waits on the other in a cycle.
STORE_SIGNATURE = text("UPDATE artifacts SET minhash = :minhash WHERE id = :id")

_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


def _of_other_earners(query: _Query, submission: Submission) -> _Query:
    """`query` over artifacts, narrowed to other earners' submitted versions."""
    return (
        query.join(SubmissionVersion, col(SubmissionVersion.id) == col(Artifact.version_id))
        .join(Submission, col(Submission.id) == col(SubmissionVersion.submission_id))
        .where(col(Submission.earner_id) != submission.earner_id)
        .where(col(SubmissionVersion.submitted_at).is_not(None))
    )


async def _others(session: AsyncSession, submission: Submission, condition: Any) -> list[Any]:
    """Other earners' submitted artifacts matching `condition`: (artifact, submission) rows."""
    rows = await session.exec(
        _of_other_earners(select(Artifact, Submission), submission).where(condition)
    )
    return list(rows.all())


async def _bodies(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.exec(
        select(col(Artifact.id), col(Artifact.body)).where(col(Artifact.id).in_(ids))
    )
    return {artifact_id: body or "" for artifact_id, body in rows.all()}


def _signed(texts: list[str]) -> list[bytes]:
    return [signature(body) for body in texts]


async def _signatures(
    session: AsyncSession, stored: dict[uuid.UUID, bytes | None]
) -> dict[uuid.UUID, bytes]:
    """The artifacts' signatures: those stored, and the missing ones (or of another size) made
    from their texts a batch at a time in a thread, and stored in the session's transaction."""
    signatures = {
        artifact_id: sig
        for artifact_id, sig in stored.items()
        if sig is not None and len(sig) in (0, SIGNATURE_BYTES)
    }
    missing = sorted(stored.keys() - signatures.keys())
    for start in range(0, len(missing), SIGNATURE_BATCH):
        batch = missing[start : start + SIGNATURE_BATCH]
        bodies = await _bodies(session, batch)
        made = await asyncio.to_thread(_signed, [bodies.get(i, "") for i in batch])
        await session.execute(
            STORE_SIGNATURE,
            [{"id": i, "minhash": sig} for i, sig in zip(batch, made, strict=True)],
        )
        signatures.update(zip(batch, made, strict=True))
    return signatures


async def _similar_reflections(
    session: AsyncSession,
    credential: Credential,
    submission: Submission,
    reflections: list[Artifact],
) -> list[dict[str, Any]]:
    """Flags for this packet's reflections that resemble another earner's on the credential:
    the stored signatures are compared all at once; only the close ones' texts are read."""
    others = (
        await session.exec(
            _of_other_earners(
                select(col(Artifact.id), col(Artifact.minhash), col(Submission.id)).select_from(
                    Artifact
                ),
                submission,
            )
            .where(col(Artifact.kind) == ArtifactKind.reflection)
            .where(col(Submission.credential_id) == submission.credential_id)
        )
    ).all()
    signatures = await _signatures(
        session,
        {artifact.id: artifact.minhash for artifact in reflections}
        | {other_id: sig for other_id, sig, _ in others},
    )
    theirs = [signatures[other_id] for other_id, _, _ in others]
    found: list[dict[str, Any]] = []
    for artifact in reflections:
        scores = similarities(signatures[artifact.id], theirs)
        close = [int(i) for i in np.flatnonzero(scores >= THRESHOLD)]
        bodies = await _bodies(session, [others[i][0] for i in close])
        for i in close:
            other_id, _, other_submission_id = others[i]
            shared = passages(artifact.body or "", bodies.get(other_id, ""))
            if not shared:
                continue
            found.append(
                _flag(
                    FlagKind.similar_reflection,
                    credential,
                    submission,
                    artifact,
                    other_id,
                    other_submission_id,
                )
                | {"similarity": round(float(scores[i]), 3), "evidence": {"passages": shared}}
            )
    return found


async def scan_version(runtime: Runtime, version_id: uuid.UUID) -> list[EvidenceFlag]:
    """Flag this submitted version's artifacts that match another earner's. Idempotent: a
    pair of packets is flagged once per kind, whatever their versions."""
    async with runtime.sessions() as session:
        version = await session.get(SubmissionVersion, version_id)
        if version is None or version.submitted_at is None:
            return []
        submission = await session.get(Submission, version.submission_id)
        assert submission is not None
        credential = await session.get(Credential, submission.credential_id)
        assert credential is not None
        artifacts = (
            await session.exec(select(Artifact).where(Artifact.version_id == version.id))
        ).all()
        found: list[dict[str, Any]] = []
        for artifact in artifacts:
            if artifact.sha256:
                for other, other_submission in await _others(
                    session, submission, col(Artifact.sha256) == artifact.sha256
                ):
                    found.append(
                        _flag(
                            FlagKind.same_file,
                            credential,
                            submission,
                            artifact,
                            other.id,
                            other_submission.id,
                        )
                        | {
                            "similarity": 1.0,
                            "evidence": {
                                "sha256": artifact.sha256,
                                "filename": artifact.filename,
                                "other_filename": other.filename,
                            },
                        }
                    )
        reflections = [
            artifact
            for artifact in artifacts
            if not artifact.sha256 and artifact.kind == ArtifactKind.reflection and artifact.body
        ]
        if reflections:
            found += await _similar_reflections(session, credential, submission, reflections)
        made: list[uuid.UUID] = []
        if found:
            # Scans of two packets of a pair may run at once (the worker's job, a rescan): one
            # at a time per credential, so the second sees the first's flag and adds none.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"integrity:{credential.id}"},
            )
        for row in found:
            seen = await session.exec(
                select(EvidenceFlag.id)
                .where(EvidenceFlag.kind == row["kind"])
                .where(
                    or_(
                        and_(
                            col(EvidenceFlag.submission_id) == row["submission_id"],
                            col(EvidenceFlag.other_submission_id) == row["other_submission_id"],
                        ),
                        and_(
                            col(EvidenceFlag.submission_id) == row["other_submission_id"],
                            col(EvidenceFlag.other_submission_id) == row["submission_id"],
                        ),
                    )
                )
            )
            if seen.first() is not None:
                continue
            inserted = await session.exec(
                insert(EvidenceFlag)  # type: ignore[call-overload]
                .values(id=uuid.uuid4(), state=FlagState.open, note="", **row)
                .on_conflict_do_nothing()
                .returning(EvidenceFlag.id)
            )
            flag_id = inserted.scalar()
            if flag_id is not None:
                made.append(flag_id)
        await session.commit()
        flags = [f for f in [await session.get(EvidenceFlag, i) for i in made] if f is not None]
        coordinators = await coordinators_of(session, credential.organisation_id) if flags else []
    for user_id in coordinators:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            user_id,
            "integrity.flagged",
            {"credential": credential.title, "flags": [str(f.id) for f in flags]},
        )
    return flags


def _flag(
    kind: FlagKind,
    credential: Credential,
    submission: Submission,
    artifact: Artifact,
    other_artifact_id: uuid.UUID,
    other_submission_id: uuid.UUID,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "organisation_id": credential.organisation_id,
        "submission_id": submission.id,
        "artifact_id": artifact.id,
        "other_artifact_id": other_artifact_id,
        "other_submission_id": other_submission_id,
        "created_at": datetime.now(UTC),
    }


async def open_flags(session: AsyncSession, coordinator: User) -> list[EvidenceFlag]:
    """Undecided flags in the organisations this person coordinates, oldest first."""
    orgs = [
        org for org, role in await access.roles_of(session, coordinator) if role == Role.coordinator
    ]
    rows = await session.exec(
        select(EvidenceFlag)
        .where(col(EvidenceFlag.organisation_id).in_(orgs))
        .where(EvidenceFlag.state == FlagState.open)
        .order_by(col(EvidenceFlag.created_at))
    )
    return list(rows.all())


async def decide_flag(
    runtime: Runtime, coordinator: User, flag_id: uuid.UUID, decision: str, note: str
) -> EvidenceFlag:
    """Clear the flag, or confirm misconduct (with a reason); audited either way."""
    if decision not in (FlagState.cleared, FlagState.misconduct):
        raise ActionError("bad_decision", "Decide 'cleared' or 'misconduct'.", 422)
    text = note.strip()
    if len(text) > 4000:
        raise ActionError("too_long", "Keep the note under 4,000 characters.", 422)
    if decision == FlagState.misconduct and len(text) < 10:
        raise ActionError(
            "reason_required", "Say why this is misconduct (at least 10 characters).", 422
        )
    async with runtime.sessions() as session:
        flag = await access.access_flag(session, coordinator, flag_id)
        if flag.state != FlagState.open:
            raise ActionError("already_decided", "This flag has already been decided.", 409)
        flag.state = decision
        flag.decided_at = datetime.now(UTC)
        flag.decided_by = coordinator.id
        flag.note = text
        session.add(flag)
        session.add(
            AuditEntry(
                actor_id=coordinator.id,
                action=f"evidence_flag.{decision}",
                subject_type="evidence_flag",
                subject_id=str(flag.id),
                data={
                    "kind": flag.kind,
                    "submission_id": str(flag.submission_id),
                    "other_submission_id": str(flag.other_submission_id),
                    "note": text,
                },
            )
        )
        await session.commit()
    return flag
