"""Resumable upload sessions: a phone sends one file in chunks and, after a dropped connection,
asks how far it got and continues from there.

A session lives in `uploads_dir/sessions/<owner id>/` as `<id>.json` (what is uploaded, for
which criterion; written once, then once more with the result) and `<id>.part` (the bytes so
far: its size *is* the offset). The owner's id is part of the path, so another person's
session simply does not exist for them (404). Every chunk must start at the current offset,
else 409 with the offset. Bytes that arrived before a connection dropped are kept (fsynced),
which is what makes resuming work.

Chunks are written at their position (pwrite) rather than appended under a lock: a request
stalled on a half-open phone connection may still be writing when the phone retries, and
both write the same bytes of the same file at the same places. Finishing is made exclusive by
renaming `.part` to `.assembling` (atomic; the loser is told the upload is being completed).

Expiry: a session untouched for EXPIRY (a day) is deleted when it is next looked up, and
opening any session sweeps the expired ones (`sweep_expired`, also fit for a cron job).
Completed sessions keep only their small result, until they expire, so a client whose last
response was lost can still learn what became of its file. No database access here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import anyio.to_thread

from app.errors import ActionError, not_found
from app.evidence import clean_filename

EXPIRY = timedelta(days=1)
CHUNK_BYTES = 1024 * 1024  # what clients are told to send per request
MAX_OPEN_PER_OWNER = 20  # unfinished sessions per person: bounds what one account can park on disk
_WRITE_BUFFER = 1024 * 1024  # bytes gathered before one disk write
_ID = re.compile(r"[0-9a-f]{32}")


class WrongOffset(ActionError):
    """A chunk that does not start where the bytes so far end (409); `offset` says where."""

    def __init__(self, offset: int) -> None:
        super().__init__(
            "wrong_offset", f"The upload is at byte {offset}; continue from there.", 409
        )
        self.offset = offset


@dataclass(frozen=True)
class UploadSession:
    """One file on its way in, for one criterion of one packet."""

    id: str
    owner_id: uuid.UUID
    submission_id: uuid.UUID
    criterion_id: uuid.UUID
    filename: str  # a display label, from clean_filename()
    size: int  # announced at creation; the upload completes at exactly this many bytes
    folder: Path
    result: dict[str, Any] | None = None  # the attached artifact, once complete

    @property
    def meta_path(self) -> Path:
        return self.folder / f"{self.id}.json"

    @property
    def part_path(self) -> Path:
        return self.folder / f"{self.id}.part"

    @property
    def assembling_path(self) -> Path:
        return self.folder / f"{self.id}.assembling"


def sessions_dir(uploads_dir: Path) -> Path:
    return uploads_dir / "sessions"


async def create(
    uploads_dir: Path,
    *,
    owner_id: uuid.UUID,
    submission_id: uuid.UUID,
    criterion_id: uuid.UUID,
    filename: str,
    size: int,
) -> UploadSession:
    """A new, empty session. ActionError too_many_uploads (429) past MAX_OPEN_PER_OWNER.
    The caller has checked the person, the packet, the criterion and the size."""
    session = UploadSession(
        id=secrets.token_hex(16),
        owner_id=owner_id,
        submission_id=submission_id,
        criterion_id=criterion_id,
        filename=clean_filename(filename),
        size=size,
        folder=sessions_dir(uploads_dir) / str(owner_id),
    )
    return await anyio.to_thread.run_sync(_create, uploads_dir, session)


def _create(uploads_dir: Path, session: UploadSession) -> UploadSession:
    sweep_expired(uploads_dir)
    session.folder.mkdir(parents=True, exist_ok=True)
    # Count and create under a lock on the owner's folder: parallel opens (threads, or other
    # web processes on this disk) would otherwise each count one short of the limit and all
    # open (seen under load: 21 of 25 opened against a limit of 20).
    folder = os.open(session.folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        if len(list(session.folder.glob("*.part"))) >= MAX_OPEN_PER_OWNER:
            raise ActionError(
                "too_many_uploads",
                "You have too many unfinished uploads; finish or cancel some first.",
                429,
            )
        session.part_path.touch(exist_ok=False)
    finally:
        os.close(folder)  # and with it the lock
    _write_meta(session)
    return session


def _write_meta(session: UploadSession) -> None:
    data = asdict(session)
    data.pop("folder")
    data.update(
        owner_id=str(session.owner_id),
        submission_id=str(session.submission_id),
        criterion_id=str(session.criterion_id),
    )
    tmp = session.meta_path.with_suffix(".json-new")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, session.meta_path)  # readers see the old or the new meta, never half


async def load(uploads_dir: Path, owner_id: uuid.UUID, upload_id: str) -> UploadSession:
    """The owner's live session; ActionError not_found (404) for a bad id, someone else's
    session, an expired one (deleted here) or none at all."""
    return await anyio.to_thread.run_sync(_load, uploads_dir, owner_id, upload_id)


def _load(uploads_dir: Path, owner_id: uuid.UUID, upload_id: str) -> UploadSession:
    if not _ID.fullmatch(upload_id):
        raise not_found("That upload")
    folder = sessions_dir(uploads_dir) / str(owner_id)
    try:
        data = json.loads((folder / f"{upload_id}.json").read_text())
        session = UploadSession(
            id=upload_id,
            owner_id=uuid.UUID(data["owner_id"]),
            submission_id=uuid.UUID(data["submission_id"]),
            criterion_id=uuid.UUID(data["criterion_id"]),
            filename=str(data["filename"]),
            size=int(data["size"]),
            folder=folder,
            result=data.get("result"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        raise not_found("That upload") from None
    if _expired(session, time.time()):
        _remove(session)
        raise not_found("That upload")
    return session


def _last_touched(session: UploadSession) -> float:
    times = []
    for path in (session.meta_path, session.part_path, session.assembling_path):
        with contextlib.suppress(FileNotFoundError):
            times.append(path.stat().st_mtime)
    return max(times, default=0.0)


def _expired(session: UploadSession, now: float) -> bool:
    return now - _last_touched(session) > EXPIRY.total_seconds()


def _remove(session: UploadSession) -> None:
    for path in (session.part_path, session.assembling_path, session.meta_path):
        path.unlink(missing_ok=True)


def offset(session: UploadSession) -> int:
    """How many bytes have arrived (the full size once assembling or complete)."""
    if session.result is not None:
        return session.size
    try:
        return session.part_path.stat().st_size
    except FileNotFoundError:
        return session.size if session.assembling_path.exists() else 0


def status(session: UploadSession) -> dict[str, Any]:
    """The session as JSON for the client: where to continue, and the result once done."""
    return {
        "id": session.id,
        "url": f"/uploads/{session.id}",
        "submission_id": str(session.submission_id),
        "criterion_id": str(session.criterion_id),
        "filename": session.filename,
        "size": session.size,
        "offset": offset(session),
        "chunk_size": CHUNK_BYTES,
        "complete": session.result is not None,
        "artifact": session.result,
    }


async def append(session: UploadSession, start: int, chunks: AsyncIterator[bytes]) -> int:
    """Write `chunks` at byte `start`, which must be the current offset (else WrongOffset);
    returns the new offset. Bytes past the announced size are refused (413) and not written.
    Whatever arrived before the stream broke (a dropped connection) stays, on disk for good."""
    current = offset(session)
    if session.result is not None or start != current:
        raise WrongOffset(current)
    try:
        fd = os.open(session.part_path, os.O_WRONLY)  # not O_APPEND: pwrite needs positions
    except FileNotFoundError:
        raise WrongOffset(offset(session)) from None  # being assembled meanwhile
    position = start
    pending = bytearray()
    try:
        async for chunk in chunks:
            room = session.size - position - len(pending)
            pending += chunk[: max(room, 0)]
            if len(chunk) > room:
                raise ActionError(
                    "too_large",
                    f"'{session.filename}' is larger than the {session.size} bytes announced.",
                    413,
                )
            if len(pending) >= _WRITE_BUFFER:
                await anyio.to_thread.run_sync(os.pwrite, fd, bytes(pending), position)
                position += len(pending)
                pending.clear()
    finally:
        # Also on a broken stream or a refusal: the bytes that did arrive are good ones.
        await anyio.to_thread.run_sync(_flush, fd, bytes(pending), position)
    return offset(session)


def _flush(fd: int, data: bytes, position: int) -> None:
    try:
        if data:
            os.pwrite(fd, data, position)
        os.fsync(fd)  # the offset we report must survive a crash
    finally:
        os.close(fd)


@contextlib.asynccontextmanager
async def assembling(session: UploadSession) -> AsyncIterator[Path]:
    """Claim the complete bytes for assembly: yields their path. On ActionError (a refused
    file) the whole session is deleted; on other errors the bytes go back, to be finished by
    a later (empty) chunk. ActionError finishing (409) if another request got there first."""
    try:
        await anyio.to_thread.run_sync(os.rename, session.part_path, session.assembling_path)
    except FileNotFoundError:
        raise ActionError(
            "finishing", "This upload is already being completed; ask for its status.", 409
        ) from None
    try:
        yield session.assembling_path
    except ActionError:
        await anyio.to_thread.run_sync(_remove, session)
        raise
    except BaseException:
        # Not awaited: a cancelled task may not get to await anything more.
        with contextlib.suppress(OSError):
            os.rename(session.assembling_path, session.part_path)
        raise


async def read_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file's bytes in CHUNK_BYTES pieces, read in a worker thread."""
    f = await anyio.to_thread.run_sync(_open_binary, path)
    try:
        while chunk := await anyio.to_thread.run_sync(f.read, CHUNK_BYTES):
            yield chunk
    finally:
        f.close()


def _open_binary(path: Path) -> BinaryIO:
    return path.open("rb")


async def complete(session: UploadSession, result: dict[str, Any]) -> UploadSession:
    """Record the result and drop the bytes (the evidence store holds them now)."""
    done = replace(session, result=result)

    def _finish() -> None:
        _write_meta(done)
        done.assembling_path.unlink(missing_ok=True)

    await anyio.to_thread.run_sync(_finish)
    return done


async def discard(session: UploadSession) -> None:
    """Cancel: delete the session and its bytes."""
    await anyio.to_thread.run_sync(_remove, session)


def sweep_expired(uploads_dir: Path, now: float | None = None) -> int:
    """Delete every session (and stray part file) untouched for EXPIRY; returns how many.
    Blocking: call from a thread or a worker job."""
    now = time.time() if now is None else now
    removed = 0
    for path in _session_files(sessions_dir(uploads_dir)):
        with contextlib.suppress(FileNotFoundError):
            if now - path.stat().st_mtime <= EXPIRY.total_seconds():
                continue
            stem = path.name.split(".")[0]
            siblings = [path.with_name(stem + suffix) for suffix in (".json", ".part")]
            siblings.append(path.with_name(stem + ".assembling"))
            if any(
                s.exists() and now - s.stat().st_mtime <= EXPIRY.total_seconds() for s in siblings
            ):
                continue  # another file of the session was touched recently
            path.unlink()
            removed += path.suffix == ".json"
    return removed


def _session_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if folder.is_dir():
            yield from (p for p in folder.iterdir() if p.is_file())
