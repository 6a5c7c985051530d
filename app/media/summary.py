"""What a packet holds, in a few words for a feed card: "video 12 min, 2 documents,
reflection". summarise() is pure; evidence_summaries() reads many versions in one query
(through the session it is given) so a feed of 100 cards costs one statement."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Artifact, MediaFile

ORDER = ("video", "audio", "image", "document", "link", "reflection")
NOUNS = {
    "video": ("video", "videos"),
    "audio": ("audio", "audio recordings"),
    "image": ("image", "images"),
    "document": ("document", "documents"),
    "link": ("link", "links"),
    "reflection": ("reflection", "reflections"),
}


def length_text(seconds: float) -> str:
    """ "12 min", "1 h 05 min", "45 s"."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = round(whole / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def summarise(items: Iterable[tuple[str, float | None]]) -> str:
    """(kind, seconds or None) per artifact → "video 12 min, 2 documents, reflection".
    Recordings show their length once the worker has measured it; several of one kind
    are counted (recordings with their total length)."""
    by_kind: dict[str, list[float | None]] = {}
    for kind, seconds in items:
        by_kind.setdefault(kind, []).append(seconds)
    parts = []
    for kind in sorted(by_kind, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER)):
        lengths = by_kind[kind]
        one, many = NOUNS.get(kind, (kind, kind + "s"))
        noun = one if len(lengths) == 1 else f"{len(lengths)} {many}"
        known = [s for s in lengths if s is not None]
        if kind in ("video", "audio") and known:
            total = length_text(sum(known))
            parts.append(f"{noun} {total}" if len(lengths) == 1 else f"{noun} ({total})")
        else:
            parts.append(noun)
    return ", ".join(parts) if parts else "no evidence"


async def evidence_summaries(
    session: AsyncSession, version_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """summarise() for each submission version, in one query; a version without
    artifacts reads "no evidence"."""
    if not version_ids:
        return {}
    rows = (
        await session.exec(
            select(Artifact.version_id, Artifact.kind, MediaFile.probe)
            .outerjoin(MediaFile, col(MediaFile.sha256) == col(Artifact.sha256))
            .where(col(Artifact.version_id).in_(list(version_ids)))
        )
    ).all()
    items: dict[uuid.UUID, list[tuple[str, float | None]]] = {v: [] for v in version_ids}
    for version_id, kind, probe in rows:
        seconds = (probe or {}).get("duration")
        items[version_id].append((kind, float(seconds) if seconds else None))
    return {version_id: summarise(found) for version_id, found in items.items()}


async def evidence_summary(session: AsyncSession, version_id: uuid.UUID) -> str:
    """One version's summary, e.g. "video 12 min, 2 documents, reflection"."""
    return (await evidence_summaries(session, [version_id]))[version_id]
