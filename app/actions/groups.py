"""Study groups: earners on the same credential or stack, by invite link or as a coordinator's
cohort. Members see each other's progress and drafts and comment per artifact; the owner
hears each comment live. Group feedback is informal: it never counts as a review."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access, events
from app.errors import ActionError, not_found
from app.models import (
    AuditEntry,
    Credential,
    GroupComment,
    GroupMember,
    Stack,
    StudyGroup,
    Submission,
    SubmissionCriterion,
    SubmissionState,
    User,
)
from app.runtime import Runtime

MAX_COMMENT = 4000
MAX_MEMBERS = 30  # a small group, as study groups are


def _name(name: str) -> str:
    clean = " ".join(name.split())
    if not 1 <= len(clean) <= 120:
        raise ActionError("bad_name", "Give the group a name of 1 to 120 characters.", 422)
    return clean


async def _target(
    session: AsyncSession, credential_id: uuid.UUID | None, stack_id: uuid.UUID | None
) -> uuid.UUID:
    """The organisation of the credential or stack the group works on (exactly one)."""
    if (credential_id is None) == (stack_id is None):
        raise ActionError("bad_target", "Choose one credential or one stack for the group.", 422)
    if credential_id is not None:
        credential = await session.get(Credential, credential_id)
        if credential is None or credential.status in ("draft", "retired"):
            raise not_found("That credential")
        return credential.organisation_id
    stack = await session.get(Stack, stack_id)
    if stack is None:
        raise not_found("That stack")
    return stack.organisation_id


async def create_group(
    session: AsyncSession,
    earner: User,
    name: str,
    *,
    credential_id: uuid.UUID | None = None,
    stack_id: uuid.UUID | None = None,
) -> StudyGroup:
    """A new group with its invite code; its creator is the first member."""
    await _target(session, credential_id, stack_id)
    group = StudyGroup(
        name=_name(name),
        credential_id=credential_id,
        stack_id=stack_id,
        invite_code=secrets.token_urlsafe(18),
        created_by=earner.id,
    )
    session.add(group)
    await session.flush()
    session.add(GroupMember(group_id=group.id, user_id=earner.id))
    await session.commit()
    return group


async def create_cohort(
    session: AsyncSession,
    coordinator: User,
    name: str,
    emails: list[str],
    *,
    credential_id: uuid.UUID | None = None,
    stack_id: uuid.UUID | None = None,
) -> StudyGroup:
    """A coordinator's cohort for one of the organisation's credentials or stacks, with the
    earners named by e-mail (every address must belong to an MCX account)."""
    organisation_id = await _target(session, credential_id, stack_id)
    if not await access.is_coordinator_of(session, coordinator, organisation_id):
        raise not_found("That credential" if credential_id else "That stack")
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    if len(wanted) > MAX_MEMBERS:
        raise ActionError("too_many", f"A cohort holds at most {MAX_MEMBERS} people.", 422)
    people = (await session.exec(select(User).where(func.lower(col(User.email)).in_(wanted)))).all()
    unknown = sorted(set(wanted) - {p.email.lower() for p in people})
    if unknown:
        raise ActionError("unknown_people", "No MCX account for: " + ", ".join(unknown) + ".", 422)
    group = StudyGroup(
        name=_name(name),
        credential_id=credential_id,
        stack_id=stack_id,
        cohort_organisation_id=organisation_id,
        invite_code=secrets.token_urlsafe(18),
        created_by=coordinator.id,
    )
    session.add(group)
    await session.flush()
    session.add_all(GroupMember(group_id=group.id, user_id=p.id) for p in people)
    session.add(
        AuditEntry(
            actor_id=coordinator.id,
            action="cohort.created",
            subject_type="study_group",
            subject_id=str(group.id),
            data={"members": len(people)},
        )
    )
    await session.commit()
    return group


async def group_by_code(session: AsyncSession, code: str) -> StudyGroup:
    if not code or len(code) > 40:
        raise not_found("That invitation")
    group = (await session.exec(select(StudyGroup).where(StudyGroup.invite_code == code))).first()
    if group is None:
        raise not_found("That invitation")
    return group


async def join_group(session: AsyncSession, earner: User, code: str) -> StudyGroup:
    """Join by invite code; joining again is harmless."""
    group = await group_by_code(session, code)
    member = await session.exec(
        select(GroupMember.id)
        .where(GroupMember.group_id == group.id)
        .where(GroupMember.user_id == earner.id)
    )
    if member.first() is not None:
        return group
    count = (
        await session.exec(
            select(func.count()).select_from(GroupMember).where(GroupMember.group_id == group.id)
        )
    ).one()
    if count >= MAX_MEMBERS:
        raise ActionError("group_full", f"This group is full ({MAX_MEMBERS} people).", 409)
    session.add(GroupMember(group_id=group.id, user_id=earner.id))
    try:
        await session.commit()
    except IntegrityError:  # a double tap joined a moment ago
        await session.rollback()
        return await group_by_code(session, code)
    return group


async def leave_group(session: AsyncSession, earner: User, group_id: uuid.UUID) -> None:
    group = await access.group_member(session, earner, group_id)
    member = (
        await session.exec(
            select(GroupMember)
            .where(GroupMember.group_id == group.id)
            .where(GroupMember.user_id == earner.id)
        )
    ).one()
    await session.delete(member)
    await session.commit()


@dataclass(frozen=True)
class CommentView:
    id: uuid.UUID
    criterion_id: uuid.UUID
    author: str
    body: str
    created_at: str

    def json(self) -> dict[str, str]:
        return {
            "id": str(self.id),
            "criterion_id": str(self.criterion_id),
            "author": self.author,
            "body": self.body,
            "created_at": self.created_at,
        }


async def comment_on_draft(
    runtime: Runtime,
    author: User,
    group_id: uuid.UUID,
    submission_id: uuid.UUID,
    criterion_id: uuid.UUID,
    body: str,
) -> CommentView:
    """A member's comment on one criterion's artifact of a fellow member's packet; the owner
    is told live. Stored apart from reviews: it never touches the review flow."""
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise ActionError("empty_comment", "Write a comment first.", 422)
    if len(text) > MAX_COMMENT:
        raise ActionError("too_long", f"Keep comments under {MAX_COMMENT:,} characters.", 422)
    async with runtime.sessions() as session:
        group, submission, _ = await access.access_group_draft(
            session, author, group_id, submission_id
        )
        criterion = await session.get(SubmissionCriterion, criterion_id)
        if criterion is None or criterion.credential_id != submission.credential_id:
            raise ActionError(
                "unknown_criterion", "That criterion is not part of this packet.", 422
            )
        comment = GroupComment(
            group_id=group.id,
            submission_id=submission.id,
            criterion_id=criterion.id,
            author_id=author.id,
            body=text,
        )
        session.add(comment)
        await session.commit()
        owner_id = submission.earner_id
    view = CommentView(
        comment.id, criterion.id, author.name, text, comment.created_at.strftime("%d %b %H:%M")
    )
    if owner_id != author.id:
        await events.notify(
            runtime.engine,
            runtime.redis,
            runtime.settings,
            owner_id,
            "group.comment",
            {"submission_id": str(submission_id), "group": group.name, **view.json()},
        )
    return view


async def comments_on(session: AsyncSession, submission_id: uuid.UUID) -> list[CommentView]:
    """Every group comment on a packet, oldest first (the caller checked access)."""
    rows = await session.exec(
        select(GroupComment, User.name)
        .join(User, col(User.id) == col(GroupComment.author_id))
        .where(GroupComment.submission_id == submission_id)
        .order_by(col(GroupComment.created_at))
    )
    return [
        CommentView(c.id, c.criterion_id, name, c.body, c.created_at.strftime("%d %b %H:%M"))
        for c, name in rows.all()
    ]


@dataclass(frozen=True)
class MemberProgress:
    user_id: uuid.UUID
    name: str
    packets: list[tuple[str, str, uuid.UUID | None]]  # (credential, state, submission id)


async def progress_of(session: AsyncSession, group: StudyGroup) -> list[MemberProgress]:
    """Each member with the state of their packet for each credential the group works on."""
    credentials = (
        await session.exec(
            select(Credential).where(col(Credential.id).in_(access.group_shares(group)))
        )
    ).all()
    members = (
        await session.exec(
            select(User)
            .join(GroupMember, col(GroupMember.user_id) == col(User.id))
            .where(GroupMember.group_id == group.id)
            .order_by(col(GroupMember.joined_at))
        )
    ).all()
    packets = (
        await session.exec(
            select(Submission)
            .where(col(Submission.earner_id).in_([m.id for m in members]))
            .where(col(Submission.credential_id).in_([c.id for c in credentials]))
            .where(Submission.state != SubmissionState.withdrawn)
        )
    ).all()
    by = {(p.earner_id, p.credential_id): p for p in packets}
    out = []
    for member in members:
        rows = []
        for credential in credentials:
            packet = by.get((member.id, credential.id))
            rows.append(
                (
                    credential.title,
                    packet.state if packet else "not started",
                    packet.id if packet else None,
                )
            )
        out.append(MemberProgress(member.id, member.name, rows))
    return out


async def my_groups(session: AsyncSession, user: User) -> list[StudyGroup]:
    return list(
        (
            await session.exec(
                select(StudyGroup)
                .join(GroupMember, col(GroupMember.group_id) == col(StudyGroup.id))
                .where(GroupMember.user_id == user.id)
                .order_by(col(StudyGroup.created_at))
            )
        ).all()
    )
