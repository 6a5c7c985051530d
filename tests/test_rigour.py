"""The rigour simulator's own parts: a seeded population repeats, traits score as described,
and the report states targets honestly."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from app.simulation.population import (
    CRITERIA,
    LEVELS,
    Mix,
    Params,
    Reviewer,
    Trait,
    make_population,
    score,
)
from bench.rigour.metrics import Result, final_levels
from bench.rigour.report import Population, write_report
from bench.rigour.run import RunConfig
from bench.rigour.world import POLICIES


def test_the_same_seed_gives_the_same_population_and_another_seed_does_not() -> None:
    first, again = make_population(Params(seed=11)), make_population(Params(seed=11))
    other = make_population(Params(seed=12))
    assert [(e.key, e.truth, e.arrives_at) for e in first.earners] == [
        (e.key, e.truth, e.arrives_at) for e in again.earners
    ]
    assert [e.truth for e in first.earners] != [e.truth for e in other.earners]


def test_the_mix_is_honoured_and_colluders_come_in_pairs_with_packets_of_their_own() -> None:
    params = Params(peers=40, mix=Mix(careless=0.2, harsh=0.05, lenient=0.05, colluding=0.1))
    population = make_population(params)
    traits = Counter(r.trait for r in population.peers)
    assert traits[Trait.careless] == 8
    assert traits[Trait.harsh] == traits[Trait.lenient] == 2
    assert traits[Trait.colluding] == 4
    colluders = {r.key: r for r in population.peers if r.trait == Trait.colluding}
    for reviewer in colluders.values():
        packet = population.earner(reviewer.partner or "")
        # The partner's packet names this reviewer as the one who will pass it.
        assert packet.partner == reviewer.key
        assert packet.key[1:] in colluders and packet.key[1:] != reviewer.key
    # Colluders' packets, and some honest reviewers' own, come from their reviewer accounts.
    own = [e for e in population.earners if e.account is not None]
    assert len(population.earners) == params.earners + len(own)
    assert {e.account for e in own} >= set(colluders)
    assert all(e.account in {r.key for r in population.peers} for e in own)


def test_traits_score_as_described() -> None:
    rng = random.Random(3)
    truth = (2, 2, 1, 3)
    harsh = [score(Reviewer("h", Trait.harsh), truth, rng, owner=None) for _ in range(400)]
    lenient = [score(Reviewer("l", Trait.lenient), truth, rng, owner=None) for _ in range(400)]
    careless = [score(Reviewer("c", Trait.careless), truth, rng, owner=None) for _ in range(400)]
    mean = lambda rows: sum(map(sum, rows)) / len(rows)  # noqa: E731
    assert mean(harsh) < sum(truth) - 2 < sum(truth) + 2 < mean(lenient)
    # Careless levels cover the whole scale whatever the packet holds.
    assert {level for row in careless for level in row} == set(range(LEVELS))
    colluder = Reviewer("r1", Trait.colluding, partner="cr2")
    assert score(colluder, (0,) * CRITERIA, rng, owner="cr2") == [LEVELS - 1] * CRITERIA
    assert score(colluder, (0,) * CRITERIA, rng, owner="e001") != [LEVELS - 1] * CRITERIA


def test_the_final_level_is_the_lower_middle_for_an_even_count_and_the_expert_overrides() -> None:
    assert final_levels([[1, 3], [2, 2]], []) == [1, 2]
    assert final_levels([[0, 3], [1, 1], [3, 2]], []) == [1, 2]
    assert final_levels([[0, 0], [3, 3]], [[2, 1]]) == [2, 1]


def _result(policy: str, right: int, escalated: int, median: float) -> Result:
    return Result(
        policy=policy, label=policy, submissions=100, decided=100, right=right,
        false_pass=(100 - right) // 2, false_fail=(100 - right + 1) // 2, criterion_right=0.9,
        alpha=0.7, escalated=escalated, expert_hours=float(escalated), median_hours=median,
        p90_hours=median * 2, leases_expired=3, careless=8, careless_stopped=8,
        careless_stopped_within_10=7, careless_reviews=[2, 3, 4, 5, 6, 7, 9, 12],
        colluders_stopped=1, colluders=2, kept_out=1, known_answer_checks=30,
        suspended_by_trait={'careless': 7}, refusals={}, errors=0, error_samples=[],
        tiebreaks=10, settled_by_third=6, colluders_paired_within_10=2,
        colluder_reviews_at_flag=[3, 7], honest_flagged=0, pairs_flagged=1,
    )  # fmt: skip


def test_the_report_says_which_targets_were_met_and_which_were_missed(tmp_path: Path) -> None:
    config = RunConfig(params=Params(), policies=POLICIES, scale=2.0)
    results = [
        _result("two_peers", 90, 30, 20.0),
        _result("two_peers_screened", 92, 0, 22.0),
        _result("mcx", 98, 20, 24.0),
    ]
    results[2].colluder_reviews_before = [1, 12]
    results[2].colluders_grabbed = 2
    for result, (median, p90) in zip(results, [(120, 900), (100, 700), (140, 800)], strict=True):
        result.api_median_ms, result.api_p90_ms = median, p90
    write_report(tmp_path, [Population("A", config, results, 300.0)], 300.0)
    report = (tmp_path / "RIGOUR.md").read_text()
    assert "Decisions right: 98.00 % (98 of 100) (target ≥ 97 %): met." in report
    assert "False passes: 1 (target 0): missed." in report
    assert "Submissions seen by an expert: 20.00 % (20 of 100) (target ≤ 15 %): missed." in report
    assert (
        "Median time to decision: 1.200× two-peer majority (24.00 h against 20.00 h; two-peer "
        "majority among only the accurate, slow and colluding peers took 22.00 h, 1.100×) "
        "(target ≤ 1.25×): met." in report
    )
    assert (
        "2 of 2: 2 by the pair flag (reviews done when flagged: [3, 7]), 0 by the trust floor "
        "alone; reviews each had done before their partner's packet was handed in: [1, 12]; "
        "2 of 2 got to score their partner's packet (target ≥ 3 of 4 (75 %)): met." in report
    )
    # The server's pace, in wall and in simulated time (2 s per simulated hour).
    assert (
        "The API answered the simulated people in a median 120 ms (p90 900 ms, the slowest "
        "policy's), that is 3.6 simulated minutes per request." in report
    )
    assert "Honest reviewers flagged in a pair: 0 (target ≤ 1): met." in report
    assert "Population A: 4 of 6 targets met; missed: False passes; Submissions seen" in report
    svg = (tmp_path / "rigour.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<rect") > 8


def test_a_figure_just_short_of_a_target_never_prints_as_reaching_it(tmp_path: Path) -> None:
    config = RunConfig(params=Params(), policies=POLICIES)
    # 128 of 132 right is 96.97 %: a one-decimal figure would read "97.0 %" and be missed.
    mcx = _result("mcx", 98, 15, 25.01)
    mcx.decided, mcx.right, mcx.submissions = 132, 128, 100
    write_report(tmp_path, [Population("A", config, [_result("two_peers", 90, 0, 20.0), mcx],
                                       300.0)], 300.0)  # fmt: skip
    report = (tmp_path / "RIGOUR.md").read_text()
    assert "Decisions right: 96.96 % (128 of 132) (target ≥ 97 %): missed." in report
    assert "Submissions seen by an expert: 15.00 % (15 of 100) (target ≤ 15 %): met." in report
    assert "1.251× two-peer majority (25.01 h against 20.00 h) (target ≤ 1.25×): missed." in report
