"""Files in the evidence store as the database sees them: a file (stored once by its sha256)
stays while any row refers to it, and goes when the last reference does.

Two transactions can race over one file: one drops the last reference (a replaced or refused
upload) while another adds a new one (the same bytes uploaded again, which the store keeps as
the one file). Both take the same PostgreSQL advisory lock, keyed by the sha256, for the rest
of their transaction: the remover checks for references and deletes the file under it; the
adder checks that the file is still there and commits its row under it. So a row never points
at a deleted file, and no unreferenced file is kept.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from app import evidence
from app.errors import ActionError

# The advisory lock of one stored file, held until the transaction ends.
# :key is the first 60 bits of the sha256 (a bigint; a collision only serialises two files).
LOCK_SQL = text("SELECT pg_advisory_xact_lock(:key)")

# Whether any row refers to the file: an artifact by its sha256, or a credential's or a
# stack's badge image by its URL (/credential-images/{sha}.{png|jpg}).
REFERENCED_SQL = text(
    """
    SELECT EXISTS (SELECT 1 FROM artifacts WHERE sha256 = :sha)
        OR EXISTS (SELECT 1 FROM credentials WHERE badge_image LIKE :image)
        OR EXISTS (SELECT 1 FROM stacks WHERE badge_image LIKE :image)
    """
)


def _key(sha256: str) -> int:
    return int(sha256[:15], 16)


async def hold_file(session: AsyncSession, stored: evidence.StoredFile) -> None:
    """Before a new row refers to `stored`: lock it for this transaction and make sure it is
    still on disk. ActionError file_gone (409) if it was removed meanwhile."""
    await session.exec(LOCK_SQL, params={"key": _key(stored.sha256)})  # type: ignore[call-overload]
    if not stored.path.is_file():
        raise ActionError(
            "file_gone",
            f"'{stored.filename}' was removed while it was being saved; send it again.",
            409,
        )


async def forget_file(session: AsyncSession, uploads_dir: Path, sha256: str) -> bool:
    """After the transaction that dropped a reference to the file committed: delete the file
    unless a row still refers to it. Commits; True if the file was deleted."""
    await session.exec(LOCK_SQL, params={"key": _key(sha256)})  # type: ignore[call-overload]
    referenced = (
        await session.exec(  # type: ignore[call-overload]
            REFERENCED_SQL, params={"sha": sha256, "image": f"/credential-images/{sha256}.%"}
        )
    ).scalar_one()
    removed = False
    if not referenced:
        path = evidence.path_for(uploads_dir, sha256)
        removed = path.is_file()
        path.unlink(missing_ok=True)
    await session.commit()  # lets go of the lock only now, with the file gone
    return removed
