"""Real vs simulated sessions as distributions: every realism metric, each with a bootstrap interval.

Each session becomes one row of additive counts (its action types, click categories, a histogram of
its length, ...; `count_matrix`). Every metric is a function of the two files' summed rows
(`statistics`), so a bootstrap resample is a weight vector over each file's sessions and all metrics
of all resamples come from two matrix products. The two files are resampled independently (they hold
different shoppers), and an interval is the percentile range of the metric over the resamples.

Metrics (values in [0, 1] unless said otherwise):

- mixes (`action_type`, `click_target`, `ending`, `leave_stage`): each side's shares, and the
  Jensen-Shannon divergence between them (bits; 0 identical, 1 disjoint). `click_target` is over
  clicks; `click_target_per_action` gives the same categories as shares of all actions;
- numbers per session (`session_length`, `searches_per_session`, `terminate_step`) and per query
  (`query_length`, words): each side's mean, the mean difference (simulated - real), the Wasserstein-1
  distance (in the value's units) and the KS statistic;
- `purchase_rate`: share of visits ending in a purchase; `funnel`: share of visits getting at least
  as far as search, product, cart, purchase (see `features.funnel_depth`); both with the difference;
- `summary.mean_js`: the mean of the action-type, click-target and ending divergences, one number
  for "how far apart" (0 = the same mixes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shop_r1.evaluation.bootstrap import resample_weights
from shop_r1.evaluation.runs import Estimate
from shop_r1.realism.distances import histogram_mean, js_divergence, ks_statistic, shares, wasserstein_1
from shop_r1.realism.features import ENDINGS, FUNNEL_STAGES, SessionFeatures, session_features
from shop_r1.schema import ACTION_TYPES, Session

__all__ = [
    "MIXES", "NUMBERS", "SIDES", "SUMMARY_MIXES", "Layout", "RealismResult", "compare_features", "compare_sessions",
    "count_matrix", "make_layout", "statistics",
]

SIDES = ("real", "simulated")
MIXES = ("action_type", "click_target", "ending", "leave_stage")
NUMBERS = ("session_length", "searches_per_session", "query_length", "terminate_step")
SUMMARY_MIXES = ("action_type", "click_target", "ending")
LEAVE_STAGES = ("none", *FUNNEL_STAGES[:-1])


def _mix_values(features: SessionFeatures, mix: str) -> Sequence[str]:
    if mix == "action_type":
        return features.action_types
    if mix == "click_target":
        return features.click_categories
    if mix == "ending":
        return (features.ending,)
    return () if features.leave_stage is None else (features.leave_stage,)


def _number_values(features: SessionFeatures, number: str) -> Sequence[float]:
    if number == "session_length":
        return (features.length,)
    if number == "searches_per_session":
        return (features.searches,)
    if number == "query_length":
        return features.query_lengths
    return () if features.terminate_step is None else (features.terminate_step,)


@dataclass(frozen=True)
class Layout:
    """Which column of a count row holds what: category labels per mix, value grids per number."""

    labels: dict[str, tuple[str, ...]]
    grids: dict[str, np.ndarray]
    columns: dict[str, slice] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return max(s.stop for s in self.columns.values())


def make_layout(features: Sequence[SessionFeatures]) -> Layout:
    """The columns for both files' features (pass them all, so that both sides share one layout)."""
    clicks = Counter(c for f in features for c in f.click_categories)
    labels = {
        "action_type": ACTION_TYPES,
        # most frequent first (over both files), so tables and plots lead with what matters
        "click_target": tuple(sorted(clicks, key=lambda c: (-clicks[c], c))),
        "ending": ENDINGS,
        "leave_stage": LEAVE_STAGES,
    }
    grids = {}
    for number in NUMBERS:
        values = sorted({float(v) for f in features for v in _number_values(f, number)})
        grids[number] = np.asarray(values or [0.0])
    columns: dict[str, slice] = {}
    start = 0
    blocks = [(f"mix:{m}", len(labels[m])) for m in MIXES] + [(f"number:{n}", len(grids[n])) for n in NUMBERS]
    blocks += [("sessions", 1), ("funnel", len(FUNNEL_STAGES))]
    for key, width in blocks:
        columns[key] = slice(start, start + width)
        start += width
    return Layout(labels=labels, grids=grids, columns=columns)


def count_matrix(features: Sequence[SessionFeatures], layout: Layout) -> np.ndarray:
    """`(sessions, layout.width)` counts: one additive row per session."""
    rows = np.zeros((len(features), layout.width), dtype=np.int64)
    index = {m: {label: i for i, label in enumerate(layout.labels[m])} for m in MIXES}
    grid_index = {n: {float(v): i for i, v in enumerate(layout.grids[n])} for n in NUMBERS}
    for r, f in enumerate(features):
        for mix in MIXES:
            start = layout.columns[f"mix:{mix}"].start
            for value in _mix_values(f, mix):
                rows[r, start + index[mix][value]] += 1
        for number in NUMBERS:
            start = layout.columns[f"number:{number}"].start
            for value in _number_values(f, number):
                rows[r, start + grid_index[number][float(value)]] += 1
        rows[r, layout.columns["sessions"].start] = 1
        funnel = layout.columns["funnel"].start
        rows[r, funnel:funnel + f.depth] = 1  # depth k: stages 1..k reached
    return rows


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """`numerator / denominator`, NaN where the denominator is 0 (a resample with nothing to divide by)."""
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, np.nan)


def statistics(real: np.ndarray, sim: np.ndarray, layout: Layout) -> dict[str, np.ndarray]:
    """Every metric from summed counts; `real` and `sim` are `(C,)` or `(B, C)` (B resamples at once).

    Keys are flat: `action_type.real.click`, `click_target.js`, `session_length.wasserstein`, ...
    """
    out: dict[str, np.ndarray] = {}
    totals = {"real": np.atleast_2d(real).astype(float), "simulated": np.atleast_2d(sim).astype(float)}

    def block(side: str, key: str) -> np.ndarray:
        return totals[side][:, layout.columns[key]]

    for mix in MIXES:
        for side in SIDES:
            for label, value in zip(layout.labels[mix], shares(block(side, f"mix:{mix}")).T, strict=True):
                out[f"{mix}.{side}.{label}"] = value
        out[f"{mix}.js"] = js_divergence(block("real", f"mix:{mix}"), block("simulated", f"mix:{mix}"))
    for side in SIDES:
        actions = block(side, "mix:action_type").sum(axis=1)
        clicks = block(side, "mix:click_target")
        per_action = _ratio(clicks, actions[:, None])
        for label, value in zip(layout.labels["click_target"], per_action.T, strict=True):
            out[f"click_target_per_action.{side}.{label}"] = value
    for number in NUMBERS:
        key, grid = f"number:{number}", layout.grids[number]
        real_hist, sim_hist = block("real", key), block("simulated", key)
        out[f"{number}.real.mean"] = histogram_mean(real_hist, grid)
        out[f"{number}.simulated.mean"] = histogram_mean(sim_hist, grid)
        out[f"{number}.mean_difference"] = out[f"{number}.simulated.mean"] - out[f"{number}.real.mean"]
        out[f"{number}.wasserstein"] = wasserstein_1(real_hist, sim_hist, grid)
        out[f"{number}.ks"] = ks_statistic(real_hist, sim_hist)
    for stage_index, stage in enumerate(FUNNEL_STAGES):
        for side in SIDES:
            sessions = block(side, "sessions")[:, 0]
            reached = block(side, "funnel")[:, stage_index]
            out[f"funnel.{side}.{stage}"] = _ratio(reached, sessions)
        out[f"funnel.difference.{stage}"] = out[f"funnel.simulated.{stage}"] - out[f"funnel.real.{stage}"]
    for side in SIDES:
        out[f"purchase_rate.{side}"] = out[f"ending.{side}.purchase"]
    out["purchase_rate.difference"] = out["purchase_rate.simulated"] - out["purchase_rate.real"]
    divergences = np.stack([out[f"{mix}.js"] for mix in SUMMARY_MIXES])
    with np.errstate(invalid="ignore"):
        defined = (~np.isnan(divergences)).sum(axis=0)
        out["summary.mean_js"] = np.where(defined > 0, np.nansum(divergences, axis=0) / np.maximum(defined, 1), np.nan)
    return out


def _interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return None, None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def _value(array: np.ndarray) -> float | None:
    value = float(array[0])
    return None if np.isnan(value) else value


@dataclass
class RealismResult:
    """All metrics of one real-vs-simulated comparison, with the counts the plots need."""

    sources: dict[str, str]
    sessions: dict[str, int]
    steps: dict[str, int]
    layout: Layout
    totals: dict[str, np.ndarray]  # summed count rows per side (the point estimate's input)
    estimates: dict[str, Estimate]  # flat keys, as in `statistics`
    n_resamples: int
    confidence: float
    seed: int

    def get(self, key: str) -> Estimate:
        return self.estimates[key]

    def histogram(self, side: str, number: str) -> np.ndarray:
        return self.totals[side][self.layout.columns[f"number:{number}"]]

    def to_dict(self) -> dict[str, Any]:
        """The nested layout of realism.json (fractions, not percent; `null` where undefined)."""

        def est(key: str) -> dict[str, float | None]:
            return self.estimates[key].to_dict()

        out: dict[str, Any] = {
            "real": {"source": self.sources["real"], "sessions": self.sessions["real"], "steps": self.steps["real"]},
            "simulated": {"source": self.sources["simulated"], "sessions": self.sessions["simulated"],
                          "steps": self.steps["simulated"]},
            "bootstrap": {"unit": "session", "n_resamples": self.n_resamples, "confidence": self.confidence,
                          "seed": self.seed, "note": "real and simulated sessions resampled independently"},
            "summary": {"mean_js": est("summary.mean_js"), "components": [f"{m}.js" for m in SUMMARY_MIXES]},
        }
        for mix in MIXES:
            out[mix] = {side: {label: est(f"{mix}.{side}.{label}") for label in self.layout.labels[mix]}
                        for side in SIDES}
            out[mix]["js"] = est(f"{mix}.js")
        clicks = self.layout.labels["click_target"]
        out["click_target_per_action"] = {
            side: {label: est(f"click_target_per_action.{side}.{label}") for label in clicks} for side in SIDES}
        for number in NUMBERS:
            out[number] = {
                **{f"{side}_mean": est(f"{number}.{side}.mean") for side in SIDES},
                **{key: est(f"{number}.{key}") for key in ("mean_difference", "wasserstein", "ks")},
                "values": [float(v) for v in self.layout.grids[number]],
                **{f"{side}_counts": [int(c) for c in self.histogram(side, number)] for side in SIDES},
            }
        out["purchase_rate"] = {key: est(f"purchase_rate.{key}") for key in (*SIDES, "difference")}
        out["funnel"] = {key: {stage: est(f"funnel.{key}.{stage}") for stage in FUNNEL_STAGES}
                         for key in (*SIDES, "difference")}
        return out


def compare_features(
    real: Sequence[SessionFeatures],
    sim: Sequence[SessionFeatures],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    sources: dict[str, str] | None = None,
    steps: dict[str, int] | None = None,
) -> RealismResult:
    """Every metric of `statistics` with a percentile bootstrap interval over each side's sessions."""
    if not real or not sim:
        raise ValueError("both sides need at least one session")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    layout = make_layout([*real, *sim])
    counts = {"real": count_matrix(real, layout), "simulated": count_matrix(sim, layout)}
    totals = {side: matrix.sum(axis=0) for side, matrix in counts.items()}
    point = statistics(totals["real"], totals["simulated"], layout)
    samples: dict[str, np.ndarray] = {}
    if n_resamples > 0:
        # Separate seeds: the two files hold different shoppers, so their resamples are independent.
        real_w = resample_weights(len(real), n_resamples, seed)
        sim_w = resample_weights(len(sim), n_resamples, seed + 1)
        samples = statistics(real_w @ counts["real"], sim_w @ counts["simulated"], layout)
    estimates = {}
    for key, value in point.items():
        low, high = _interval(samples[key], confidence) if samples else (None, None)
        estimates[key] = Estimate(_value(value), low, high)
    return RealismResult(
        sources=sources or {"real": "real", "simulated": "simulated"},
        sessions={"real": len(real), "simulated": len(sim)},
        steps=steps or {"real": sum(f.length for f in real), "simulated": sum(f.length for f in sim)},
        layout=layout, totals=totals, estimates=estimates, n_resamples=n_resamples, confidence=confidence,
        seed=seed,
    )


def compare_sessions(
    real: Sequence[Session],
    sim: Sequence[Session],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    sources: dict[str, str] | None = None,
) -> RealismResult:
    """Compare two lists of sessions (see the module docstring for the metrics)."""
    return compare_features([session_features(s) for s in real], [session_features(s) for s in sim],
                            n_resamples=n_resamples, confidence=confidence, seed=seed, sources=sources)
