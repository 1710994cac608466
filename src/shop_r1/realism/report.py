"""Render a `RealismResult`: realism.json, report.md and the figures (no computation here).

Shares are fractions in realism.json and percent in the report; divergences, distances and means keep
their own units. An interval reads `19.0 [11.2, 26.9]`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from shop_r1.evaluation.report import markdown_table
from shop_r1.evaluation.runs import Estimate
from shop_r1.realism.features import ENDINGS, FUNNEL_STAGES
from shop_r1.realism.metrics import MIXES, NUMBERS, SIDES, SUMMARY_MIXES, RealismResult

__all__ = ["format_value", "render_markdown", "write_realism"]

MIX_TITLES = {"action_type": "action-type mix", "click_target": "click-target mix", "ending": "ending mix",
              "leave_stage": "stage left from (terminated visits)"}
NUMBER_TITLES = {"session_length": "session length (steps)", "searches_per_session": "searches per session",
                 "query_length": "query length (words)", "terminate_step": "step of terminate (terminated visits)"}


def _percent(x: float) -> str:
    return f"{100 * x:.1f}"


def _signed_percent(x: float) -> str:
    return f"{100 * x:+.1f}"


def _fixed(digits: int) -> Callable[[float], str]:
    return lambda x: f"{x:.{digits}f}"


def format_value(estimate: Estimate, fmt: Callable[[float], str] = _percent) -> str:
    """`19.0 [11.2, 26.9]` with the given number format; `n/a` when undefined."""
    if estimate.value is None:
        return "n/a"
    if estimate.low is None or estimate.high is None:
        return fmt(estimate.value)
    return f"{fmt(estimate.value)} [{fmt(estimate.low)}, {fmt(estimate.high)}]"


def _mix_table(result: RealismResult, mix: str, unit: str) -> str:
    rows = [[label, *(format_value(result.get(f"{mix}.{side}.{label}")) for side in SIDES)]
            for label in result.layout.labels[mix]]
    return markdown_table([f"{mix.replace('_', ' ')} ({unit})", "real", "simulated"], rows)


def render_markdown(result: RealismResult, figures: list[str] | None = None) -> str:
    """The report: summary, mixes, click targets, funnel, distributions and figures."""
    three = _fixed(3)
    parts = [
        "# Shop-R1 realism: simulated vs real sessions",
        "",
        f"Real: `{result.sources['real']}` ({result.sessions['real']} sessions, {result.steps['real']} steps). "
        f"Simulated: `{result.sources['simulated']}` ({result.sessions['simulated']} sessions, "
        f"{result.steps['simulated']} steps).",
        "",
        f"Brackets: {100 * result.confidence:g}% percentile bootstrap interval over {result.n_resamples} resamples "
        f"of sessions (seed {result.seed}), each file resampled on its own. Shares in percent; JS = "
        "Jensen-Shannon divergence in bits (0 identical, 1 disjoint); W1 = Wasserstein-1 distance in the "
        "value's units; KS = largest gap between the two CDFs.",
        "",
        "## Summary",
        "",
    ]
    rows = [["**mean JS** (" + ", ".join(MIX_TITLES[m] for m in SUMMARY_MIXES) + ")", "", "",
             "**" + format_value(result.get("summary.mean_js"), three) + "**"]]
    rows += [[f"JS, {MIX_TITLES[mix]}", "", "", format_value(result.get(f"{mix}.js"), three)] for mix in MIXES]
    rows.append(["purchase rate (%; difference in points)",
                 *(format_value(result.get(f"purchase_rate.{side}")) for side in SIDES),
                 format_value(result.get("purchase_rate.difference"), _signed_percent)])
    for number in NUMBERS:
        rows.append([f"{NUMBER_TITLES[number]}: mean; W1, KS",
                     *(format_value(result.get(f"{number}.{side}.mean"), _fixed(2)) for side in SIDES),
                     f"W1 {format_value(result.get(f'{number}.wasserstein'), _fixed(2))}, "
                     f"KS {format_value(result.get(f'{number}.ks'), three)}"])
    parts += [markdown_table(["metric", "real", "simulated", "distance"], rows), ""]

    parts += ["## Action types", "", _mix_table(result, "action_type", "% of actions"), ""]
    parts += ["## Click targets", "",
              "Categories in OPeRA's click_type vocabulary; simulated names are mapped onto it "
              "(`shop_r1.realism.features.CLICK_RULES`), and a name with no real counterpart keeps its own "
              "first segment.", ""]
    header = ["category", "real, % of clicks", "simulated, % of clicks", "real, % of actions",
              "simulated, % of actions"]
    rows = [[label, *(format_value(result.get(f"click_target.{side}.{label}")) for side in SIDES),
             *(format_value(result.get(f"click_target_per_action.{side}.{label}")) for side in SIDES)]
            for label in result.layout.labels["click_target"]]
    parts += [markdown_table(header, rows), ""]

    parts += ["## Funnel", "", "Share of sessions getting at least as far as each stage (a `buy_now` purchase "
              "passes the cart stage); the last column is simulated - real in points.", ""]
    rows = [[stage, *(format_value(result.get(f"funnel.{side}.{stage}")) for side in SIDES),
             format_value(result.get(f"funnel.difference.{stage}"), _signed_percent)] for stage in FUNNEL_STAGES]
    parts += [markdown_table(["stage", "real", "simulated", "difference"], rows), ""]

    parts += ["## Endings", "", f"How visits end ({', '.join(ENDINGS)}: the log stops without either), and for "
              "visits ending in terminate the deepest stage reached before leaving. terminate is always a "
              "visit's last step, so where it falls is its step number (see the distributions).", "",
              _mix_table(result, "ending", "% of sessions"), "", _mix_table(result, "leave_stage", "% of terminated"),
              ""]

    parts += ["## Distributions", ""]
    rows = [[NUMBER_TITLES[number],
             *(format_value(result.get(f"{number}.{side}.mean"), _fixed(2)) for side in SIDES),
             format_value(result.get(f"{number}.mean_difference"), lambda x: f"{x:+.2f}"),
             format_value(result.get(f"{number}.wasserstein"), _fixed(2)),
             format_value(result.get(f"{number}.ks"), three)] for number in NUMBERS]
    parts += [markdown_table(["quantity", "real mean", "simulated mean", "difference", "W1", "KS"], rows), ""]
    if figures:
        parts += ["## Figures", ""] + [f"![{Path(f).stem}]({f})" for f in figures] + [""]
    return "\n".join(parts)


def write_realism(result: RealismResult, out_dir: str | Path, *, plots: bool = True) -> dict[str, Path]:
    """Write realism.json, report.md and (unless `plots=False`) the PNG figures into `out_dir`."""
    from shop_r1.data.atomic import atomic_write

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    figures: list[Path] = []
    if plots:
        from shop_r1.realism.plots import write_plots

        figures = write_plots(result, out)
        written.update({figure.stem: figure for figure in figures})
    json_path, report_path = out / "realism.json", out / "report.md"
    with atomic_write(json_path) as handle:
        handle.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    with atomic_write(report_path) as handle:
        handle.write(render_markdown(result, [f.name for f in figures]))
    written.update({"realism": json_path, "report": report_path})
    return written
