"""Near-duplicate credentials across issuers: pairs from different organisations whose
competency and method text is similar (cosine of word counts) and whose standards are the
same or nearly (Jaccard of their aligned standards), for coordinators to consolidate.
Only pairs that share a standard are compared, so the cost follows the overlap, not n²."""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from itertools import combinations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Alignment, Credential, CredentialStatus, Organisation

TEXT_THRESHOLD = 0.6  # cosine similarity of competency + method text
STANDARDS_THRESHOLD = 0.5  # Jaccard similarity of aligned standards
WORD = re.compile(r"[a-z]{3,}")
# Words every credential uses: they make any two look alike.
STOPWORDS = frozenset(
    """the and for with that this from into their they them your you are was were will can
    each who what when how use uses used using has have had not but all any its more most
    other than then these those through about over such also which while where our out
    educator educators teacher teachers student students school schools""".split()
)


@dataclass(frozen=True)
class Pair:
    first: uuid.UUID
    second: uuid.UUID
    first_title: str
    second_title: str
    first_organisation: str
    second_organisation: str
    text_similarity: float
    standards_similarity: float
    shared_standards: tuple[str, ...]


def words(text: str) -> Counter[str]:
    """Lower-case words of three letters or more, without stopwords, a plural "s" dropped."""
    counted: Counter[str] = Counter()
    for word in WORD.findall(text.lower()):
        if word in STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        counted[word] += 1
    return counted


def cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(count * b[word] for word, count in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def standard_key(framework: str, code: str) -> str:
    """ "InTASC 3" whether stored as code "3" or "InTASC 3" (as the catalogue shows it)."""
    label = code if code.lower().startswith(framework.lower()) else f"{framework} {code}"
    return " ".join(label.split())


def method_text(credential: Credential) -> str:
    return " ".join((credential.competency, credential.key_method, credential.method_components))


async def near_duplicates(session: AsyncSession) -> list[Pair]:
    """Every flagged pair among pilot and published credentials, most similar first."""
    rows = (
        await session.exec(
            select(Credential, Organisation.name)
            .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
            .where(col(Credential.status).in_([CredentialStatus.pilot, CredentialStatus.published]))
        )
    ).all()
    credentials = {c.id: (c, name) for c, name in rows}
    standards: dict[uuid.UUID, set[str]] = {i: set() for i in credentials}
    alignments = (
        await session.exec(
            select(Alignment).where(col(Alignment.credential_id).in_(list(credentials)))
        )
    ).all()
    holders: dict[str, set[uuid.UUID]] = {}
    for a in alignments:
        key = standard_key(a.framework, a.code)
        standards[a.credential_id].add(key)
        holders.setdefault(key, set()).add(a.credential_id)
    candidates: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for ids in holders.values():
        for x, y in combinations(sorted(ids), 2):
            if credentials[x][0].organisation_id != credentials[y][0].organisation_id:
                candidates.add((x, y))
    vectors: dict[uuid.UUID, Counter[str]] = {}
    pairs = []
    for x, y in candidates:
        (cx, ox), (cy, oy) = credentials[x], credentials[y]
        same_standards = jaccard(standards[x], standards[y])
        if same_standards < STANDARDS_THRESHOLD:
            continue
        vx = vectors.setdefault(x, words(method_text(cx)))
        vy = vectors.setdefault(y, words(method_text(cy)))
        similar = cosine(vx, vy)
        if similar < TEXT_THRESHOLD:
            continue
        first, second = sorted([(cx, ox), (cy, oy)], key=lambda p: (p[0].title, str(p[0].id)))
        pairs.append(
            Pair(
                first[0].id,
                second[0].id,
                first[0].title,
                second[0].title,
                first[1],
                second[1],
                round(similar, 3),
                round(same_standards, 3),
                tuple(sorted(standards[x] & standards[y])),
            )
        )
    return sorted(pairs, key=lambda p: (-p.text_similarity, p.first_title, p.second_title))
