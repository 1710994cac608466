"""PNG figures of an `Evaluation` (rendering only: every number comes from `metrics`).

- `headline.png`: the headline metrics with their 95% intervals, one bar per run (side by side when
  several runs are compared);
- `per_type.png`: exact and action-type accuracy per gold action type (the paper's Table 3), per run;
- `confusion_<run>.png`: gold type x predicted type (plus `invalid`), counts and row shares.

matplotlib runs on the non-interactive Agg backend, so this works on machines without a display.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from shop_r1.evaluation.metrics import GOLD_LABELS, HEADLINE_METRICS, PRED_LABELS
from shop_r1.evaluation.runs import Estimate, Evaluation

__all__ = ["confusion_file_stems", "plot_confusion", "plot_headline", "plot_per_type", "write_plots"]

# Colour-blind-safe palette (Okabe-Ito); runs keep their colour across figures.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_TYPE_LABELS = {"click": "click", "type_and_submit": "type_and_submit", "terminate": "terminate",
                "invalid": "invalid\n(unparseable)"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _bars(ax, groups: Sequence[str], runs: dict[str, list[Estimate]], *, horizontal: bool = False) -> None:
    """Grouped bars in percent with CI whiskers and the value written on each bar."""
    import numpy as np

    n_runs = len(runs)
    width = 0.8 / n_runs
    positions = np.arange(len(groups))
    for r, (name, estimates) in enumerate(runs.items()):
        offset = positions - 0.4 + width * (r + 0.5)
        values = [100 * e.value if e.value is not None else 0.0 for e in estimates]
        low = [100 * (e.value - e.low) if e.low is not None and e.value is not None else 0.0 for e in estimates]
        high = [100 * (e.high - e.value) if e.high is not None and e.value is not None else 0.0 for e in estimates]
        colour = _COLOURS[r % len(_COLOURS)]
        draw = ax.barh if horizontal else ax.bar
        size = {"height": width} if horizontal else {"width": width}
        error = {"xerr": [low, high]} if horizontal else {"yerr": [low, high]}
        draw(offset, values, **size, color=colour, label=name, **error, capsize=3,
             error_kw={"elinewidth": 1, "ecolor": "#333333"})
        for x, value, estimate, up in zip(offset, values, estimates, high, strict=True):
            text = "n/a" if estimate.value is None else f"{value:.1f}"
            if horizontal:
                ax.text(value + up + 1, x, text, va="center", ha="left", fontsize=8)
            else:
                ax.text(x, value + up + 1, text, ha="center", va="bottom", fontsize=8)


def plot_headline(evaluation: Evaluation, path: Path) -> Path:
    """Headline metrics (percent, 95% CI), one bar per run."""
    plt = _pyplot()
    # The reason classifier's accuracy on gold rationales describes the test data, not a run: tables only.
    specs = [s for s in HEADLINE_METRICS if s.key != "reason_classifier_acc"
             and any(run.metrics[s.key].value is not None for run in evaluation.runs.values())]
    labels = [s.label + ("" if s.higher_is_better else " (lower is better)") for s in specs]
    runs = {name: [run.metrics[s.key] for s in specs] for name, run in evaluation.runs.items()}
    height = 1.0 + 0.45 * len(specs) * max(1, len(runs)) ** 0.6
    fig, ax = plt.subplots(figsize=(9, max(3.5, height)))
    _bars(ax, labels, runs, horizontal=True)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()  # first metric on top
    ax.set_xlim(0, 115)
    config = evaluation.config
    ax.set_xlabel(f"percent of test steps (ROUGE-L x 100)\nwhiskers: {100 * config.confidence:g}% CI "
                  f"({config.n_resamples} bootstrap resamples of {config.unit}s)\n"
                  f"type_and_submit text matches at ROUGE-L >= {config.text_threshold:g}")
    who = f": {next(iter(runs))}" if len(runs) == 1 else ""
    ax.set_title(f"Headline metrics{who}")
    ax.grid(axis="x", alpha=0.3)
    if len(runs) > 1:  # below the axes, where it cannot hide a bar
        ax.legend(title="run", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(len(runs), 4))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _counts_label(evaluation: Evaluation, gold_type: str) -> str:
    """`n=11`, or `n=11 / 11 / 6` (in run order) when the runs cover different steps."""
    counts = [run.gold_counts[gold_type] for run in evaluation.runs.values()]
    return f"n={counts[0]}" if len(set(counts)) == 1 else "n=" + " / ".join(map(str, counts))


def plot_per_type(evaluation: Evaluation, path: Path) -> Path:
    """Exact and action-type accuracy per gold action type, one bar per run."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, (key, title) in zip(axes, (("exact", "Exact action accuracy"), ("type_acc", "Action type accuracy")),
                                strict=True):
        runs = {name: [run.metrics[f"{key}:{g}"] for g in GOLD_LABELS] for name, run in evaluation.runs.items()}
        _bars(ax, GOLD_LABELS, runs)
        ax.set_xticks(range(len(GOLD_LABELS)), [f"{g}\n({_counts_label(evaluation, g)})" for g in GOLD_LABELS])
        ax.set_xlabel("gold action type")
        ax.set_title(f"{title} by gold type")
        ax.set_ylim(0, 112)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("percent of gold steps of that type")
    if len(evaluation.runs) > 1:
        fig.legend(*axes[0].get_legend_handles_labels(), title="run", loc="lower center",
                   ncol=min(len(evaluation.runs), 4))
    fig.suptitle("Per-type breakdown (whiskers: 95% bootstrap CI)")
    fig.tight_layout(rect=(0, 0.12 if len(evaluation.runs) > 1 else 0, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_confusion(evaluation: Evaluation, name: str, path: Path) -> Path:
    """Heatmap of gold x predicted type with counts and the share of each gold row."""
    import numpy as np

    plt = _pyplot()
    run = evaluation.runs[name]
    matrix = np.array(run.confusion, dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            colour = "white" if shares[i, j] > 0.6 else "black"
            ax.text(j, i, f"{int(matrix[i, j])}\n{100 * shares[i, j]:.0f}%", ha="center", va="center",
                    color=colour, fontsize=10)
    ax.set_xticks(range(len(PRED_LABELS)), [_TYPE_LABELS[p] for p in PRED_LABELS])
    ax.set_yticks(range(len(GOLD_LABELS)), [f"{g} (n={run.gold_counts[g]})" for g in GOLD_LABELS])
    ax.set_xlabel("predicted action type")
    ax.set_ylabel("gold action type")
    ax.set_title(f"Confusion matrix: {name} ({run.n_steps} steps)")
    fig.colorbar(image, ax=ax, label="share of the gold row")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def safe_name(name: str) -> str:
    """A run name usable in a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "run"


def write_plots(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    """Write every figure into `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [plot_headline(evaluation, out_dir / "headline.png"), plot_per_type(evaluation, out_dir / "per_type.png")]
    for name, stem in confusion_file_stems(list(evaluation.runs)).items():
        paths.append(plot_confusion(evaluation, name, out_dir / f"{stem}.png"))
    return paths


def confusion_file_stems(names: Sequence[str]) -> dict[str, str]:
    """`confusion_<run>` per run, made unique when two names sanitise to the same string."""
    stems: dict[str, str] = {}
    for name in names:
        stem, n = f"confusion_{safe_name(name)}", 2
        while stem in stems.values():
            stem, n = f"confusion_{safe_name(name)}_{n}", n + 1
        stems[name] = stem
    return stems
