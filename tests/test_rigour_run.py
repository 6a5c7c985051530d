"""`make rigour` end to end, scaled down: real `mcx serve` and `mcx worker`, every policy, a
tiny population on a fast clock. It guards the simulator against drifting from the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.runtime import Urls
from app.simulation.population import Params
from bench.rigour.report import Population, write_report
from bench.rigour.run import RunConfig, rigour_run
from bench.rigour.world import POLICIES


@pytest.fixture
def machine_services(services: Urls, monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness makes its own database on the run's servers (embedded ones too)."""
    monkeypatch.setenv("DATABASE_URL", services.database)
    monkeypatch.setenv("REDIS_URL", services.redis)


async def test_a_small_rigour_run_decides_packets_under_every_policy(
    machine_services: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RIGOUR_DEBUG", "1")  # the diagnostics' queries run too
    params = Params(seed=7, earners=8, peers=10, experts=2, arrival_hours=3.0)
    # Each policy stops at its first decision: a busy machine takes longer (up to the horizon,
    # 2 minutes), not fails.
    config = RunConfig(params=params, policies=POLICIES, scale=0.3, horizon_hours=400.0, enough=1)
    results = await rigour_run(config)
    assert [r.policy for r in results] == [p.name for p in POLICIES]
    for result in results:
        assert result.errors == 0, result.error_samples
        assert result.submissions >= params.earners  # every earner handed in (colluders too)
        assert result.decided > 0
    mcx = next(r for r in results if r.policy == "mcx")
    assert mcx.known_answer_checks > 0  # the MCX policy served checks through claim-next
    printed = capsys.readouterr().out
    assert "STANDINGS mcx" in printed and "PACKET two_peers" in printed
    write_report(tmp_path, [Population("small", config, results, 60.0)], 60.0)
    assert "| MCX full policy (trusted third peer" in (tmp_path / "RIGOUR.md").read_text()
