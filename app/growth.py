"""The growth plan's read side: the gap per standard an earner works toward (earned / in
progress / not started), recommendations for what to earn next, and the gap as an SVG chart
(server-rendered, no script). Writes live in app/actions/growth.py."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import (
    Alignment,
    Award,
    Credential,
    CredentialStatus,
    GrowthGoal,
    Organisation,
    Stack,
    StackItem,
    Submission,
    SubmissionState,
    User,
)

OPEN = (CredentialStatus.published, CredentialStatus.pilot)


@dataclass(frozen=True)
class Standard:
    framework: str
    code: str
    title: str

    @property
    def key(self) -> str:
        return f"{self.framework}|{self.code}"


@dataclass
class Gap:
    standard: Standard
    earned: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.earned) + len(self.in_progress) + len(self.not_started)

    @property
    def open(self) -> bool:
        """Not yet shown by any earned credential."""
        return not self.earned


@dataclass(frozen=True)
class Recommendation:
    credential_id: uuid.UUID
    title: str
    reason: str
    source: str  # stack, standard, peers
    href: str = ""


@dataclass
class Standing:
    """Where the earner stands on every credential: earned, started, or neither."""

    earned: set[uuid.UUID]
    started: set[uuid.UUID]

    def state(self, credential_id: uuid.UUID) -> str:
        if credential_id in self.earned:
            return "earned"
        return "in_progress" if credential_id in self.started else "not_started"


async def standing(session: AsyncSession, user: User) -> Standing:
    earned = set(
        (
            await session.exec(
                select(Award.credential_id)
                .where(Award.user_id == user.id)
                .where(col(Award.credential_id).is_not(None))
                .where(col(Award.revoked_at).is_(None))
            )
        ).all()
    )
    started = set(
        (
            await session.exec(
                select(Submission.credential_id)
                .where(Submission.earner_id == user.id)
                .where(
                    col(Submission.state).not_in(
                        [SubmissionState.withdrawn, SubmissionState.passed]
                    )
                )
            )
        ).all()
    )
    return Standing({e for e in earned if e is not None}, started - earned)


async def standards(session: AsyncSession) -> list[Standard]:
    """Every standard an open credential aligns to, for the picker."""
    rows = await session.exec(
        select(Alignment.framework, Alignment.code, Alignment.title)
        .join(Credential, col(Credential.id) == col(Alignment.credential_id))
        .where(col(Credential.status).in_(OPEN))
        .distinct()
        .order_by(col(Alignment.framework), col(Alignment.code))
    )
    seen: dict[tuple[str, str], Standard] = {}
    for framework, code, title in rows.all():
        seen.setdefault((framework, code), Standard(framework, code, title))
    return list(seen.values())


async def goals_of(session: AsyncSession, user: User) -> tuple[list[Standard], list[Stack]]:
    goals = (await session.exec(select(GrowthGoal).where(GrowthGoal.user_id == user.id))).all()
    wanted = {(g.framework, g.code) for g in goals if g.code}
    chosen = [s for s in await standards(session) if (s.framework, s.code) in wanted]
    stack_ids = [g.stack_id for g in goals if g.stack_id]
    stacks = (
        (
            await session.exec(
                select(Stack).where(col(Stack.id).in_(stack_ids)).order_by(col(Stack.title))
            )
        ).all()
        if stack_ids
        else []
    )
    return chosen, list(stacks)


async def gaps(session: AsyncSession, user: User, chosen: list[Standard]) -> list[Gap]:
    """Per chosen standard, the open credentials aligned to it by where the earner stands."""
    mine = await standing(session, user)
    rows = (
        await session.exec(
            select(Alignment.framework, Alignment.code, Credential.id, Credential.title)
            .join(Credential, col(Credential.id) == col(Alignment.credential_id))
            .where(col(Credential.status).in_(OPEN))
            .order_by(col(Credential.title))
        )
    ).all()
    out = []
    for standard in chosen:
        gap = Gap(standard)
        for framework, code, credential_id, title in rows:
            if (framework, code) != (standard.framework, standard.code):
                continue
            getattr(gap, mine.state(credential_id)).append(title)
        out.append(gap)
    return out


async def recommend(
    session: AsyncSession, user: User, chosen: list[Standard], stacks: list[Stack]
) -> list[Recommendation]:
    """Next in each chosen stack (in stack order), then open credentials aligned to the
    standards still open (those covering most first), then what peers who earned the same
    credentials went on to earn. Never one already earned or started; each once."""
    mine = await standing(session, user)
    taken = mine.earned | mine.started
    out: list[Recommendation] = []

    def add(credential_id: uuid.UUID, title: str, reason: str, source: str) -> None:
        if credential_id not in taken and all(r.credential_id != credential_id for r in out):
            out.append(Recommendation(credential_id, title, reason, source))

    items: dict[uuid.UUID, list[Credential]] = {stack.id: [] for stack in stacks}
    for stack_id, credential in (
        await session.exec(
            select(StackItem.stack_id, Credential)
            .join(Credential, col(Credential.id) == col(StackItem.credential_id))
            .where(col(StackItem.stack_id).in_(list(items)))
            .order_by(col(StackItem.position))
        )
    ).all():
        items[stack_id].append(credential)
    for stack in stacks:
        for number, credential in enumerate(items[stack.id], start=1):
            if credential.id in taken or credential.status not in OPEN:
                continue
            add(credential.id, credential.title, f"Next in {stack.title} (#{number})", "stack")
            break
    still_open = [g.standard for g in await gaps(session, user, chosen) if g.open]
    if still_open:
        rows = (
            await session.exec(
                select(Credential, Alignment.framework, Alignment.code)
                .join(Alignment, col(Alignment.credential_id) == col(Credential.id))
                .where(col(Credential.status).in_(OPEN))
            )
        ).all()
        covers: dict[uuid.UUID, list[str]] = {}
        by_id: dict[uuid.UUID, Credential] = {}
        for credential, framework, code in rows:
            if any((s.framework, s.code) == (framework, code) for s in still_open):
                covers.setdefault(credential.id, []).append(code)
                by_id[credential.id] = credential
        for credential_id in sorted(covers, key=lambda c: (-len(covers[c]), by_id[c].title)):
            codes = ", ".join(sorted(set(covers[credential_id])))
            add(credential_id, by_id[credential_id].title, f"Aligned to {codes}", "standard")
    for credential_id, title, count in await peers_next(session, user, mine):
        add(credential_id, title, f"Earned next by {count} peer(s) with your badges", "peers")
    pages = {
        credential_id: f"/credentials/{org}/{slug}"
        for credential_id, slug, org in (
            await session.exec(
                select(Credential.id, Credential.slug, Organisation.slug)
                .join(Organisation, col(Organisation.id) == col(Credential.organisation_id))
                .where(col(Credential.id).in_([r.credential_id for r in out]))
            )
        ).all()
    }
    return [replace(r, href=pages.get(r.credential_id, "")) for r in out]


async def peers_next(
    session: AsyncSession, user: User, mine: Standing, limit: int = 3
) -> list[tuple[uuid.UUID, str, int]]:
    """Credentials that earners holding one of my badges earned after it, most often first."""
    if not mine.earned:
        return []
    shared, later = aliased(Award), aliased(Award)
    rows = (
        await session.exec(
            select(later.user_id, Credential.id, Credential.title)
            .join(shared, col(shared.user_id) == col(later.user_id))
            .join(Credential, col(Credential.id) == col(later.credential_id))
            .where(col(shared.credential_id).in_(mine.earned))
            .where(col(shared.user_id) != user.id)
            .where(col(later.issued_at) > col(shared.issued_at))
            .where(col(later.revoked_at).is_(None))
            .where(col(Credential.status).in_(OPEN))
            .distinct()
        )
    ).all()
    counts = Counter((cid, title) for _, cid, title in rows if cid not in mine.earned)
    return [(cid, title, n) for (cid, title), n in counts.most_common(limit)]
