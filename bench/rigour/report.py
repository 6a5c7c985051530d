"""bench/RIGOUR.md (the table, the targets, the machine) and bench/rigour.svg (the chart)."""

from __future__ import annotations

import math
import platform
import subprocess
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from bench.rigour.metrics import Result
from bench.rigour.run import RunConfig


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f} %"


def _num(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def chart(results: list[Result], baseline: Result | None) -> str:
    """Grouped bars per policy: decisions right, submissions escalated, median time to decision
    (relative to two-peer majority, drawn against 2x)."""
    width, height, left, top, bar = 760, 330, 60, 40, 26
    series = [
        ("Decisions right", "#1b6e3a", lambda r: r.accuracy),
        ("Escalated to experts", "#b35c00", lambda r: r.escalated_share),
        (
            "Median time / two-peer (of 2x)",
            "#2857a4",
            lambda r: (
                (r.median_hours / baseline.median_hours / 2)
                if baseline and baseline.median_hours
                else float("nan")
            ),
        ),
    ]
    plot_h = height - top - 70
    group = (width - left - 20) / max(1, len(results))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        '<text x="12" y="22" font-size="15" font-weight="bold">'
        "MCX rigour run: the same reviewers under four policies</text>",
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(
            f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{int(tick * 100)}%</text>'
        )
    for gi, result in enumerate(results):
        x0 = left + gi * group + (group - bar * len(series)) / 2
        for si, (_, colour, value) in enumerate(series):
            v = value(result)
            if math.isnan(v):
                continue
            v = max(0.0, min(1.0, v))
            h = plot_h * v
            x = x0 + si * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 4}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(result.label)}: {v:.3f}</title></rect>'
            )
        parts.append(
            f'<text x="{left + gi * group + group / 2:.1f}" y="{top + plot_h + 18}" '
            f'text-anchor="middle">{escape(result.policy.replace("_", " "))}</text>'
        )
    for si, (name, colour, _) in enumerate(series):
        x = left + si * 230
        y = height - 24
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="{y}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_report(out: Path, config: RunConfig, results: list[Result], seconds: float) -> None:
    by_name = {r.policy: r for r in results}
    baseline = by_name.get("two_peers")
    (out / "rigour.svg").write_text(chart(results, baseline))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    p = config.params
    mix = p.mix
    lines = [
        "# How right are MCX's decisions?",
        "",
        f"Written by `make rigour` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{commit}`, "
        f"{platform.machine()} with {platform.python_implementation()} "
        f"{platform.python_version()}; the run took {seconds / 60:.1f} minutes.",
        "",
        f"Population (seed {p.seed}): {len(results) and results[0].submissions} packets from "
        f"{p.earners} earners plus the colluders' own; {p.peers} peer reviewers "
        f"({mix.careless:.0%} careless, {mix.harsh:.0%} harsh, {mix.lenient:.0%} lenient, "
        f"{mix.colluding:.0%} colluding in pairs, {mix.noisy:.0%} noisy, {mix.slow:.0%} slow, "
        f"the rest accurate) and {p.experts} experts. Packets arrive over {p.arrival_hours:.0f} "
        f"simulated hours; one simulated hour lasted {config.scale} s of wall time. Every "
        "decision was made by a real `mcx serve` and `mcx worker` on PostgreSQL and Redis, "
        "through the public API.",
        "",
        "| Policy | Decided | Right | False passes | False fails | Criterion levels right "
        "| Alpha (ordinal) | Escalated | Expert hours | Median h | p90 h | Leases expired |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.label} | {r.decided}/{r.submissions} | {_pct(r.accuracy)} | {r.false_pass} "
            f"| {r.false_fail} | {_pct(r.criterion_right)} | {_num(r.alpha, 3)} "
            f"| {_pct(r.escalated_share)} | {_num(r.expert_hours)} | {_num(r.median_hours)} "
            f"| {_num(r.p90_hours)} | {r.leases_expired} |"
        )
    lines += ["", "![The chart](rigour.svg)", ""]
    mcx = by_name.get("mcx")
    if mcx is not None:
        ratio = (
            mcx.median_hours / baseline.median_hours
            if baseline and baseline.median_hours
            else float("nan")
        )
        lines += [
            "## Targets for MCX's full policy",
            "",
            f"- Decisions right: {_pct(mcx.accuracy)} (target ≥ 97 %): "
            f"{'met' if mcx.accuracy >= 0.97 else 'missed'}.",
            f"- Submissions seen by an expert: {_pct(mcx.escalated_share)} (target ≤ 15 %): "
            f"{'met' if mcx.escalated_share <= 0.15 else 'missed'}.",
            f"- Median time to decision: {_num(ratio, 2)}× two-peer majority (target ≤ 1.25×): "
            f"{'met' if ratio <= 1.25 else 'missed'}.",
            f"- Careless reviewers who lost claim rights within their first 10 reviews: "
            f"{mcx.careless_stopped_within_10} of {mcx.careless} (target: all); reviews each "
            f"had completed when stopped: {mcx.careless_reviews}.",
            "",
            f"Calibration kept {mcx.kept_out} peer(s) out of the pool from the start; "
            f"{mcx.known_answer_checks} known-answer checks were served in the live queue; "
            f"reviewers suspended for low trust, by trait: "
            f"{', '.join(f'{t} {n}' for t, n in sorted(mcx.suspended_by_trait.items())) or 'none'}"
            f"; colluders stopped: {mcx.colluders_stopped} of {mcx.colluders}.",
            "",
        ]
    errors = sum(r.errors for r in results)
    lines += [f"Errors seen by the simulated people: {errors}.", ""]
    samples = [sample for r in results for sample in r.error_samples][:5]
    lines += [f"- `{sample}`" for sample in samples] + ([""] if samples else [])
    (out / "RIGOUR.md").write_text("\n".join(lines))
