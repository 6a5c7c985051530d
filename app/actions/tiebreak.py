"""The tie-break: when the first peers split, a third peer trusted on the credential looks
before an expert does (a credential's `tiebreak_peer` policy).

The third peer's task is an ordinary peer task (reason "tiebreak", a day ahead in the queue)
that only reviewers with at least the policy's trust on the credential may take
(`review_tasks.min_trust`), and that neither first reviewer's school, their frequent partners
(FREQUENT co-reviewed packets, a good share of their reviews), anyone who swapped reviews with
either, nor their flagged pairs may take (`submission_exclusions`). Routing enforces both,
in PostgreSQL and in Redis.

The three settle it when the third peer's own recommendation is the decision of the three's
consensus (median or trust-weighted levels) and, for a pass, no disputed criterion is
credited right on the pass line (see `settle`); otherwise the expert decides. An expert is
also asked at once for high stakes, appeals and overdue work, as before, and for a tie-break
no reviewer may take (`STRANDED`: nobody trusted enough, or all of them kept off): when it
opens, and by the worker (`offer_stranded_tiebreaks`) when suspensions or exclusions leave
an open one without a taker.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from app.access import ELIGIBLE_SQL
from app.actions.escalations import (
    DISAGREEMENT,
    LEVEL_GAP,
    SPLIT,
    UNPROVEN,
    UNSHARED,
    RubricShape,
    Scored,
    consensus,
    open_expert_task,
)
from app.models import (
    AuditEntry,
    Credential,
    Decision,
    Pool,
    QualityPolicy,
    ReviewTask,
    SubmissionExclusion,
    TaskReason,
    TaskState,
)

# The triggers a third peer may settle (disagreements between peers, an agreement of two peers
# with poor known-answer accuracy, a "not yet" on no shared criterion); the rest go to experts.
SETTLEABLE = frozenset({DISAGREEMENT, SPLIT, LEVEL_GAP, UNPROVEN, UNSHARED})
UNSETTLED = "tiebreak_unsettled"
STRANDED = "tiebreak_stranded"
STRANDED_WHY = "no reviewer may take the tie-break (trusted enough, and not kept off it)"
# Frequent partners: reviewers who scored at least FREQUENT packets of the credential together,
# and those packets at least 1/FREQUENT_SHARE of the less active one's reviews there. (A bare
# count kept off most of a small pool's busy reviewers: in a simulated pilot, 17-21 of 40 for
# each tie-break, which left none to take it.)
FREQUENT, FREQUENT_SHARE = 3, 3

# Who may not break this tie, with why: members of the issuer's peer pool from either first
# reviewer's school; either's frequent partners; whoever reviewed either's work and had their
# own work reviewed by that same reviewer (a swap, on any credential); either's flagged pairs.
# Only the issuer's peers are kept off: the exclusions hold for the whole submission, and an
# expert co-reviews with everyone by design (keeping experts off left an escalation nobody could
# take). In: :org, :credential, :firsts (the first reviewers), :frequent, :share.
KEPT_OFF_SQL = text(
    """
    WITH firsts AS (SELECT unnest(CAST(:firsts AS uuid[])) AS id),
    done AS (SELECT r.reviewer_id, r.version_id
               FROM reviews r JOIN submissions s ON s.id = r.submission_id
              WHERE s.credential_id = :credential AND r.state = 'submitted'),
    counted AS (SELECT reviewer_id, count(*) AS n FROM done GROUP BY reviewer_id)
    SELECT kept.reviewer_id, kept.reason FROM (
    SELECT m.user_id AS reviewer_id, 'school' AS reason
      FROM memberships m JOIN users u ON u.id = m.user_id
     WHERE m.organisation_id = :org AND m.role = 'reviewer' AND u.school IS NOT NULL
       AND lower(u.school) IN (SELECT lower(f.school) FROM users f JOIN firsts USING (id)
                                WHERE f.school IS NOT NULL)
    UNION ALL
    SELECT other.reviewer_id, 'frequent_partner'
      FROM done mine
      JOIN done other ON other.version_id = mine.version_id
                     AND other.reviewer_id <> mine.reviewer_id
      JOIN counted cm ON cm.reviewer_id = mine.reviewer_id
      JOIN counted co ON co.reviewer_id = other.reviewer_id
     WHERE mine.reviewer_id IN (SELECT id FROM firsts)
     GROUP BY mine.reviewer_id, other.reviewer_id, cm.n, co.n
    HAVING count(*) >= :frequent AND count(*) * :share >= least(cm.n, co.n)
    UNION ALL
    SELECT r.reviewer_id, 'reviewed_each_other'
      FROM reviews r JOIN submissions s ON s.id = r.submission_id
     WHERE s.earner_id IN (SELECT id FROM firsts) AND r.state = 'submitted'
       AND EXISTS (SELECT 1 FROM reviews back JOIN submissions bs ON bs.id = back.submission_id
                    WHERE back.reviewer_id = s.earner_id AND bs.earner_id = r.reviewer_id
                      AND back.state = 'submitted')
    UNION ALL
    SELECT CASE WHEN rp.reviewer_id IN (SELECT id FROM firsts) THEN rp.partner_id
                ELSE rp.reviewer_id END, 'flagged_pair'
      FROM reviewer_pairs rp
     WHERE rp.reviewer_id IN (SELECT id FROM firsts) OR rp.partner_id IN (SELECT id FROM firsts)
    ) kept
     WHERE EXISTS (SELECT 1 FROM memberships peer
                    WHERE peer.user_id = kept.reviewer_id AND peer.organisation_id = :org
                      AND peer.role = 'reviewer')
    """
)


# Whether anybody may take a task now: ELIGIBLE_SQL with each active reviewer of the issuer
# (`cand`) in the reviewer's place. In: the task's rows as ELIGIBLE_SQL names them.
TAKEABLE = """
    EXISTS (SELECT 1 FROM memberships cm JOIN users cand ON cand.id = cm.user_id
             WHERE cm.organisation_id = credentials.organisation_id AND cm.role = 'reviewer'
               AND cm.suspended_at IS NULL AND cand.is_active
               AND {eligible})
""".replace(
    "{eligible}",
    ELIGIBLE_SQL.replace(":reviewer", "cand.id").replace(
        "CAST(:school AS text)", "lower(cand.school)"
    ),
)
TASK_TAKEABLE_SQL = text(
    """
    SELECT {takeable}
      FROM review_tasks
      JOIN submissions ON submissions.id = review_tasks.submission_id
      JOIN credentials ON credentials.id = submissions.credential_id
      JOIN users earner ON earner.id = submissions.earner_id
     WHERE review_tasks.id = :task
    """.replace("{takeable}", TAKEABLE)
)
# Open tie-break tasks nobody may take now, oldest first.
STRANDED_SQL = text(
    """
    SELECT review_tasks.id AS task_id, review_tasks.version_id, submissions.id AS submission_id
      FROM review_tasks
      JOIN submissions ON submissions.id = review_tasks.submission_id
      JOIN credentials ON credentials.id = submissions.credential_id
      JOIN users earner ON earner.id = submissions.earner_id
     WHERE review_tasks.state = 'open' AND review_tasks.reason = 'tiebreak'
       AND submissions.state = 'in_review' AND NOT {takeable}
     ORDER BY review_tasks.created_at
     LIMIT 500
    """.replace("{takeable}", TAKEABLE)
)


def applies(policy: QualityPolicy, found: list[tuple[str, str]]) -> bool:
    """Whether these triggers go to a third peer first (rather than straight to an expert)."""
    return policy.tiebreak_peer and bool(found) and all(code in SETTLEABLE for code, _ in found)


def settle(
    shape: RubricShape,
    three: list[Scored],
    third: Scored,
    *,
    weighted: bool,
    found: list[tuple[str, str]] | None = None,
) -> str | None:
    """The decision the first peers and the third settle on, or None: an expert decides.

    Settled when the third peer's own recommendation is the decision of the three's consensus;
    a pass besides needs every criterion that any of the three put below the pass line to be
    credited above the line, not on it (a pass resting on one peer's borderline level against
    another's is where false passes come from: the expert confirms those). The same holds
    whatever the trigger (`found`, kept for the record): a pass on a "not yet" of two peers
    on different criteria (UNSHARED) once settled on a third peer's level and was false.

    A first review whose reviewer has since been suspended for low trust (`set_aside`) does
    not count: the others settle it only if they all recommend the same (a careless first
    review and a third peer's slip on one criterion once made a false "not yet")."""
    del found
    counted = [r for r in three if not r.set_aside]
    if len(counted) < len(three):
        if not counted or len({r.recommendation for r in counted}) != 1:
            return None
        three = counted
    levels = consensus(shape, three, weighted=weighted)
    decision = shape.verdict(levels)
    if third.recommendation != decision:
        return None
    if decision == Decision.passed:
        line = shape.rubric.min_level
        for criterion, level in levels.items():
            disputed = any(r.levels.get(criterion, line) < line for r in three)
            if disputed and level <= line:
                return None
    return decision


async def kept_off(
    session: AsyncSession, credential: Credential, firsts: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Who may not break the tie between `firsts`, with the first reason found."""
    rows = (
        await session.execute(
            KEPT_OFF_SQL,
            {
                "org": credential.organisation_id,
                "credential": credential.id,
                "firsts": firsts,
                "frequent": FREQUENT,
                "share": FREQUENT_SHARE,
            },
        )
    ).all()
    found: dict[uuid.UUID, str] = {}
    for reviewer_id, reason in rows:
        if reviewer_id not in firsts:
            found.setdefault(reviewer_id, reason)
    return found


async def open_tiebreak_task(
    session: AsyncSession,
    credential: Credential,
    policy: QualityPolicy,
    submission_id: uuid.UUID,
    version_id: uuid.UUID,
    firsts: list[uuid.UUID],
) -> ReviewTask:
    """Add the third peer's task, who is kept off it, and an audit entry; the caller commits
    and then announces the task it returns. When nobody may take it (STRANDED) it is
    cancelled at once and an expert task returned instead: the packet must not wait for a
    reviewer who does not exist."""
    excluded = await kept_off(session, credential, firsts)
    task = ReviewTask(
        submission_id=submission_id,
        version_id=version_id,
        pool=Pool.peer,
        reason=TaskReason.tiebreak,
        min_trust=float(policy.tiebreak_min_trust),
    )
    session.add(task)
    await session.flush()
    if excluded:
        await session.execute(
            insert(SubmissionExclusion)
            .values(
                [
                    {"submission_id": submission_id, "reviewer_id": who, "reason": why}
                    for who, why in excluded.items()
                ]
            )
            .on_conflict_do_nothing()
        )
    reasons: dict[str, Any] = {}
    for why in excluded.values():
        reasons[why] = reasons.get(why, 0) + 1
    session.add(
        AuditEntry(
            action="submission.tiebreak",
            subject_type="submission",
            subject_id=str(submission_id),
            data={
                "first_reviewers": [str(r) for r in firsts],
                "min_trust": policy.tiebreak_min_trust,
                "kept_off": reasons,
            },
        )
    )
    if (await session.execute(TASK_TAKEABLE_SQL, {"task": task.id})).scalar_one():
        return task
    task.state = TaskState.cancelled
    session.add(task)
    return await open_expert_task(session, submission_id, version_id, [(STRANDED, STRANDED_WHY)])
