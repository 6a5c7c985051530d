"""The only home of permission checks. Missing and forbidden look the same (404)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, text
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import ActionError, not_found
from app.models import (
    Artifact,
    Award,
    CoachingRequest,
    Credential,
    EvidenceFlag,
    GroupMember,
    Membership,
    Pool,
    Privacy,
    Review,
    ReviewTask,
    Role,
    StackItem,
    StudyGroup,
    Submission,
    SubmissionVersion,
    TaskState,
    User,
)


async def roles_of(session: AsyncSession, user: User) -> set[tuple[uuid.UUID, str]]:
    """Every (organisation, role) the user holds and is not suspended from."""
    rows = await session.exec(
        select(Membership.organisation_id, Membership.role)
        .where(Membership.user_id == user.id)
        .where(col(Membership.suspended_at).is_(None))
    )
    return {(org, role) for org, role in rows.all()}


async def has_role(
    session: AsyncSession, user: User, role: Role, organisation_id: uuid.UUID | None = None
) -> bool:
    """Whether the user holds `role` (in `organisation_id`, or in any organisation)."""
    query = (
        select(Membership.id)
        .where(Membership.user_id == user.id)
        .where(Membership.role == role)
        .where(col(Membership.suspended_at).is_(None))
    )
    if organisation_id is not None:
        query = query.where(Membership.organisation_id == organisation_id)
    return (await session.exec(query.limit(1))).first() is not None


def require_user(user: User | None) -> User:
    if user is None:
        raise ActionError("unauthenticated", "Log in to continue.", 401)
    return user


POOL_ROLE = {Pool.peer: Role.reviewer, Pool.expert: Role.expert}

# Known-answer checks a reviewer's trust must rest on before it counts above the prior (75):
# calibration is announced (a careless reviewer tries hard there and starts above 80), the
# checks are not. Until then a trusted-peer task (a tie-break's minimum trust) is not theirs.
MEASURED_CHECKS = 2
# A standing's (`st`) known-answer checks so far, in SQL.
CHECKS = "coalesce((st.components -> 'known_answer' ->> 'count')::int, 0)"
# A standing's (`st`) trust as routing counts it: measured, or at most the prior.
MEASURED_TRUST = f"""
    CASE WHEN {CHECKS} >= {MEASURED_CHECKS}
         THEN st.trust ELSE least(st.trust, 75.0) END"""

# Known-answer checks are for reviewers not yet proven. Where the credential serves checks at
# all, a reviewer's first MEASURED_CHECKS claims are checks (probation: a careless reviewer
# who tried hard in the announced calibration shows it here, before any earner's packet rests
# on them); then the credential's rate; once PROVEN_CHECKS checks average at least
# PROVEN_ACCURACY credit, a quarter of it keeps watching them (a check costs a review's time
# that real work then waits for). A careless or biased reviewer never averages that much, and
# stays at the full rate.
PROVEN_CHECKS, PROVEN_ACCURACY, PROVEN_DIVISOR = 4, 0.75, 4
# The rate a standing (`st`) of a credential with quality policy `qp` is served checks at.
KNOWN_ANSWER_RATE = f"""
    CASE WHEN coalesce(qp.known_answer_percent, 0) = 0 THEN 0
         WHEN {CHECKS} < {MEASURED_CHECKS} THEN 100
         WHEN {CHECKS} >= {PROVEN_CHECKS}
          AND coalesce((st.components -> 'known_answer' ->> 'score')::float, 0)
              >= {PROVEN_ACCURACY}
         THEN ceil(qp.known_answer_percent / {PROVEN_DIVISOR}.0)::int
         ELSE qp.known_answer_percent END"""


def known_answer_rate(percent: int, components: dict[str, Any] | None) -> int:
    """KNOWN_ANSWER_RATE in Python, from a standing's components."""
    part = (components or {}).get("known_answer") or {}
    count = int(part.get("count") or 0)
    if percent == 0:
        return 0
    if count < MEASURED_CHECKS:
        return 100
    proven = count >= PROVEN_CHECKS and float(part.get("score") or 0.0) >= PROVEN_ACCURACY
    return math.ceil(percent / PROVEN_DIVISOR) if proven else percent


# Every rule of eligibility for one task, one condition per line, as one SQL condition over
# `review_tasks`, `submissions`, `credentials` and the earner (`earner`, a users row), with
# the reviewer as :reviewer and their school, lowercased, as :school. Listing, claiming and
# claim-next all use it (the claim statement in app/queue embeds it), so they cannot disagree:
# the role for the pool in the issuing organisation (not suspended); the required badge ("earn
# it to assess it"); the quality gate (calibrated when the credential asks for it, not
# suspended for low trust); not the earner; not already on this submission; not from the
# earner's school when the credential says so; not kept off this submission (a tie-break's
# exclusions); not flagged with the earner as a colluding pair (anywhere: a pair flagged by
# one issuer is not routed each other's work by another); trusted at least as much as the task
# asks (a tie-break), by trust that known-answer checks back (MEASURED_TRUST).
ELIGIBLE_SQL = """
    EXISTS (SELECT 1 FROM memberships m
             WHERE m.user_id = :reviewer AND m.organisation_id = credentials.organisation_id
               AND m.suspended_at IS NULL
               AND m.role = CASE review_tasks.pool WHEN 'peer' THEN 'reviewer'
                                                   WHEN 'expert' THEN 'expert' END)
    AND (credentials.required_badge_credential_id IS NULL
         OR EXISTS (SELECT 1 FROM awards a
                     WHERE a.user_id = :reviewer AND a.revoked_at IS NULL
                       AND a.credential_id = credentials.required_badge_credential_id))
    AND NOT EXISTS (SELECT 1 FROM reviewer_standings st
                     WHERE st.credential_id = credentials.id AND st.reviewer_id = :reviewer
                       AND st.suspended_at IS NOT NULL)
    AND (coalesce((SELECT qp.calibration_required FROM quality_policies qp
                    WHERE qp.credential_id = credentials.id), 0) = 0
         OR EXISTS (SELECT 1 FROM reviewer_standings st
                     WHERE st.credential_id = credentials.id AND st.reviewer_id = :reviewer
                       AND st.calibrated_at IS NOT NULL))
    AND submissions.earner_id <> :reviewer
    AND NOT EXISTS (SELECT 1 FROM review_tasks other
                     WHERE other.submission_id = submissions.id AND other.reviewer_id = :reviewer)
    AND NOT EXISTS (SELECT 1 FROM reviews r
                     WHERE r.submission_id = submissions.id AND r.reviewer_id = :reviewer)
    AND (NOT credentials.exclude_same_school OR earner.school IS NULL
         OR CAST(:school AS text) IS NULL OR lower(earner.school) <> CAST(:school AS text))
    AND NOT EXISTS (SELECT 1 FROM submission_exclusions x
                     WHERE x.submission_id = submissions.id AND x.reviewer_id = :reviewer)
    AND NOT EXISTS (SELECT 1 FROM reviewer_pairs rp
                     WHERE rp.blocked
                       AND ((rp.reviewer_id = :reviewer AND rp.partner_id = submissions.earner_id)
                         OR (rp.partner_id = :reviewer AND rp.reviewer_id = submissions.earner_id)))
    AND (review_tasks.min_trust IS NULL
         OR coalesce((SELECT {measured} FROM reviewer_standings st
                       WHERE st.credential_id = credentials.id AND st.reviewer_id = :reviewer),
                     75.0) >= review_tasks.min_trust)
""".replace("{measured}", MEASURED_TRUST)


def eligibility(user: User) -> Any:
    """ELIGIBLE_SQL bound to this reviewer, for an ORM query over the same four tables."""
    school = user.school.lower() if user.school else None
    return text(ELIGIBLE_SQL).bindparams(reviewer=user.id, school=school)


def eligible_tasks(user: User, *, open_only: bool = True) -> Any:
    """Open tasks this reviewer may see and claim: (task, submission, credential) rows, by
    ELIGIBLE_SQL. (The live queue in Redis answers the hot path; this is for the rest.)"""
    earner = aliased(User, name="earner")
    return (
        select(ReviewTask, Submission, Credential)
        .join(Submission, col(Submission.id) == col(ReviewTask.submission_id))
        .join(Credential, col(Credential.id) == col(Submission.credential_id))
        .join(earner, col(earner.id) == col(Submission.earner_id))
        .where(
            col(ReviewTask.state).in_(
                [TaskState.open] if open_only else [TaskState.open, TaskState.claimed]
            )
        )
        .where(eligibility(user))
    )


def by_priority(query: Any) -> Any:
    """Oldest first; escalations and appeals jump a day ahead, so nothing waits forever (the
    stored `priority`, which the partial index over open work serves)."""
    return query.order_by(col(ReviewTask.priority), col(ReviewTask.id))


async def can_claim(session: AsyncSession, user: User, task_id: uuid.UUID) -> bool:
    row = (await session.execute(eligible_tasks(user).where(col(ReviewTask.id) == task_id))).first()
    return row is not None


async def is_coordinator_of(session: AsyncSession, user: User, organisation_id: uuid.UUID) -> bool:
    return await has_role(session, user, Role.coordinator, organisation_id)


async def access_submission(
    session: AsyncSession, user: User, submission_id: uuid.UUID
) -> tuple[Submission, Credential]:
    """The earner's own submission, or one a coordinator of its issuer oversees; else 404."""
    submission = await session.get(Submission, submission_id)
    if submission is None:
        raise not_found("That submission")
    credential = await session.get(Credential, submission.credential_id)
    assert credential is not None
    if submission.earner_id == user.id:
        return submission, credential
    if await is_coordinator_of(session, user, credential.organisation_id):
        return submission, credential
    raise not_found("That submission")


async def live_claim_on(
    session: AsyncSession, user: User, version_id: uuid.UUID
) -> ReviewTask | None:
    """The reviewer's claim on this version, while its lease is live."""
    return (
        await session.exec(
            select(ReviewTask)
            .where(ReviewTask.version_id == version_id)
            .where(ReviewTask.reviewer_id == user.id)
            .where(ReviewTask.state == TaskState.claimed)
            .where(col(ReviewTask.lease_expires_at) > func.now())
        )
    ).first()


async def access_artifact(
    session: AsyncSession, user: User | None, artifact_id: uuid.UUID
) -> Artifact:
    """An artifact for the earner, the reviewer holding a live claim on its version, the
    issuer's coordinators, the issuer's members when the earner chose "organisation", and
    anyone when "public". Everyone else: 404, exactly like a missing one."""
    artifact = await session.get(Artifact, artifact_id)
    if artifact is None:
        raise not_found("That file")
    version = await session.get(SubmissionVersion, artifact.version_id)
    assert version is not None
    submission = await session.get(Submission, version.submission_id)
    assert submission is not None
    if submission.privacy == Privacy.public:
        return artifact
    if user is None:
        raise not_found("That file")
    if submission.earner_id == user.id:
        return artifact
    if await live_claim_on(session, user, version.id) is not None:
        return artifact
    credential = await session.get(Credential, submission.credential_id)
    assert credential is not None
    if await is_coordinator_of(session, user, credential.organisation_id):
        return artifact
    if submission.privacy == Privacy.organisation and await has_role(
        session, user, Role.reviewer, credential.organisation_id
    ):
        return artifact
    if await shares_group_with(session, user, submission):
        return artifact
    raise not_found("That file")


async def shares_group_with(session: AsyncSession, user: User, submission: Submission) -> bool:
    """Whether the user and the packet's earner are in a study group working on its
    credential (where drafts are shared for informal feedback)."""
    me, owner = aliased(GroupMember), aliased(GroupMember)
    row = await session.exec(
        select(StudyGroup.id)
        .join(me, col(me.group_id) == col(StudyGroup.id))
        .join(owner, col(owner.group_id) == col(StudyGroup.id))
        .where(col(me.user_id) == user.id)
        .where(col(owner.user_id) == submission.earner_id)
        .where(col(owner.user_id) != user.id)
        .where(
            or_(
                col(StudyGroup.credential_id) == submission.credential_id,
                col(StudyGroup.stack_id).in_(
                    select(StackItem.stack_id).where(
                        StackItem.credential_id == submission.credential_id
                    )
                ),
            )
        )
        .limit(1)
    )
    return row.first() is not None


@dataclass(frozen=True)
class PoolRule:
    """What the live queue needs of one pool a reviewer may review."""

    trust: float  # this reviewer's trust on the credential (the prior, 75, when unmeasured)
    known_answer_percent: int
    lease_minutes: int | None  # the credential's lease; None: the deployment's
    # The trust a tie-break's minimum is held against (MEASURED_TRUST: at most the prior, 75,
    # until known-answer checks back it).
    measured: float = 75.0


# The per-credential half of eligibility, for one reviewer, with what the live queue needs of
# each pool: role in the issuing organisation (not suspended), the required badge, and
# whether the quality gate (calibrated when required, not suspended for low trust) lets them
# claim; and (the same on every row) the people whose work they are not routed: flagged
# colluding partners. In: :reviewer.
POOL_RULES_SQL = text(
    """
    SELECT c.id AS credential_id, m.role, coalesce(st.trust, 75.0) AS trust,
           coalesce({measured}, 75.0) AS measured,
           {rate} AS known_answer_percent, c.lease_minutes,
           (st.suspended_at IS NULL
            AND (coalesce(qp.calibration_required, 0) = 0 OR st.calibrated_at IS NOT NULL))
               AS gate_open,
           (SELECT coalesce(array_agg(CASE WHEN rp.reviewer_id = :reviewer THEN rp.partner_id
                                           ELSE rp.reviewer_id END), '{}')
              FROM reviewer_pairs rp
             WHERE rp.blocked AND :reviewer IN (rp.reviewer_id, rp.partner_id)) AS partners
      FROM credentials c
      JOIN memberships m ON m.organisation_id = c.organisation_id
      LEFT JOIN quality_policies qp ON qp.credential_id = c.id
      LEFT JOIN reviewer_standings st ON st.credential_id = c.id AND st.reviewer_id = :reviewer
     WHERE m.user_id = :reviewer AND m.suspended_at IS NULL
       AND m.role IN ('reviewer', 'expert')
       AND (c.required_badge_credential_id IS NULL
            OR EXISTS (SELECT 1 FROM awards a
                        WHERE a.user_id = :reviewer AND a.revoked_at IS NULL
                          AND a.credential_id = c.required_badge_credential_id))
    """.replace("{measured}", MEASURED_TRUST).replace("{rate}", KNOWN_ANSWER_RATE)
)
POOL_OF_ROLE = {Role.reviewer: Pool.peer, Role.expert: Pool.expert}


async def pool_rules(conn: Any, user: User) -> tuple[dict[tuple[uuid.UUID, str], PoolRule], int]:
    """(the pools this reviewer may claim from, with their rules; how many more the quality
    gate holds back) in one statement, on any connection or session."""
    return pool_rules_of((await conn.execute(POOL_RULES_SQL, {"reviewer": user.id})).all())


def pool_rules_of(rows: Any) -> tuple[dict[tuple[uuid.UUID, str], PoolRule], int]:
    """pool_rules from POOL_RULES_SQL's rows, however they were read."""
    rules: dict[tuple[uuid.UUID, str], PoolRule] = {}
    held_back = 0
    for row in rows:
        if not row.gate_open:
            held_back += 1
            continue
        pool = POOL_OF_ROLE[Role(row.role)].value
        rules[(row.credential_id, pool)] = PoolRule(
            float(row.trust), int(row.known_answer_percent), row.lease_minutes, float(row.measured)
        )
    return rules, held_back


def blocked_partners(rows: Any) -> set[uuid.UUID]:
    """The flagged partners whose work this reviewer is not routed, from POOL_RULES_SQL's rows."""
    return {partner for row in rows[:1] for partner in row.partners}


async def reviewer_pool_rules(
    session: AsyncSession, user: User, *, gated: bool = True
) -> dict[tuple[uuid.UUID, str], PoolRule]:
    """The (credential, pool) feeds this person may watch, with their rules (POOL_RULES_SQL;
    unless `gated` is False, only those the quality gate opens)."""
    if gated:
        return (await pool_rules(session, user))[0]
    rows = (await session.execute(POOL_RULES_SQL, {"reviewer": user.id})).all()
    return {
        (row.credential_id, POOL_OF_ROLE[Role(row.role)].value): PoolRule(
            float(row.trust), int(row.known_answer_percent), row.lease_minutes, float(row.measured)
        )
        for row in rows
    }


async def reviewer_pools(
    session: AsyncSession, user: User, *, gated: bool = True
) -> set[tuple[uuid.UUID, str]]:
    """The (credential, pool) feeds this person may watch (see reviewer_pool_rules)."""
    return set(await reviewer_pool_rules(session, user, gated=gated))


async def access_claim(
    session: AsyncSession, user: User, task_id: uuid.UUID
) -> tuple[ReviewTask, SubmissionVersion, Credential]:
    """The task while this reviewer holds its claim (its lease may have just run out: the
    caller decides); anything else is 404, exactly like a task that does not exist."""
    row = (
        await session.exec(
            select(ReviewTask, SubmissionVersion, Credential)
            .join(SubmissionVersion, col(SubmissionVersion.id) == col(ReviewTask.version_id))
            .join(Submission, col(Submission.id) == col(ReviewTask.submission_id))
            .join(Credential, col(Credential.id) == col(Submission.credential_id))
            .where(col(ReviewTask.id) == task_id)
        )
    ).first()
    if row is None:
        raise not_found("That task")
    task, version, credential = row
    if task.reviewer_id != user.id:
        raise not_found("That task")
    if task.state != TaskState.claimed:
        raise not_found("That task")
    return task, version, credential


async def managed_credential(
    session: AsyncSession, user: User, credential_id: uuid.UUID
) -> Credential:
    """A credential this person coordinates (its issuer's coordinator); else 404."""
    credential = await session.get(Credential, credential_id)
    if credential is None:
        raise not_found("That credential")
    if not await is_coordinator_of(session, user, credential.organisation_id):
        raise not_found("That credential")
    return credential


async def access_own_review(session: AsyncSession, user: User, review_id: uuid.UUID) -> Review:
    """A review this reviewer submitted; else 404."""
    review = await session.get(Review, review_id)
    if review is None:
        raise not_found("That review")
    if review.reviewer_id != user.id:
        raise not_found("That review")
    if review.state != "submitted":
        raise not_found("That review")
    return review


async def access_review_of_mine(
    session: AsyncSession, user: User, review_id: uuid.UUID
) -> tuple[Review, Submission]:
    """A submitted review of the earner's own submission (to rate its feedback); else 404."""
    review = await session.get(Review, review_id)
    if review is None or review.state != "submitted":
        raise not_found("That review")
    submission = await session.get(Submission, review.submission_id)
    if submission is None:
        raise not_found("That review")
    if submission.earner_id != user.id:
        raise not_found("That review")
    return review, submission


async def access_award_as_coordinator(
    session: AsyncSession, user: User, award_id: uuid.UUID
) -> Award:
    """An award whose issuer `user` coordinates (they may revoke it); else 404."""
    from app.models import Stack

    award = await session.get(Award, award_id)
    if award is None:
        raise not_found("That badge")
    achievement = (
        await session.get(Credential, award.credential_id)
        if award.credential_id
        else await session.get(Stack, award.stack_id)
    )
    assert achievement is not None
    if await is_coordinator_of(session, user, achievement.organisation_id):
        return award
    raise not_found("That badge")


async def access_own_award(session: AsyncSession, user: User, award_id: uuid.UUID) -> Award:
    """The earner's own award (what only they may export, e.g. a learner record); else 404."""
    award = await session.get(Award, award_id)
    if award is None or award.user_id != user.id:
        raise not_found("That badge")
    return award


async def access_coaching_request(
    session: AsyncSession, user: User, request_id: uuid.UUID
) -> CoachingRequest:
    """A coaching request, for a coordinator of the credential's issuer; else 404."""
    request = await session.get(CoachingRequest, request_id, with_for_update=True)
    if request is None:
        raise not_found("That request")
    submission = await session.get(Submission, request.submission_id)
    assert submission is not None
    credential = await session.get(Credential, submission.credential_id)
    assert credential is not None
    if not await is_coordinator_of(session, user, credential.organisation_id):
        raise not_found("That request")
    return request


async def access_flag(session: AsyncSession, user: User, flag_id: uuid.UUID) -> EvidenceFlag:
    """An evidence flag, for a coordinator of the organisation it was raised in; else 404."""
    flag = await session.get(EvidenceFlag, flag_id, with_for_update=True)
    if flag is None:
        raise not_found("That flag")
    if not await is_coordinator_of(session, user, flag.organisation_id):
        raise not_found("That flag")
    return flag


async def group_member(session: AsyncSession, user: User, group_id: uuid.UUID) -> StudyGroup:
    """A study group, for its members; else 404."""
    group = await session.get(StudyGroup, group_id)
    if group is None:
        raise not_found("That group")
    member = await session.exec(
        select(GroupMember.id)
        .where(GroupMember.group_id == group.id)
        .where(GroupMember.user_id == user.id)
    )
    if member.first() is None:
        raise not_found("That group")
    return group


def group_shares(group: StudyGroup) -> Any:
    """The credentials whose packets a group shares: its credential, or its stack's."""
    if group.credential_id is not None:
        return select(Credential.id).where(Credential.id == group.credential_id)
    return select(StackItem.credential_id).where(StackItem.stack_id == group.stack_id)


async def access_group_draft(
    session: AsyncSession, user: User, group_id: uuid.UUID, submission_id: uuid.UUID
) -> tuple[StudyGroup, Submission, Credential]:
    """A fellow member's packet shared in the group: the viewer and the owner both members,
    the packet for a credential the group works on, not withdrawn. Else 404."""
    group = await group_member(session, user, group_id)
    submission = await session.get(Submission, submission_id)
    if submission is None or submission.state == "withdrawn":
        raise not_found("That draft")
    owner = await session.exec(
        select(GroupMember.id)
        .where(GroupMember.group_id == group.id)
        .where(GroupMember.user_id == submission.earner_id)
    )
    if owner.first() is None:
        raise not_found("That draft")
    shared = set((await session.exec(group_shares(group))).all())
    if submission.credential_id not in shared:
        raise not_found("That draft")
    credential = await session.get(Credential, submission.credential_id)
    assert credential is not None
    return group, submission, credential


async def access_cohort(session: AsyncSession, user: User, group_id: uuid.UUID) -> StudyGroup:
    """A coordinator's cohort, for a coordinator of its organisation; else 404."""
    group = await session.get(StudyGroup, group_id)
    if group is None or group.cohort_organisation_id is None:
        raise not_found("That cohort")
    if not await is_coordinator_of(session, user, group.cohort_organisation_id):
        raise not_found("That cohort")
    return group


async def require_coordinator(session: AsyncSession, user: User) -> None:
    """Coordinator-only pages: anyone else sees a 404, as if the page did not exist."""
    if not await has_role(session, user, Role.coordinator):
        raise not_found("That page")
