"""Who takes part in a rigour run: earners whose packets have a hidden true level per criterion,
and reviewers with traits. Everything is drawn from one seeded generator, so a run repeats."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

# The simulated rubric: CRITERIA criteria, LEVELS ordered levels (0 = Beginning .. 3 = Exemplary);
# a packet passes when every criterion is at PASS_LEVEL or above (MCX's `min_level` rule).
CRITERIA = 4
LEVELS = 4
PASS_LEVEL = 2
LEVEL_LABELS = ["Beginning", "Developing", "Proficient", "Exemplary"]


class Trait(StrEnum):
    accurate = "accurate"
    noisy = "noisy"
    harsh = "harsh"
    lenient = "lenient"
    careless = "careless"
    colluding = "colluding"
    slow = "slow"
    expert = "expert"


@dataclass(frozen=True)
class Mix:
    """Shares of the peer population by trait; the rest are accurate."""

    careless: float = 0.20
    harsh: float = 0.05
    lenient: float = 0.05
    colluding: float = 0.05
    noisy: float = 0.10
    slow: float = 0.05


# When people can review, in hours of the week (0 = Monday 00:00). Teachers review in the
# evenings and at weekends; some also in a free period at school; experts are paid assessors
# working office hours (and a little on Saturday). Simulated hour 0 is Friday noon, so a run
# spans a weekend.
WEEK_START_HOURS = 4 * 24 + 12
SCHEDULES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    # name: ((weekday from, to), (weekend from, to)); a second weekday window for "breaks"
    "evenings": ((16.0, 23.0), (8.0, 22.0)),
    "breaks": ((12.0, 23.0), (10.0, 20.0)),
    "office": ((8.0, 18.0), (10.0, 13.0)),
}


def available(schedule: str, hour: float) -> bool:
    """Whether someone on `schedule` can review at simulated `hour`."""
    t = (hour + WEEK_START_HOURS) % 168
    weekday, clock = int(t // 24), t % 24
    start, end = SCHEDULES[schedule][0 if weekday < 5 else 1]
    return start <= clock < end


def next_available(schedule: str, hour: float) -> float:
    """The first simulated hour at or after `hour` when `schedule` is available."""
    step = 0.25
    probe = hour
    while not available(schedule, probe):
        probe = (int(probe / step) + 1) * step
    return probe


@dataclass(frozen=True)
class Params:
    seed: int = 2026
    earners: int = 120
    peers: int = 40
    experts: int = 4
    mix: Mix = field(default_factory=Mix)
    # Simulated hours: packets arrive over this window, reviewers look in every ~this often.
    arrival_hours: float = 48.0
    # While available, a reviewer looks in every ~this many hours.
    peer_visit_hours: float = 1.0
    expert_visit_hours: float = 1.5
    # Share of honest peers who also submit a packet of their own (colluders always do).
    peers_submitting: float = 0.25
    # Hours a review takes, by kind of reviewer.
    review_hours: float = 0.75
    careless_review_hours: float = 0.1
    expert_review_hours: float = 1.0


@dataclass
class Earner:
    key: str
    truth: tuple[int, ...]
    arrives_at: float  # simulated hours after the start
    # A colluding reviewer's own packet names their partner, who passes it whatever it holds.
    partner: str | None = None
    # A reviewer's own packet is submitted from their reviewer account (this key).
    account: str | None = None

    @property
    def truly_passes(self) -> bool:
        return min(self.truth) >= PASS_LEVEL


@dataclass
class Reviewer:
    key: str
    trait: Trait
    partner: str | None = None  # a colluding pair's other member's packet (an earner key)
    schedule: str = "evenings"  # when they review (SCHEDULES)

    @property
    def partner_reviewer(self) -> str | None:
        """A colluder's partner, as a reviewer key."""
        return self.partner[1:] if self.partner else None


@dataclass
class Population:
    params: Params
    earners: list[Earner]
    peers: list[Reviewer]
    experts: list[Reviewer]

    def earner(self, key: str) -> Earner:
        return next(e for e in self.earners if e.key == key)


def sample_truth(
    rng: random.Random, criteria: int = CRITERIA, levels: int = LEVELS
) -> tuple[int, ...]:
    """A packet's true levels: one underlying quality plus per-criterion variation, so that
    many packets sit near the pass line, where review decisions are hard."""
    top = levels - 1
    quality = rng.uniform(0.3, 1.1) * top
    return tuple(
        max(0, min(top, round(quality + rng.gauss(0.0, 0.18 * top)))) for _ in range(criteria)
    )


def make_population(params: Params) -> Population:
    rng = random.Random(params.seed)
    mix = params.mix
    counts = {
        Trait.careless: round(params.peers * mix.careless),
        Trait.harsh: round(params.peers * mix.harsh),
        Trait.lenient: round(params.peers * mix.lenient),
        # Colluders come in pairs.
        Trait.colluding: 2 * round(params.peers * mix.colluding / 2),
        Trait.noisy: round(params.peers * mix.noisy),
        Trait.slow: round(params.peers * mix.slow),
    }
    traits = [trait for trait, n in counts.items() for _ in range(n)]
    traits += [Trait.accurate] * (params.peers - len(traits))
    rng.shuffle(traits)
    peers = [
        Reviewer(key=f"r{i:03d}", trait=t, schedule=rng.choice(("evenings", "breaks")))
        for i, t in enumerate(traits)
    ]
    experts = [
        Reviewer(key=f"x{i:02d}", trait=Trait.expert, schedule="office")
        for i in range(params.experts)
    ]

    earners = [
        Earner(
            key=f"e{i:03d}",
            truth=sample_truth(rng),
            arrives_at=rng.uniform(0, params.arrival_hours),
        )
        for i in range(params.earners)
    ]
    # Each colluder also submits a packet of their own (usually not good enough), which their
    # partner will try to pass.
    colluders = [r for r in peers if r.trait == Trait.colluding]
    for a, b in zip(colluders[::2], colluders[1::2], strict=True):
        for member, other in ((a, b), (b, a)):
            packet = Earner(
                key=f"c{member.key}",
                truth=tuple(rng.choice((0, 1, 1, 2)) for _ in range(CRITERIA)),
                arrives_at=rng.uniform(0, params.arrival_hours),
                partner=other.key,
                account=member.key,
            )
            earners.append(packet)
            member.partner = f"c{other.key}"
    # Some honest reviewers are earners too: their packets let the pair detector be wrong.
    for reviewer in peers:
        if reviewer.trait != Trait.colluding and rng.random() < params.peers_submitting:
            earners.append(
                Earner(
                    key=f"o{reviewer.key}",
                    truth=sample_truth(rng),
                    arrives_at=rng.uniform(0, params.arrival_hours),
                    account=reviewer.key,
                )
            )
    earners.sort(key=lambda e: e.arrives_at)
    return Population(params=params, earners=earners, peers=peers, experts=experts)


def score(
    reviewer: Reviewer,
    truth: tuple[int, ...],
    rng: random.Random,
    *,
    owner: str | None,
    levels: int = LEVELS,
) -> list[int]:
    """The levels this reviewer gives a packet whose true levels are `truth`."""

    def clamp(level: float) -> int:
        return max(0, min(levels - 1, round(level)))

    trait = reviewer.trait
    if trait == Trait.colluding and owner is not None and owner == reviewer.partner:
        return [levels - 1] * len(truth)
    if trait == Trait.careless:
        return [rng.randrange(levels) for _ in truth]
    if trait == Trait.expert:
        return [t if rng.random() < 0.95 else clamp(t + rng.choice((-1, 1))) for t in truth]
    if trait == Trait.noisy:
        return [clamp(t + rng.gauss(0.0, 0.9)) for t in truth]
    offset = {Trait.harsh: -1, Trait.lenient: 1}.get(trait, 0)
    # Accurate (and slow, colluding on strangers' work, harsh/lenient around their offset).
    return [
        clamp(t + offset) if rng.random() < 0.85 else clamp(t + offset + rng.choice((-1, 1)))
        for t in truth
    ]
