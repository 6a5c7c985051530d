"""An earner's packets at a glance, and their progress through stacks ("2 of 4 in ...")."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import (
    Award,
    Credential,
    ReviewTask,
    Stack,
    StackItem,
    Submission,
    SubmissionState,
    SubmissionVersion,
    User,
)
from app.views.earner.packet import Status, day, status_of


@dataclass(frozen=True)
class PacketRow:
    id: uuid.UUID
    title: str
    status: Status
    updated: str
    version: int


@dataclass(frozen=True)
class StackItemView:
    title: str
    state: str  # earned, in progress, not started


@dataclass(frozen=True)
class StackProgress:
    title: str
    earned: int
    items: list[StackItemView]
    stack_badge: bool  # the stack's own badge is held

    @property
    def total(self) -> int:
        return len(self.items)


async def my_packets(session: AsyncSession, earner: User) -> list[PacketRow]:
    """Every packet of this earner, most recently changed first, with its status."""
    rows = (
        await session.exec(
            select(Submission, Credential)
            .join(Credential, col(Credential.id) == col(Submission.credential_id))
            .where(Submission.earner_id == earner.id)
            .order_by(col(Submission.updated_at).desc())
        )
    ).all()
    versions = (
        await session.exec(
            select(SubmissionVersion).where(
                col(SubmissionVersion.submission_id).in_([s.id for s, _ in rows])
            )
        )
    ).all()
    latest: dict[uuid.UUID, SubmissionVersion] = {}
    for version in versions:
        known = latest.get(version.submission_id)
        if known is None or version.number > known.number:
            latest[version.submission_id] = version
    tasks = (
        await session.exec(
            select(ReviewTask).where(
                col(ReviewTask.version_id).in_([v.id for v in latest.values()])
            )
        )
    ).all()
    out = []
    for submission, credential in rows:
        version = latest[submission.id]
        mine = [t for t in tasks if t.version_id == version.id]
        out.append(
            PacketRow(
                id=submission.id,
                title=credential.title,
                status=status_of(submission.state, version.check_error, mine),
                updated=day(submission.updated_at),
                version=version.number,
            )
        )
    return out


async def stack_progress(session: AsyncSession, earner: User) -> list[StackProgress]:
    """Each stack holding a credential the earner pursues or holds, with what is earned."""
    pursued = set(
        (
            await session.exec(
                select(Submission.credential_id)
                .where(Submission.earner_id == earner.id)
                .where(Submission.state != SubmissionState.withdrawn)
            )
        ).all()
    )
    awards = (
        await session.exec(
            select(Award).where(Award.user_id == earner.id).where(col(Award.revoked_at).is_(None))
        )
    ).all()
    earned = {a.credential_id for a in awards if a.credential_id is not None}
    stack_badges = {a.stack_id for a in awards if a.stack_id is not None}
    involved = pursued | earned
    if not involved:
        return []
    mine = select(StackItem.stack_id).where(col(StackItem.credential_id).in_(involved))
    rows = (
        await session.exec(
            select(Stack, Credential)
            .join(StackItem, col(StackItem.stack_id) == col(Stack.id))
            .join(Credential, col(Credential.id) == col(StackItem.credential_id))
            .where(col(Stack.id).in_(mine))
            .order_by(col(Stack.title), col(Stack.id), col(StackItem.position))
        )
    ).all()
    stacks: dict[uuid.UUID, tuple[Stack, list[StackItemView]]] = {}
    for stack, credential in rows:
        if credential.id in earned:
            state = "earned"
        elif credential.id in pursued:
            state = "in progress"
        else:
            state = "not started"
        stacks.setdefault(stack.id, (stack, []))[1].append(StackItemView(credential.title, state))
    return [
        StackProgress(
            title=stack.title,
            earned=sum(item.state == "earned" for item in items),
            items=items,
            stack_badge=stack.id in stack_badges,
        )
        for stack, items in stacks.values()
    ]
