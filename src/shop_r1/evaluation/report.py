"""Render an `Evaluation`: metrics.json, a Markdown report, PNG figures, rich tables (no computation here).

Numbers are stored as fractions in metrics.json and shown in percent everywhere else, like the paper's
tables ("27.72"); an interval reads `27.7 [24.1, 31.0]`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from shop_r1.evaluation.metrics import GOLD_LABELS, HEADLINE_METRICS, PER_TYPE_METRICS, PRED_LABELS
from shop_r1.evaluation.runs import Estimate, Evaluation, RunMetrics

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["format_estimate", "print_tables", "render_markdown", "write_report"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def format_estimate(estimate: Estimate, *, signed: bool = False) -> str:
    """`27.7 [24.1, 31.0]` (percent); `n/a` when undefined; signed for differences."""
    if estimate.value is None:
        return "n/a"
    value = f"{100 * estimate.value:+.1f}" if signed else _pct(estimate.value)
    if estimate.low is None or estimate.high is None:
        return value
    return f"{value} [{_pct(estimate.low)}, {_pct(estimate.high)}]"


def _shown_headline(evaluation: Evaluation) -> list:
    # Rationale metrics only exist where the gold has rationales / reasons: drop rows that are n/a for every run.
    return [s for s in HEADLINE_METRICS if any(r.metrics[s.key].value is not None for r in evaluation.runs.values())]


def _compared(evaluation: Evaluation) -> list:
    # The classifier's accuracy on gold rationales is the same for every run: a difference would always be 0.
    return [s for s in _shown_headline(evaluation) if s.key != "reason_classifier_acc"]


def markdown_table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    """A Markdown table; by default the first column left-aligned, the others right-aligned."""
    align = align or ["---"] + ["--:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _confusion_markdown(run: RunMetrics) -> str:
    header = ["gold \\ predicted", *PRED_LABELS, "total"]
    rows = [[g, *(str(v) for v in run.confusion[i]), str(run.gold_counts[g])] for i, g in enumerate(GOLD_LABELS)]
    return markdown_table(header, rows)


def _significance(estimate: Estimate) -> str:
    if estimate.low is None or estimate.high is None:
        return ""
    return "yes" if estimate.low > 0 or estimate.high < 0 else "no"


def render_markdown(evaluation: Evaluation, figures: list[str] | None = None) -> str:
    """The report as Markdown: summary table, per-type table, confusion matrices, comparisons, figures."""
    config = evaluation.config
    names = list(evaluation.runs)
    runs_line = ", ".join(f"`{n}` ({evaluation.sources[n]})" if n in evaluation.sources else f"`{n}`" for n in names)
    parts = [
        "# Shop-R1 evaluation",
        "",
        f"Runs: {runs_line}.",
        "",
        f"Values in percent; brackets: {100 * config.confidence:g}% percentile bootstrap interval over "
        f"{config.n_resamples} resamples of **{config.unit}s** (seed {config.seed}). A type_and_submit text "
        f"matches when ROUGE-L >= {config.text_threshold:g} ({config.rouge_tokenizer} tokens); the strict variant "
        "needs the identical string. "
        "Unparseable outputs count as wrong and as the predicted class `invalid`.",
        "",
        "## Summary",
        "",
    ]
    steps = ["steps", *(str(evaluation.runs[n].n_steps) for n in names)]
    sessions = ["sessions", *(str(evaluation.runs[n].n_sessions) for n in names)]
    rows = [steps, sessions]
    for spec in _shown_headline(evaluation):
        arrow = "" if spec.higher_is_better else " (lower is better)"
        rows.append([spec.label + arrow, *(format_estimate(evaluation.runs[n].metrics[spec.key]) for n in names)])
    rows.append(["outputs cut at max_new_tokens",
                 *(format_estimate(evaluation.runs[n].metrics["cut_at_length_rate"]) for n in names)])
    parts += [markdown_table(["metric", *names], rows), ""]

    parts += ["## Per action type", "", "Exact and type accuracy over the gold steps of each type (paper, Table 3); "
              "F1 of the type as a class.", ""]
    header = ["run", "gold type", "n", *(s.label for s in PER_TYPE_METRICS)]
    rows = [[name, g, str(run.gold_counts[g]),
             *(format_estimate(run.metrics[f"{s.key}:{g}"]) for s in PER_TYPE_METRICS)]
            for name, run in evaluation.runs.items() for g in GOLD_LABELS]
    parts += [markdown_table(header, rows, ["---", "---"] + ["--:"] * (len(header) - 2)), ""]

    parts += ["## Confusion matrices", ""]
    for name, run in evaluation.runs.items():
        parts += [f"**{name}**", "", _confusion_markdown(run), ""]
        if run.parse_errors:
            listed = "; ".join(f"{reason}: {n}" for reason, n in run.parse_errors.items())
            parts += [f"Unparseable outputs by cause: {listed}.", ""]

    if evaluation.comparisons:
        parts += ["## Paired differences", "",
                  f"Each run minus `{evaluation.baseline}` on the steps both files contain, in percentage points; "
                  "both runs are resampled with the same units. *Excludes 0*: the interval lies entirely on one "
                  "side of zero.", ""]
        for name, (shared, diffs) in evaluation.comparisons.items():
            if not shared:
                parts += [f"`{name}` shares no step with `{evaluation.baseline}`: no paired comparison.", ""]
                continue
            rows = [[spec.label, format_estimate(diffs[spec.key], signed=True), _significance(diffs[spec.key])]
                    for spec in _compared(evaluation)]
            parts += [f"**{name} - {evaluation.baseline}** ({shared} shared steps)", "",
                      markdown_table(["metric", "difference", "excludes 0"], rows), ""]

    if figures:
        parts += ["## Figures", ""] + [f"![{Path(f).stem}]({f})" for f in figures] + [""]
    return "\n".join(parts)


def write_report(evaluation: Evaluation, out_dir: str | Path, *, plots: bool = True) -> dict[str, Path]:
    """Write metrics.json, report.md and (unless `plots=False`) the PNG figures into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    figures: list[Path] = []
    if plots:
        from shop_r1.evaluation.plots import write_plots

        figures = write_plots(evaluation, out)
        written.update({figure.stem: figure for figure in figures})
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(evaluation.to_dict(), indent=2) + "\n", encoding="utf-8")
    report_path = out / "report.md"
    report_path.write_text(render_markdown(evaluation, [f.name for f in figures]), encoding="utf-8")
    written.update({"metrics": metrics_path, "report": report_path})
    return written


def print_tables(evaluation: Evaluation, console: Console) -> None:
    """The summary, per-type and confusion tables (and paired differences) on a rich console."""
    from rich.table import Table

    names = list(evaluation.runs)
    config = evaluation.config
    summary = Table(title=f"Shop-R1 evaluation (%, {100 * config.confidence:g}% CI by {config.unit})")
    summary.add_column("metric")
    for name in names:
        summary.add_column(name, justify="right")
    summary.add_row("steps / sessions", *(f"{r.n_steps} / {r.n_sessions}" for r in evaluation.runs.values()))
    for spec in _shown_headline(evaluation):
        summary.add_row(spec.label, *(format_estimate(evaluation.runs[n].metrics[spec.key]) for n in names))
    console.print(summary)

    per_type = Table(title="per gold action type (%)")
    for column in ("run", "gold type", "n", *(s.label for s in PER_TYPE_METRICS)):
        per_type.add_column(column, justify="left" if column in ("run", "gold type") else "right")
    for name, run in evaluation.runs.items():
        for g in GOLD_LABELS:
            per_type.add_row(name, g, str(run.gold_counts[g]),
                             *(format_estimate(run.metrics[f"{s.key}:{g}"]) for s in PER_TYPE_METRICS))
    console.print(per_type)

    for name, run in evaluation.runs.items():
        confusion = Table(title=f"confusion: {name} (rows gold, columns predicted)")
        confusion.add_column("gold")
        for label in PRED_LABELS:
            confusion.add_column(label, justify="right")
        for i, g in enumerate(GOLD_LABELS):
            confusion.add_row(g, *(str(v) for v in run.confusion[i]))
        console.print(confusion)

    for name, (shared, diffs) in evaluation.comparisons.items():
        if not shared:
            console.print(f"[yellow]{name} shares no step with {evaluation.baseline}: no paired comparison[/]")
            continue
        table = Table(title=f"{name} - {evaluation.baseline} (percentage points, paired, {shared} shared steps)")
        for column in ("metric", "difference", "excludes 0"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for spec in _compared(evaluation):
            table.add_row(spec.label, format_estimate(diffs[spec.key], signed=True), _significance(diffs[spec.key]))
        console.print(table)
