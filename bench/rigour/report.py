"""bench/RIGOUR.md (the table, the targets, the machine) and bench/rigour.svg (the chart)."""

from __future__ import annotations

import math
import platform
import statistics
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from bench.rigour.metrics import Result
from bench.rigour.run import RunConfig


@dataclass(frozen=True)
class Population:
    """One population's run: its name, settings, every policy's result and how long it took."""

    name: str
    config: RunConfig
    results: list[Result]
    seconds: float


@dataclass(frozen=True)
class Target:
    name: str
    figure: str
    target: str
    met: bool


def _caught(mcx: Result) -> int:
    return mcx.colluders_paired_within_10 + mcx.colluders_suspended_within_10


def _ratio(result: Result | None, baseline: Result | None) -> float:
    if result is None or baseline is None or not baseline.median_hours:
        return float("nan")
    return result.median_hours / baseline.median_hours


def targets(mcx: Result, baseline: Result | None, screened: Result | None = None) -> list[Target]:
    """Issue 21's targets for MCX's policy in one population, each met or missed. `screened`:
    two-peer majority among only the peers MCX keeps (the diagnostic), shown beside the time."""
    ratio = _ratio(mcx, baseline)
    floor = (
        ""
        if screened is None
        else f"; two-peer majority among only the accurate, slow and colluding peers took "
        f"{_num(screened.median_hours, 2)} h, {_toward(_ratio(screened, baseline), 3, up=True)}×"
    )
    caught = _caught(mcx)
    caught_share = caught / mcx.colluders if mcx.colluders else 1.0
    return [
        Target(
            "Decisions right",
            f"{_pct_toward(mcx.accuracy, up=False)} ({mcx.right} of {mcx.decided})",
            "≥ 97 %",
            mcx.accuracy >= 0.97,
        ),
        Target("False passes", str(mcx.false_pass), "0", mcx.false_pass == 0),
        Target(
            "Submissions seen by an expert",
            f"{_pct_toward(mcx.escalated_share, up=True)} ({mcx.escalated} of {mcx.submissions})",
            "≤ 15 %",
            mcx.escalated_share <= 0.15,
        ),
        Target(
            "Median time to decision",
            f"{_toward(ratio, 3, up=True)}× two-peer majority ({_num(mcx.median_hours, 2)} h "
            f"against {_num(baseline.median_hours if baseline else float('nan'), 2)} h{floor})",
            "≤ 1.25×",
            ratio <= 1.25,
        ),
        Target(
            "Colluders who lost the right to review each other within their first 10 reviews",
            f"{caught} of {mcx.colluders}: {mcx.colluders_paired_within_10} by the pair flag "
            f"(reviews done when flagged: {mcx.colluder_reviews_at_flag}), "
            f"{mcx.colluders_suspended_within_10} by the trust floor alone; reviews each had "
            f"done before their partner's packet was handed in: {mcx.colluder_reviews_before}; "
            f"{mcx.colluders_grabbed} of {mcx.colluders} got to score their partner's packet",
            "≥ 3 of 4 (75 %)",
            caught_share >= 0.75,
        ),
        Target(
            "Honest reviewers flagged in a pair",
            str(mcx.honest_flagged),
            "≤ 1",
            mcx.honest_flagged <= 1,
        ),
    ]


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f} %"


def _toward(value: float, digits: int, *, up: bool) -> str:
    """`value` with `digits` decimals, rounded away from the side a target sits on (down for
    an "at least", up for an "at most"), so the printed figure never reads as met when the
    exact one missed (96.97 % is not "97.0 %")."""
    if math.isnan(value):
        return "n/a"
    scaled = value * 10**digits
    # A hair of tolerance keeps binary fractions (0.97 * 100) from stepping a digit.
    stepped = math.ceil(scaled - 1e-9) if up else math.floor(scaled + 1e-9)
    return f"{stepped / 10**digits:.{digits}f}"


def _pct_toward(value: float, *, up: bool) -> str:
    return "n/a" if math.isnan(value) else f"{_toward(100 * value, 2, up=up)} %"


def _num(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def chart(populations: list[Population]) -> str:
    """Per population, grouped bars per policy: decisions right, submissions seen by an
    expert, median time to decision (relative to two-peer majority, drawn against 2x)."""
    width, panel, left, top, bar = 860, 300, 60, 40, 22
    height = top + panel * len(populations) + 30
    series = [
        ("Decisions right", "#1b6e3a", lambda r, b: r.accuracy),
        ("Seen by an expert", "#b35c00", lambda r, b: r.escalated_share),
        (
            "Median time / two-peer (of 2x)",
            "#2857a4",
            lambda r, b: (
                (r.median_hours / b.median_hours / 2) if b and b.median_hours else float("nan")
            ),
        ),
    ]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        '<text x="12" y="22" font-size="15" font-weight="bold">'
        "MCX rigour run: the same reviewers under every policy, per population</text>",
    ]
    for pi, population in enumerate(populations):
        results = population.results
        baseline = next((r for r in results if r.policy == "two_peers"), None)
        y0 = top + pi * panel
        plot_h = panel - 80
        parts.append(
            f'<text x="{left}" y="{y0 + 12}" font-weight="bold">'
            f"Population {escape(population.name)}</text>"
        )
        for tick in (0, 0.5, 1.0):
            y = y0 + 20 + plot_h * (1 - tick)
            parts.append(
                f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            )
            parts.append(
                f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{int(tick * 100)}%</text>'
            )
        group = (width - left - 20) / max(1, len(results))
        for gi, result in enumerate(results):
            x0 = left + gi * group + (group - bar * len(series)) / 2
            for si, (_, colour, value) in enumerate(series):
                v = value(result, baseline)
                if math.isnan(v):
                    continue
                v = max(0.0, min(1.0, v))
                h = plot_h * v
                parts.append(
                    f'<rect x="{x0 + si * bar:.1f}" y="{y0 + 20 + plot_h - h:.1f}" '
                    f'width="{bar - 4}" height="{h:.1f}" fill="{colour}">'
                    f"<title>{escape(result.label)}: {v:.3f}</title></rect>"
                )
            parts.append(
                f'<text x="{left + gi * group + group / 2:.1f}" y="{y0 + 20 + plot_h + 16}" '
                f'text-anchor="middle">{escape(result.policy.replace("_", " "))}</text>'
            )
    for si, (name, colour, _) in enumerate(series):
        x = left + si * 250
        y = height - 14
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="{y}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _population(population: Population) -> list[str]:
    config, results = population.config, population.results
    p = config.params
    mix = p.mix
    lines = [
        f"## Population {population.name}",
        "",
        f"Seed {p.seed}: {len(results) and results[0].submissions} packets from {p.earners} "
        f"earners plus reviewers' own ({p.peers_submitting:.0%} of honest peers and every "
        f"colluder submit one from their reviewer account); {p.peers} peer reviewers "
        f"({mix.careless:.0%} careless, {mix.harsh:.0%} harsh, {mix.lenient:.0%} lenient, "
        f"{mix.colluding:.0%} colluding in pairs, {mix.noisy:.0%} noisy, {mix.slow:.0%} slow, "
        f"the rest accurate) and {p.experts} experts. Packets arrive over {p.arrival_hours:.0f} "
        "simulated hours from Friday noon. Peers review in the evenings and at weekends "
        "(half of them also from a midday break on), experts in office hours; a colluder grabs their "
        "partner's packet as soon as their open work shows it, looking every quarter hour or so, whatever the hour, for a day. One simulated hour lasted "
        f"{config.scale} s of wall time; this population took {population.seconds / 60:.1f} "
        f"minutes. The API answered the simulated people in a median "
        f"{_num(statistics.median(r.api_median_ms for r in results), 0)} ms (p90 "
        f"{_num(max(r.api_p90_ms for r in results), 0)} ms, the slowest policy's), that is "
        f"{_num(statistics.median(r.api_median_ms for r in results) / 1000 / config.scale * 60)}"
        " simulated minutes per request.",
        "",
        "| Policy | Decided | Right | False passes | False fails | Criterion levels right "
        "| Alpha (ordinal) | Seen by an expert | Third peer asked / settled | Expert hours "
        "| Median h | p90 h | Leases expired |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.label} | {r.decided}/{r.submissions} | {_pct_toward(r.accuracy, up=False)} "
            f"| {r.false_pass} "
            f"| {r.false_fail} | {_pct(r.criterion_right)} | {_num(r.alpha, 3)} "
            f"| {_pct_toward(r.escalated_share, up=True)} | {r.tiebreaks} / {r.settled_by_third} "
            f"| {_num(r.expert_hours)} | {_num(r.median_hours, 2)} "
            f"| {_num(r.p90_hours)} | {r.leases_expired} |"
        )
    lines.append("")
    by_name = {r.policy: r for r in results}
    baseline = by_name.get("two_peers")
    mcx = by_name.get("mcx")
    if mcx is not None:
        lines += ["### Targets for MCX's full policy", ""]
        lines += [
            f"- {t.name}: {t.figure} (target {t.target}): {'met' if t.met else 'missed'}."
            for t in targets(mcx, baseline, by_name.get("two_peers_screened"))
        ]
        lines += [
            "",
            f"Careless reviewers who lost claim rights within their first 10 reviews: "
            f"{mcx.careless_stopped_within_10} of {mcx.careless}; reviews each had completed "
            f"when stopped: {mcx.careless_reviews}. Calibration kept {mcx.kept_out} peer(s) out "
            f"of the pool from the start; {mcx.known_answer_checks} known-answer checks were "
            "served in the live queue; reviewers suspended for low trust, by trait: "
            f"{', '.join(f'{t} {n}' for t, n in sorted(mcx.suspended_by_trait.items())) or 'none'}"
            f"; reviewer pairs flagged: {mcx.pairs_flagged}.",
            "",
        ]
        plain = by_name.get("mcx_median")
        if plain is not None:
            lines += [
                f"Trust weighting against the plain median (the same policy otherwise): "
                f"{_pct(mcx.accuracy)} right with {mcx.false_pass} false passes and "
                f"{_pct(mcx.escalated_share)} seen by an expert, against {_pct(plain.accuracy)}, "
                f"{plain.false_pass} and {_pct(plain.escalated_share)}.",
                "",
            ]
    return lines


def write_report(out: Path, populations: list[Population], seconds: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "rigour.svg").write_text(chart(populations))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    lines = [
        "# How right are MCX's decisions?",
        "",
        f"Written by `make rigour` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{commit}`, "
        f"{platform.machine()} with {platform.python_implementation()} "
        f"{platform.python_version()}; the run took {seconds / 60:.1f} minutes for "
        f"{len(populations)} population(s). Every decision was made by a real `mcx serve` and "
        "`mcx worker` on PostgreSQL and Redis, through the public API; each population had its "
        "own fresh MCX.",
        "",
    ]
    summary = []
    for population in populations:
        by_name = {r.policy: r for r in population.results}
        if "mcx" in by_name:
            found = targets(
                by_name["mcx"], by_name.get("two_peers"), by_name.get("two_peers_screened")
            )
            missed = [t.name for t in found if not t.met]
            summary.append(
                f"- Population {population.name}: "
                + (
                    "every target met."
                    if not missed
                    else f"{len(found) - len(missed)} of {len(found)} targets met; missed: "
                    + "; ".join(missed)
                    + "."
                )
            )
    mcx_runs = [r for population in populations for r in population.results if r.policy == "mcx"]
    colluders = sum(r.colluders for r in mcx_runs)
    if len(mcx_runs) > 1 and colluders:
        caught = sum(_caught(r) for r in mcx_runs)
        summary.append(
            f"- Colluders who lost the right to review each other within their first 10 "
            f"reviews, over all {len(mcx_runs)} populations: {caught} of {colluders} "
            f"(target ≥ 75 %): {'met' if caught >= 0.75 * colluders else 'missed'}."
        )
    if summary:
        lines += ["## Summary", "", *summary, ""]
    lines += ["![The chart](rigour.svg)", ""]
    for population in populations:
        lines += _population(population)
    errors = sum(r.errors for p in populations for r in p.results)
    lines += [f"Errors seen by the simulated people: {errors}.", ""]
    samples = [sample for p in populations for r in p.results for sample in r.error_samples][:5]
    lines += [f"- `{sample}`" for sample in samples] + ([""] if samples else [])
    (out / "RIGOUR.md").write_text("\n".join(lines))
