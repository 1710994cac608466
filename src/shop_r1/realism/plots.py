"""PNG figures of a `RealismResult`, real and simulated overlaid (rendering only: numbers come from `metrics`).

- `mixes.png`: action-type mix and click-target mix (percent, 95% whiskers), real beside simulated;
- `funnel.png`: the funnel and how visits end;
- `distributions.png`: session length, searches per session, query length and the step of terminate,
  as the share of sessions (or queries) at each value, with W1 and KS in each title.

matplotlib on the Agg backend, as in `shop_r1.evaluation.plots`, so no display is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shop_r1.evaluation.plots import _COLOURS, _pyplot
from shop_r1.evaluation.runs import Estimate
from shop_r1.realism.distances import shares
from shop_r1.realism.features import FUNNEL_STAGES
from shop_r1.realism.metrics import NUMBERS, SIDES, RealismResult
from shop_r1.realism.report import NUMBER_TITLES

__all__ = ["plot_distributions", "plot_funnel", "plot_mixes", "write_plots"]

_SIDE_COLOURS = {"real": _COLOURS[0], "simulated": _COLOURS[1]}


def _bars(ax, labels: Sequence[str], sides: dict[str, list[Estimate]], *, horizontal: bool) -> None:
    """Real and simulated bars per label, in percent, with interval whiskers."""
    width = 0.4
    positions = np.arange(len(labels))
    for r, (side, estimates) in enumerate(sides.items()):
        offset = positions - 0.2 + width * r
        values = np.array([100 * (e.value or 0.0) for e in estimates])
        low = np.array([100 * (e.value - e.low) if e.low is not None and e.value is not None else 0.0
                        for e in estimates])
        high = np.array([100 * (e.high - e.value) if e.high is not None and e.value is not None else 0.0
                         for e in estimates])
        style = {"color": _SIDE_COLOURS[side], "label": side, "capsize": 2,
                 "error_kw": {"elinewidth": 1, "ecolor": "#333333"}}
        if horizontal:
            ax.barh(offset, values, height=width, xerr=[low, high], **style)
        else:
            ax.bar(offset, values, width=width, yerr=[low, high], **style)
    if horizontal:
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.set_xticks(positions, labels)
        ax.grid(axis="y", alpha=0.3)


def _side_estimates(result: RealismResult, prefix: str, labels: Sequence[str]) -> dict[str, list[Estimate]]:
    return {side: [result.get(f"{prefix}.{side}.{label}") for label in labels] for side in SIDES}


def _js(result: RealismResult, key: str) -> str:
    value = result.get(key).value
    return "n/a" if value is None else f"{value:.3f}"


def plot_mixes(result: RealismResult, path: Path) -> Path:
    plt = _pyplot()
    clicks = result.layout.labels["click_target"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 3 + 0.32 * max(len(clicks), 4)),
                                      gridspec_kw={"height_ratios": [1, max(len(clicks), 3) / 3]})
    types = result.layout.labels["action_type"]
    _bars(top, types, _side_estimates(result, "action_type", types), horizontal=True)
    top.set_title(f"Action types (% of actions), JS {_js(result, 'action_type.js')}")
    top.legend(loc="lower right")
    _bars(bottom, clicks, _side_estimates(result, "click_target", clicks), horizontal=True)
    bottom.set_title(f"Click targets (% of clicks), JS {_js(result, 'click_target.js')}")
    bottom.set_xlabel(f"percent; whiskers: {100 * result.confidence:g}% bootstrap interval over sessions")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_funnel(result: RealismResult, path: Path) -> Path:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    _bars(left, FUNNEL_STAGES, _side_estimates(result, "funnel", FUNNEL_STAGES), horizontal=False)
    left.set_ylabel("% of sessions reaching at least this stage")
    left.set_ylim(0, 110)
    left.set_title("Funnel")
    left.legend()
    endings = result.layout.labels["ending"]
    _bars(right, endings, _side_estimates(result, "ending", endings), horizontal=False)
    right.set_ylabel("% of sessions")
    right.set_ylim(0, 110)
    right.set_title(f"How visits end, JS {_js(result, 'ending.js')}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _dense(grid: np.ndarray, hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer values with the missing ones filled in as 0, so a step line does not bridge a gap as if
    the values in between were as common as its ends."""
    if grid.size and np.all(grid == np.round(grid)) and grid[-1] - grid[0] <= 500:
        dense = np.arange(grid[0], grid[-1] + 1)
        counts = np.zeros(dense.size)
        counts[(grid - grid[0]).astype(int)] = hist
        return dense, counts
    return grid, hist


def plot_distributions(result: RealismResult, path: Path) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, number in zip(axes.flat, NUMBERS, strict=True):
        grid = result.layout.grids[number]
        for side in SIDES:
            hist = result.histogram(side, number)
            if hist.sum() == 0:
                continue
            values, counts = _dense(grid, hist)
            ax.step(values, 100 * shares(counts), where="mid", color=_SIDE_COLOURS[side], label=side, linewidth=1.6)
            mean = result.get(f"{number}.{side}.mean").value
            if mean is not None:
                ax.axvline(mean, color=_SIDE_COLOURS[side], linestyle="--", linewidth=1)
        w1 = result.get(f"{number}.wasserstein").value
        ks = result.get(f"{number}.ks").value
        detail = "n/a" if w1 is None or ks is None else f"W1 {w1:.2f}, KS {ks:.3f}"
        ax.set_title(f"{NUMBER_TITLES[number]}\n{detail}", fontsize=10)
        ax.set_ylabel("% of sessions" if number != "query_length" else "% of queries")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(title="dashed: mean")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_plots(result: RealismResult, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [plot_mixes(result, out_dir / "mixes.png"), plot_funnel(result, out_dir / "funnel.png"),
            plot_distributions(result, out_dir / "distributions.png")]
