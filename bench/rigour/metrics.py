"""What a policy's run achieved, read back from PostgreSQL and compared with the hidden truth."""

from __future__ import annotations

import os
import statistics
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import krippendorff
import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.access import CHECKS, MEASURED_CHECKS
from app.access import MEASURED_TRUST as MEASURED
from app.simulation.population import CRITERIA, LEVELS, PASS_LEVEL, Population, Trait
from bench.rigour.agents import Log
from bench.rigour.world import World


@dataclass
class Result:
    policy: str
    label: str
    submissions: int
    decided: int
    right: int
    false_pass: int
    false_fail: int
    criterion_right: float  # share of (packet, criterion) final levels equal to the truth
    alpha: float  # Krippendorff's alpha (ordinal) over the peers' scores
    escalated: int
    expert_hours: float
    median_hours: float
    p90_hours: float
    leases_expired: int
    careless: int
    careless_stopped: int  # careless reviewers who lost claim rights
    careless_stopped_within_10: int
    careless_reviews: list[int]  # reviews each stopped careless reviewer completed before
    suspended_by_trait: dict[str, int]
    colluders_stopped: int
    colluders: int
    tiebreaks: int  # packets a trusted third peer was asked about
    settled_by_third: int  # ... and decided without an expert
    # Colluders whose pair was flagged (so neither is routed the other's work), and how many
    # reviews each had completed then; non-colluders in any flagged pair.
    colluders_paired_within_10: int
    colluder_reviews_at_flag: list[int]
    honest_flagged: int
    pairs_flagged: int
    kept_out: int  # peers who never passed calibration
    known_answer_checks: int
    refusals: dict[str, int]  # claims refused, by error code
    errors: int
    error_samples: list[str]
    # Colluders whose pair was not flagged by their 10th review, but whose claim rights on the
    # credential were stopped (trust floor) by then: they cannot review their partner either.
    colluders_suspended_within_10: int = 0
    # The API's answers to the simulated people (wall milliseconds): at `scale` seconds per
    # simulated hour, how much simulated time the server's own pace added to each step.
    api_median_ms: float = float("nan")
    api_p90_ms: float = float("nan")
    # Per colluder, reviews done before their partner's packet was handed in (none flags a
    # grab that has not happened), sorted.
    colluder_reviews_before: list[int] = field(default_factory=list)
    # Colluders who scored their partner's packet at all (the rest never got to grab it).
    colluders_grabbed: int = 0

    @property
    def accuracy(self) -> float:
        return self.right / self.decided if self.decided else float("nan")

    @property
    def escalated_share(self) -> float:
        return self.escalated / self.submissions if self.submissions else float("nan")


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def final_levels(peer: list[list[int]], expert: list[list[int]]) -> list[int]:
    """Per criterion: the last expert's levels when an expert scored, else the peers' median
    (the lower middle value for an even count, as MCX counts)."""
    if expert:
        return expert[-1]
    return [sorted(col)[(len(col) - 1) // 2] for col in zip(*peer, strict=True)]


async def measure(
    engine: AsyncEngine,
    world: World,
    population: Population,
    log: Log,
    scale: float,
    *,
    expert_hours_each: float,
    kept_out: int = 0,
) -> Result:
    key_of = {uuid.UUID(sid): key for key, sid in log.submission_of.items()}
    truth = {e.key: e.truth for e in population.earners}
    async with engine.connect() as conn:
        outcomes = (
            await conn.execute(
                text(
                    "SELECT s.id, o.decision, EXTRACT(EPOCH FROM o.decided_at - v.submitted_at), "
                    "o.rule "
                    "FROM submissions s JOIN submission_versions v ON v.submission_id = s.id "
                    "LEFT JOIN outcomes o ON o.version_id = v.id WHERE s.credential_id = :c"
                ),
                {"c": world.credential_id},
            )
        ).all()
        scores = (
            await conn.execute(
                text(
                    "SELECT r.submission_id, r.reviewer_id, t.pool, rc.position, lv.position "
                    "FROM reviews r JOIN review_tasks t ON t.id = r.task_id "
                    "JOIN submissions s ON s.id = r.submission_id "
                    "JOIN review_scores sc ON sc.review_id = r.id "
                    "JOIN rubric_criteria rc ON rc.id = sc.criterion_id "
                    "JOIN rubric_levels lv ON lv.id = sc.level_id "
                    "WHERE r.state = 'submitted' AND s.credential_id = :c "
                    "AND s.id NOT IN (SELECT submission_id FROM calibration_examples) "
                    "ORDER BY r.submitted_at, rc.position"
                ),
                {"c": world.credential_id},
            )
        ).all()
        escalated = (
            await conn.execute(
                text(
                    "SELECT count(DISTINCT t.submission_id) FROM review_tasks t "
                    "JOIN submissions s ON s.id = t.submission_id "
                    "WHERE t.pool = 'expert' AND s.credential_id = :c"
                ),
                {"c": world.credential_id},
            )
        ).scalar_one()
        # Reviews (live and known-answer) each reviewer completed before their claim rights
        # for this credential were suspended, if they were.
        suspended = (
            await conn.execute(
                text(
                    "SELECT st.reviewer_id, "
                    "(SELECT count(*) FROM reviews r WHERE r.reviewer_id = st.reviewer_id "
                    " AND r.state = 'submitted' AND r.submitted_at <= st.suspended_at) "
                    "FROM reviewer_standings st "
                    "WHERE st.credential_id = :c AND st.suspended_at IS NOT NULL"
                ),
                {"c": world.credential_id},
            )
        ).all()
        checks = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM calibration_attempts "
                    "WHERE credential_id = :c AND kind = 'known_answer'"
                ),
                {"c": world.credential_id},
            )
        ).scalar_one()
        expired = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM notifications WHERE kind = 'claim.expired' "
                    "AND user_id = ANY(:users)"
                ),
                {"users": list(world.user_ids.values())},
            )
        ).scalar_one()

        tiebreaks = (
            await conn.execute(
                text(
                    "SELECT count(DISTINCT t.submission_id) FROM review_tasks t "
                    "JOIN submissions s ON s.id = t.submission_id "
                    "WHERE t.reason = 'tiebreak' AND s.credential_id = :c"
                ),
                {"c": world.credential_id},
            )
        ).scalar_one()
        settled = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM outcomes o JOIN submissions s ON s.id = o.submission_id "
                    "WHERE s.credential_id = :c AND o.rule LIKE '%third peer settled%'"
                ),
                {"c": world.credential_id},
            )
        ).scalar_one()
        # Each flagged pair of this world's people, with how many reviews each member had
        # completed (live and known-answer) when it was flagged; a hold confirmed as a flag
        # counts from when the hold began, and a hold never confirmed is no flag.
        pairs = (
            await conn.execute(
                text(
                    "SELECT rp.reviewer_id, rp.partner_id, "
                    "(SELECT count(*) FROM reviews r WHERE r.reviewer_id = rp.reviewer_id "
                    " AND r.state = 'submitted' AND r.submitted_at <= rp.flagged_at), "
                    "(SELECT count(*) FROM reviews r WHERE r.reviewer_id = rp.partner_id "
                    " AND r.state = 'submitted' AND r.submitted_at <= rp.flagged_at) "
                    "FROM reviewer_pairs rp WHERE rp.credential_id = :c AND NOT rp.held"
                ),
                {"c": world.credential_id},
            )
        ).all()

        # Per colluder, reviews they had submitted when their partner's packet was handed in.
        partner_packet = {
            world.user_ids[r.key]: uuid.UUID(log.submission_of[r.partner])
            for r in population.peers
            if r.trait == Trait.colluding and r.partner in log.submission_of
        }
        before = (
            (
                await conn.execute(
                    text(
                        "SELECT count(r.id) FROM unnest(CAST(:colluders AS uuid[]), "
                        "CAST(:packets AS uuid[])) AS c(reviewer_id, submission_id) "
                        "JOIN submission_versions v ON v.submission_id = c.submission_id "
                        "AND v.number = 1 "
                        "LEFT JOIN reviews r ON r.reviewer_id = c.reviewer_id "
                        "AND r.state = 'submitted' AND r.submitted_at < v.submitted_at "
                        "GROUP BY c.reviewer_id"
                    ),
                    {
                        "colluders": list(partner_packet),
                        "packets": list(partner_packet.values()),
                    },
                )
            )
            .scalars()
            .all()
            if partner_packet
            else []
        )
        # Colluders who got to score their partner's packet (a grab that happened).
        grabbed = (
            (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM unnest(CAST(:colluders AS uuid[]), "
                        "CAST(:packets AS uuid[])) AS c(reviewer_id, submission_id) "
                        "WHERE EXISTS (SELECT 1 FROM reviews r WHERE r.reviewer_id = c.reviewer_id "
                        "AND r.submission_id = c.submission_id AND r.state = 'submitted')"
                    ),
                    {
                        "colluders": list(partner_packet),
                        "packets": list(partner_packet.values()),
                    },
                )
            ).scalar_one()
            if partner_packet
            else 0
        )

    # review -> levels by criterion position
    reviews: dict[tuple[uuid.UUID, uuid.UUID], tuple[str, dict[int, int]]] = {}
    for submission_id, reviewer_id, pool, criterion, level in scores:
        reviews.setdefault((submission_id, reviewer_id), (pool, {}))[1][criterion] = level
    peer_levels: dict[uuid.UUID, list[list[int]]] = defaultdict(list)
    expert_levels: dict[uuid.UUID, list[list[int]]] = defaultdict(list)
    for (submission_id, _), (pool, by_criterion) in reviews.items():
        levels = [by_criterion[c] for c in sorted(by_criterion)]
        (expert_levels if pool == "expert" else peer_levels)[submission_id].append(levels)

    right = false_pass = false_fail = decided = 0
    criterion_hits = criterion_total = 0
    hours: list[float] = []
    key_of_user = {uid: key for key, uid in world.user_ids.items()}
    trait_of = {r.key: r.trait.value for r in (*population.peers, *population.experts)}
    debug = os.environ.get("RIGOUR_DEBUG") and world.policy.name.startswith("mcx")
    by_rule: dict[str, list[float]] = defaultdict(list)
    for submission_id, decision, seconds, rule in outcomes:
        key = key_of.get(submission_id)
        if key is None or decision is None:
            continue
        decided += 1
        hours.append(float(seconds) / scale)
        by_rule[str(rule)[:60]].append(float(seconds) / scale)
        truly = min(truth[key]) >= PASS_LEVEL
        said = decision == "pass"
        if debug and said != truly:
            who = [
                f"{trait_of.get(key_of_user.get(r, '?'), '?')}:{pool}:"
                + "".join(str(lv[c]) for c in sorted(lv))
                for (s, r), (pool, lv) in reviews.items()
                if s == submission_id
            ]
            print(
                f"WRONG {world.policy.name} {key} truth={truth[key]} said={decision} "
                f"h={float(seconds) / scale:.0f} rule={rule!r} {who}",
                flush=True,
            )
        right += said == truly
        false_pass += said and not truly
        false_fail += truly and not said
        if peer_levels[submission_id] or expert_levels[submission_id]:
            final = final_levels(peer_levels[submission_id], expert_levels[submission_id])
            criterion_hits += sum(f == t for f, t in zip(final, truth[key], strict=True))
            criterion_total += CRITERIA

    if os.environ.get("RIGOUR_DEBUG"):
        async with engine.connect() as conn:
            steps = (
                await conn.execute(
                    text(
                        "SELECT t.pool || ':' || t.reason, "
                        "EXTRACT(EPOCH FROM t.created_at - v.submitted_at), "
                        "EXTRACT(EPOCH FROM t.claimed_at - t.created_at), "
                        "EXTRACT(EPOCH FROM t.completed_at - t.claimed_at) "
                        "FROM review_tasks t JOIN submission_versions v ON v.id = t.version_id "
                        "JOIN submissions s ON s.id = t.submission_id "
                        "WHERE s.credential_id = :c AND t.state = 'completed' "
                        "AND s.id NOT IN (SELECT submission_id FROM calibration_examples)"
                    ),
                    {"c": world.credential_id},
                )
            ).all()
            # Where undecided packets wait: each one's tasks not completed, by state.
            waiting = (
                await conn.execute(
                    text(
                        "SELECT s.state, t.pool, t.reason, t.state, t.min_trust "
                        "FROM submissions s JOIN review_tasks t ON t.submission_id = s.id "
                        "WHERE s.credential_id = :c AND t.state <> 'completed' "
                        "AND s.id NOT IN (SELECT submission_id FROM outcomes) "
                        "AND s.id NOT IN (SELECT submission_id FROM calibration_examples)"
                    ),
                    {"c": world.credential_id},
                )
            ).all()
            # Who could break ties: standings measured by known-answer checks, and trusted.
            standing = (
                await conn.execute(
                    text(
                        "SELECT count(*), count(*) FILTER (WHERE " + CHECKS + " >= :n), "
                        "count(*) FILTER (WHERE " + MEASURED + " >= 80), "
                        "count(*) FILTER (WHERE st.suspended_at IS NOT NULL) "
                        "FROM reviewer_standings st WHERE st.credential_id = :c"
                    ),
                    {"c": world.credential_id, "n": MEASURED_CHECKS},
                )
            ).one()
            each = (
                await conn.execute(
                    text(
                        "SELECT st.reviewer_id, round(st.trust::numeric, 1), "
                        "st.suspended_at IS NOT NULL, st.calibrated_at IS NOT NULL, "
                        "st.components FROM reviewer_standings st WHERE st.credential_id = :c"
                    ),
                    {"c": world.credential_id},
                )
            ).all()
            for who, trust_now, off, calibrated, parts in sorted(
                each, key=lambda row: trait_of.get(key_of_user.get(row[0], "?"), "?")
            ):
                print(
                    f"TRUST {world.policy.name} {trait_of.get(key_of_user.get(who, '?'), '?')} "
                    f"trust={trust_now} suspended={off} calibrated={calibrated} "
                    f"reviews={log.reviews.get(key_of_user.get(who, '?'), 0)} "
                    + " ".join(
                        f"{k}={round(float(v.get('score') or 0), 2)}/{v.get('count')}"
                        for k, v in sorted((parts or {}).items())
                        if isinstance(v, dict)
                    ),
                    flush=True,
                )
            print(
                f"STANDINGS {world.policy.name} at the end: {standing[0]} reviewers, "
                f"{standing[1]} measured, {standing[2]} measured trust >= 80, "
                f"{standing[3]} suspended",
                flush=True,
            )
            kept = (
                await conn.execute(
                    text(
                        "SELECT a.data -> 'kept_off', t.state, "
                        "EXTRACT(EPOCH FROM t.created_at - v.submitted_at) "
                        "FROM audit_log a JOIN review_tasks t "
                        "ON t.submission_id::text = a.subject_id AND t.reason = 'tiebreak' "
                        "JOIN submission_versions v ON v.id = t.version_id "
                        "JOIN submissions s ON s.id = t.submission_id "
                        "WHERE a.action = 'submission.tiebreak' AND s.credential_id = :c"
                    ),
                    {"c": world.credential_id},
                )
            ).all()
            for kept_off, state, after in kept:
                print(
                    f"TIEBREAK {world.policy.name} {state} opened {float(after) / scale:.0f} h "
                    f"after hand-in, kept off {dict(kept_off or {})}",
                    flush=True,
                )
        for where, n in Counter(" ".join(map(str, found)) for found in waiting).most_common():
            print(f"UNDECIDED {world.policy.name} {n} x {where}", flush=True)
        grouped: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        async with engine.connect() as conn:
            packets = (
                await conn.execute(
                    text(
                        "SELECT s.id, array_agg(EXTRACT(EPOCH FROM t.claimed_at - v.submitted_at) "
                        "ORDER BY t.claimed_at), array_agg(t.reviewer_id::text ORDER BY t.claimed_at) "
                        "FROM submissions s JOIN submission_versions v ON v.submission_id = s.id "
                        "JOIN review_tasks t ON t.version_id = v.id AND t.reason = 'initial' "
                        "WHERE s.credential_id = :c AND t.claimed_at IS NOT NULL GROUP BY s.id"
                    ),
                    {"c": world.credential_id},
                )
            ).all()
        arrives = {e.key: e.arrives_at for e in population.earners}
        spent_of = {
            sid: (float(sec) / scale if sec is not None else -1.0) for sid, _d, sec, _r in outcomes
        }
        for sid, waits, claimers in packets:
            key = key_of.get(sid)
            if key is None:
                continue
            at = arrives[key]
            print(
                f"PACKET {world.policy.name} {key} at={at:.1f} tod={(at + 12) % 24:.1f} "
                f"waits={[round(float(w) / scale, 1) for w in waits]} "
                f"by={[trait_of.get(key_of_user.get(uuid.UUID(c), '?'), '?') for c in claimers]} "
                f"decided={spent_of.get(sid, -1.0):.1f}",
                flush=True,
            )
        for kind, made, waited, worked in steps:
            grouped[kind].append(
                (float(made) / scale, float(waited) / scale, float(worked) / scale)
            )
        for request, took in sorted(log.latency.items()):
            print(
                f"API {world.policy.name} {request}: n={len(took)} median "
                f"{statistics.median(took) * 1000:.0f} ms, p90 {quantile(took, 0.9) * 1000:.0f} ms",
                flush=True,
            )
        for kind, rows in grouped.items():
            print(
                f"STEP {world.policy.name} {kind} n={len(rows)} opened after "
                f"{statistics.median(r[0] for r in rows):.1f} h, claimed after "
                f"{statistics.median(r[1] for r in rows):.1f} h (p90 {quantile([r[1] for r in rows], 0.9):.1f}), "
                f"done in {statistics.median(r[2] for r in rows):.2f} h",
                flush=True,
            )
        by_day: dict[int, Counter[str]] = defaultdict(Counter)
        for hour, _who, what in log.claims:
            by_day[int(hour // 6)][what] += 1
        for bucket, seen in sorted(by_day.items()):
            print(f"CLAIMS {world.policy.name} h{bucket * 6:03d} {dict(seen)}", flush=True)
        for rule, spent in sorted(by_rule.items(), key=lambda kv: -len(kv[1])):
            print(
                f"RULE {world.policy.name} n={len(spent)} median={statistics.median(spent):.1f} "
                f"{rule!r}",
                flush=True,
            )

    # Krippendorff's alpha (ordinal) over peer scores: units are (packet, criterion).
    coders = sorted({reviewer for (_, reviewer) in reviews if reviews[(_, reviewer)][0] == "peer"})
    units = sorted({(s, c) for (s, r), (pool, lv) in reviews.items() if pool == "peer" for c in lv})
    index = {u: i for i, u in enumerate(units)}
    matrix = np.full((len(coders), len(units)), np.nan)
    for row, coder in enumerate(coders):
        for (s, r), (pool, lv) in reviews.items():
            if r == coder and pool == "peer":
                for c, level in lv.items():
                    matrix[row, index[(s, c)]] = level
    alpha = (
        float(
            krippendorff.alpha(
                reliability_data=matrix,
                level_of_measurement="ordinal",
                value_domain=list(range(LEVELS)),
            )
        )
        if (np.sum(~np.isnan(matrix), axis=0) >= 2).any()
        else float("nan")  # one review per packet: nothing to agree on
    )

    answered = [took for times in log.latency.values() for took in times]
    stopped_after = {key_of_user[uid]: int(n) for uid, n in suspended}
    careless = [r.key for r in population.peers if r.trait == Trait.careless]
    colluders = [r.key for r in population.peers if r.trait == Trait.colluding]
    stopped = [stopped_after[k] for k in careless if k in stopped_after]
    colluding = {r.key: r for r in population.peers if r.trait == Trait.colluding}
    paired_after: dict[str, int] = {}
    flagged_people: set[str] = set()
    for a, b, reviews_a, reviews_b in pairs:
        ka, kb = key_of_user.get(a, "?"), key_of_user.get(b, "?")
        flagged_people |= {ka, kb}
        for me, other, done in ((ka, kb, reviews_a), (kb, ka, reviews_b)):
            if me in colluding and colluding[me].partner_reviewer == other:
                paired_after[me] = int(done)
    if debug:
        sub_of = {key: uuid.UUID(sid) for key, sid in log.submission_of.items()}
        for peer in population.peers:
            if peer.trait != Trait.colluding or peer.partner not in sub_of:
                continue
            sid = sub_of[peer.partner]
            on = [
                f"{key_of_user.get(rv, '?')}:{trait_of.get(key_of_user.get(rv, '?'), '?')}:{pool}:"
                + "".join(str(lv[c]) for c in sorted(lv))
                for (s_, rv), (pool, lv) in reviews.items()
                if s_ == sid
            ]
            print(
                f"COLLUDER {peer.key} partner-packet {peer.partner} truth={truth[peer.partner]} "
                f"reviews={log.reviews[peer.key]} paired_after={paired_after.get(peer.key)} "
                f"stopped_after={stopped_after.get(peer.key)} on-packet={on}",
                flush=True,
            )
    return Result(
        policy=world.policy.name,
        label=world.policy.label,
        submissions=len(log.submission_of),
        decided=decided,
        right=right,
        false_pass=false_pass,
        false_fail=false_fail,
        criterion_right=criterion_hits / criterion_total if criterion_total else float("nan"),
        alpha=alpha,
        escalated=int(escalated),
        expert_hours=log.expert_reviews * expert_hours_each,
        median_hours=statistics.median(hours) if hours else float("nan"),
        p90_hours=quantile(hours, 0.9),
        leases_expired=int(expired),
        careless=len(careless),
        careless_stopped=len(stopped),
        careless_stopped_within_10=sum(1 for n in stopped if n <= 10),
        careless_reviews=sorted(stopped),
        suspended_by_trait=dict(
            Counter(r.trait.value for r in population.peers if r.key in stopped_after)
        ),
        colluders_stopped=sum(1 for k in colluders if k in stopped_after),
        colluders=len(colluders),
        tiebreaks=int(tiebreaks),
        settled_by_third=int(settled),
        colluders_paired_within_10=sum(1 for n in paired_after.values() if n <= 10),
        colluders_suspended_within_10=sum(
            1 for k in colluders if paired_after.get(k, 11) > 10 and stopped_after.get(k, 11) <= 10
        ),
        colluder_reviews_at_flag=sorted(paired_after.values()),
        colluder_reviews_before=sorted(int(n) for n in before),
        colluders_grabbed=int(grabbed),
        api_median_ms=1000 * quantile(answered, 0.5),
        api_p90_ms=1000 * quantile(answered, 0.9),
        honest_flagged=len(flagged_people - set(colluding)),
        pairs_flagged=len(pairs),
        kept_out=kept_out,
        known_answer_checks=int(checks),
        refusals=dict(log.refusals),
        errors=len(log.errors),
        error_samples=log.errors[:5],
    )
