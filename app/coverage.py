"""The standards coverage map: for each standard of the frameworks MCX knows (InTASC, PSEL,
ISTE for Educators) and every other standard some credential aligns to, how many pilot or
published credentials cover it; none and few show where credentials are missing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.duplicates import standard_key
from app.models import Alignment, Credential, CredentialStatus

FEW = 2  # one or two credentials: thin coverage

# The published standards, so a standard no credential aligns to still shows (as a gap).
KNOWN: dict[str, list[tuple[str, str]]] = {
    "InTASC": [
        ("1", "Learner Development"),
        ("2", "Learning Differences"),
        ("3", "Learning Environments"),
        ("4", "Content Knowledge"),
        ("5", "Application of Content"),
        ("6", "Assessment"),
        ("7", "Planning for Instruction"),
        ("8", "Instructional Strategies"),
        ("9", "Professional Learning and Ethical Practice"),
        ("10", "Leadership and Collaboration"),
    ],
    "PSEL": [
        ("1", "Mission, Vision, and Core Values"),
        ("2", "Ethics and Professional Norms"),
        ("3", "Equity and Cultural Responsiveness"),
        ("4", "Curriculum, Instruction, and Assessment"),
        ("5", "Community of Care and Support for Students"),
        ("6", "Professional Capacity of School Personnel"),
        ("7", "Professional Community for Teachers and Staff"),
        ("8", "Meaningful Engagement of Families and Community"),
        ("9", "Operations and Management"),
        ("10", "School Improvement"),
    ],
    "ISTE": [
        ("2.1", "Learner"),
        ("2.2", "Leader"),
        ("2.3", "Citizen"),
        ("2.4", "Collaborator"),
        ("2.5", "Designer"),
        ("2.6", "Facilitator"),
        ("2.7", "Analyst"),
    ],
}


@dataclass(frozen=True)
class Cell:
    framework: str
    label: str  # "InTASC 3"
    title: str
    credentials: int

    @property
    def band(self) -> str:
        if self.credentials == 0:
            return "none"
        return "few" if self.credentials <= FEW else "many"


async def coverage(session: AsyncSession) -> list[Cell]:
    """Every standard with its count of pilot or published credentials, by framework."""
    rows = (
        await session.exec(
            select(
                Alignment.framework,
                Alignment.code,
                func.max(Alignment.title),
                func.count(func.distinct(col(Alignment.credential_id))),
            )
            .join(Credential, col(Credential.id) == col(Alignment.credential_id))
            .where(col(Credential.status).in_([CredentialStatus.pilot, CredentialStatus.published]))
            .group_by(col(Alignment.framework), col(Alignment.code))
        )
    ).all()
    counts: dict[tuple[str, str], int] = {}
    titles: dict[tuple[str, str], str] = {}
    for framework, code, title, n in rows:
        key = (framework, standard_key(framework, code))
        counts[key] = counts.get(key, 0) + n
        titles.setdefault(key, title or "")
    for framework, known in KNOWN.items():
        for code, title in known:
            key = (framework, f"{framework} {code}")
            counts.setdefault(key, 0)
            titles[key] = title

    def order(key: tuple[str, str]) -> tuple[str, list[tuple[int, int, str]]]:
        framework, label = key
        parts = label[len(framework) :].strip().split(".")
        # Numbers in number order (2 before 10), anything else after them, by text.
        return framework.lower(), [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]

    return [
        Cell(framework, label, titles.get((framework, label), ""), counts[(framework, label)])
        for framework, label in sorted(counts, key=order)
    ]
