"""A coordinator's "what if?": the credential's own rubric and review rules applied, in memory,
to a simulated population, under its current settings and under proposed ones.

Nothing is written and nothing real is read but the rubric and the settings. The decision is
made by the same functions MCX decides real packets with (app.actions.escalations: the
triggers, the per-criterion median, the rubric's passing rule; app.actions.trust.combine for
trust, app.actions.tiebreak for the trusted third peer, app.agreement for trust weighting).
What it leaves out, it says: no waiting times, leases, availability, collusion or
agreement-based trust; the full simulator (`make rigour`) drives a real MCX for those.
"""

from __future__ import annotations

import random
import statistics
import uuid
from dataclasses import dataclass, field

from app.access import MEASURED_CHECKS, known_answer_rate
from app.actions import tiebreak
from app.actions.escalations import RubricShape, Scored, consensus, triggers
from app.actions.trust import combine
from app.agreement import accuracy_weight
from app.models import Decision, Pool, QualityPolicy
from app.simulation.population import Mix, Reviewer, Trait, sample_truth, score

MAX_PACKETS = 400
MAX_PEERS = 200


@dataclass(frozen=True)
class Scenario:
    """One set of review rules to try."""

    peer_reviews: int
    policy: QualityPolicy


@dataclass(frozen=True)
class Crowd:
    """The simulated people: how many, and the shares of unreliable reviewers."""

    packets: int = 200
    peers: int = 30
    mix: Mix = field(default_factory=Mix)
    seed: int = 2026


@dataclass
class Outcome:
    decided: int = 0
    right: int = 0
    false_pass: int = 0
    false_fail: int = 0
    escalated: int = 0
    tiebreaks: int = 0  # third peers asked
    settled_by_third: int = 0
    reviews: int = 0
    known_answer_checks: int = 0
    kept_out: int = 0  # peers who never passed calibration
    suspended: dict[str, int] = field(default_factory=dict)  # by trait
    undecided: int = 0  # too few eligible peers left to review

    @property
    def accuracy(self) -> float | None:
        return self.right / self.decided if self.decided else None

    @property
    def escalated_share(self) -> float | None:
        return self.escalated / self.decided if self.decided else None

    @property
    def reviews_per_packet(self) -> float | None:
        return self.reviews / self.decided if self.decided else None


def _peers(crowd: Crowd, rng: random.Random) -> list[Reviewer]:
    mix = crowd.mix
    shares = {
        Trait.careless: mix.careless,
        Trait.harsh: mix.harsh,
        Trait.lenient: mix.lenient,
        Trait.colluding: mix.colluding,
        Trait.noisy: mix.noisy,
        Trait.slow: mix.slow,
    }
    traits = [t for t, share in shares.items() for _ in range(round(crowd.peers * share))]
    traits = traits[: crowd.peers]
    traits += [Trait.accurate] * (crowd.peers - len(traits))
    rng.shuffle(traits)
    return [Reviewer(f"r{i}", t) for i, t in enumerate(traits)]


class _Run:
    def __init__(self, shape: RubricShape, scenario: Scenario, crowd: Crowd) -> None:
        self.shape = shape
        self.scenario = scenario
        self.policy = scenario.policy
        self.levels = min(len(points) for points in shape.points.values())
        self.rng = random.Random(crowd.seed)
        self.peers = _peers(crowd, self.rng)
        self.crowd = crowd
        self.calibration: dict[str, list[float]] = {p.key: [] for p in self.peers}
        self.checks: dict[str, list[float]] = {p.key: [] for p in self.peers}
        self.out = Outcome()
        self.suspended: set[str] = set()
        self.kept_out: set[str] = set()

    def truth(self) -> tuple[int, ...]:
        return sample_truth(self.rng, len(self.shape.criteria), self.levels)

    def credit(self, reviewer: Reviewer, truth: tuple[int, ...]) -> float:
        """Share of criteria within the calibration tolerance of the reference."""
        given = score(reviewer, truth, self.rng, owner=None, levels=self.levels)
        hits = sum(
            abs(g - t) <= self.policy.calibration_tolerance
            for g, t in zip(given, truth, strict=True)
        )
        return hits / len(truth)

    def calibrate(self) -> None:
        required = self.policy.calibration_required
        if not required:
            return
        for reviewer in self.peers:
            # An announced test: the careless take it seriously.
            tested = (
                Reviewer(reviewer.key, Trait.accurate)
                if reviewer.trait == Trait.careless
                else reviewer
            )
            passed = 0
            for _ in range(required + 2):
                credit = self.credit(tested, self.truth())
                self.calibration[reviewer.key].append(credit)
                passed += 100 * credit >= self.policy.calibration_pass_percent
                if passed >= required:
                    break
            if passed < required:
                self.kept_out.add(reviewer.key)

    def trust(self, key: str) -> float:
        cal, checks = self.calibration[key], self.checks[key]
        return combine(
            {
                "calibration": (statistics.fmean(cal) if cal else None, len(cal)),
                "known_answer": (statistics.fmean(checks) if checks else None, len(checks)),
            }
        )

    def measured_trust(self, key: str) -> float:
        """Trust as routing counts it (app.access.MEASURED_TRUST): at most the prior until
        known-answer checks back it."""
        trust = self.trust(key)
        return trust if len(self.checks[key]) >= MEASURED_CHECKS else min(trust, 75.0)

    def available(self, exclude: set[str]) -> list[Reviewer]:
        return [
            p
            for p in self.peers
            if p.key not in self.suspended and p.key not in self.kept_out and p.key not in exclude
        ]

    def next_reviewer(self, exclude: set[str], min_trust: float | None = None) -> Reviewer | None:
        """A peer takes the task; a known-answer check may come first, and may suspend them.
        With `min_trust` (a tie-break), only a peer trusted at least that much."""
        while candidates := [
            p
            for p in self.available(exclude)
            if min_trust is None or self.measured_trust(p.key) >= min_trust
        ]:
            reviewer = self.rng.choice(candidates)
            checks = self.checks[reviewer.key]
            rate = known_answer_rate(
                self.policy.known_answer_percent,
                {
                    "known_answer": {
                        "score": statistics.fmean(checks) if checks else None,
                        "count": len(checks),
                    }
                },
            )
            if self.rng.random() * 100 < rate:
                self.out.known_answer_checks += 1
                self.checks[reviewer.key].append(self.credit(reviewer, self.truth()))
                if self.trust(reviewer.key) < self.policy.trust_floor:
                    self.suspended.add(reviewer.key)
                    continue
            return reviewer
        return None

    def scored(self, reviewer: Reviewer, truth: tuple[int, ...], pool: str) -> Scored:
        given = score(reviewer, truth, self.rng, owner=None, levels=self.levels)
        levels = {c.id: g for c, g in zip(self.shape.criteria, given, strict=True)}
        checks = self.checks.get(reviewer.key, [])
        weight = accuracy_weight(statistics.fmean(checks) if checks else None, len(checks))
        return Scored(
            uuid.uuid4(), uuid.uuid4(), pool, self.shape.verdict(levels), levels, weight=weight
        )

    def decide(self, truth: tuple[int, ...], peers: list[Scored], taken: set[str]) -> str:
        """The decision for one packet's peer reviews, asking a third peer or an expert."""
        weighted = self.policy.trust_weighted
        found = triggers(self.policy, self.shape, peers)
        if found and tiebreak.applies(self.policy, found):
            self.out.tiebreaks += 1
            third = self.next_reviewer(taken, float(self.policy.tiebreak_min_trust))
            if third is not None:
                self.out.reviews += 1
                review = self.scored(third, truth, Pool.peer)
                settled = tiebreak.settle(
                    self.shape, [*peers, review], review, weighted=weighted, found=found
                )
                if settled is not None:
                    self.out.settled_by_third += 1
                    return settled
            found = [*found, (tiebreak.UNSETTLED, "not settled")]
        if found:
            self.out.escalated += 1
            self.out.reviews += 1
            return self.scored(Reviewer("expert", Trait.expert), truth, Pool.expert).recommendation
        return self.shape.verdict(consensus(self.shape, peers, weighted=weighted))

    def packet(self) -> None:
        truth = self.truth()
        taken: set[str] = set()
        peers: list[Scored] = []
        for _ in range(self.scenario.peer_reviews):
            reviewer = self.next_reviewer(taken)
            if reviewer is None:
                self.out.undecided += 1
                return
            taken.add(reviewer.key)
            peers.append(self.scored(reviewer, truth, Pool.peer))
        self.out.reviews += len(peers)
        said = self.decide(truth, peers, taken)
        truly = self.shape.verdict(
            {c.id: t for c, t in zip(self.shape.criteria, truth, strict=True)}
        )
        self.out.decided += 1
        self.out.right += said == truly
        self.out.false_pass += said == Decision.passed and truly != Decision.passed
        self.out.false_fail += said != Decision.passed and truly == Decision.passed

    def run(self) -> Outcome:
        self.calibrate()
        for _ in range(min(self.crowd.packets, MAX_PACKETS)):
            self.packet()
        self.out.kept_out = len(self.kept_out)
        by_trait: dict[str, int] = {}
        for reviewer in self.peers:
            if reviewer.key in self.suspended:
                by_trait[reviewer.trait.value] = by_trait.get(reviewer.trait.value, 0) + 1
        self.out.suspended = by_trait
        return self.out


def what_if(shape: RubricShape, scenario: Scenario, crowd: Crowd) -> Outcome:
    """The scenario's decisions on the crowd's packets, against their hidden true levels."""
    if not shape.criteria:
        raise ValueError("the rubric has no criteria")
    bounded = Crowd(
        packets=max(1, min(crowd.packets, MAX_PACKETS)),
        peers=max(scenario.peer_reviews, min(crowd.peers, MAX_PEERS)),
        mix=crowd.mix,
        seed=crowd.seed,
    )
    return _Run(shape, scenario, bounded).run()
