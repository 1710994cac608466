"""Percentile bootstrap over units (sessions or steps) for statistics that are functions of summed counts.

Every metric here is a ratio of additive counts (hits / steps, a confusion matrix, a sum of ROUGE
scores), so one resample is a weight vector over the units (how often each was drawn) and its counts
are `weights @ unit_counts`. That makes 1,000 resamples of a few thousand steps take milliseconds,
and lets two runs be resampled with the *same* weights for a paired difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "bootstrap_intervals", "paired_difference_intervals", "resample_weights"]

Statistic = Callable[[np.ndarray], Mapping[str, float | None]]
# Resample weights are built in chunks so memory stays ~ chunk x units, whatever n_resamples is.
_CHUNK = 256


@dataclass(frozen=True, slots=True)
class Interval:
    """A percentile interval; `valid` counts the resamples where the statistic was defined."""

    low: float | None
    high: float | None
    valid: int


def resample_weights(n_units: int, n_resamples: int, seed: int) -> np.ndarray:
    """`(n_resamples, n_units)` draw counts: row b says how often each unit appears in resample b."""
    rng = np.random.default_rng(seed)
    chunks = []
    for start in range(0, n_resamples, _CHUNK):
        size = min(_CHUNK, n_resamples - start)
        chunks.append(rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=size))
    return np.concatenate(chunks) if chunks else np.zeros((0, n_units), dtype=np.int64)


def _percentiles(samples: dict[str, list[float]], keys: list[str], confidence: float) -> dict[str, Interval]:
    tail = (1.0 - confidence) / 2.0
    out = {}
    for key in keys:
        values = samples.get(key, [])
        if not values:
            out[key] = Interval(None, None, 0)
            continue
        low, high = np.quantile(np.asarray(values), [tail, 1.0 - tail])
        out[key] = Interval(float(low), float(high), len(values))
    return out


def _collect(stats: list[Mapping[str, float | None]]) -> tuple[dict[str, list[float]], list[str]]:
    samples: dict[str, list[float]] = {}
    keys: list[str] = []
    for stat in stats:
        for key, value in stat.items():
            if key not in samples:
                samples[key] = []
                keys.append(key)
            if value is not None:  # undefined in this resample (e.g. no gold step of a type was drawn)
                samples[key].append(value)
    return samples, keys


def bootstrap_intervals(
    unit_counts: np.ndarray,
    statistic: Statistic,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Percentile intervals of every value `statistic(counts)` returns, resampling the rows of `unit_counts`.

    Args:
        unit_counts (`np.ndarray`): `(units, K)` additive counts, one row per resampling unit.
        statistic: summed counts `(K,)` -> named values (`None` where undefined).
        n_resamples (`int`, *optional*, defaults to 1000): bootstrap resamples.
        confidence (`float`, *optional*, defaults to 0.95): interval coverage.
        seed (`int`, *optional*, defaults to 0): seed of the resampling.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    weights = resample_weights(len(unit_counts), n_resamples, seed)
    totals = weights @ unit_counts  # (B, K)
    samples, keys = _collect([statistic(row) for row in totals])
    return _percentiles(samples, keys, confidence)


def paired_difference_intervals(
    counts_a: np.ndarray,
    counts_b: np.ndarray,
    statistic: Statistic,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Intervals of `statistic(b) - statistic(a)` when row i of both arrays is the same unit (paired design).

    Both runs are resampled with the same weights, so the interval reflects only how the runs differ on
    the same steps, not how hard the drawn steps happen to be: much tighter than two separate intervals.
    """
    if counts_a.shape[0] != counts_b.shape[0]:
        raise ValueError("paired bootstrap needs the same units in the same order for both runs")
    weights = resample_weights(len(counts_a), n_resamples, seed)
    diffs = []
    for row_a, row_b in zip(weights @ counts_a, weights @ counts_b, strict=True):
        stat_a, stat_b = statistic(row_a), statistic(row_b)
        diffs.append({key: None if stat_a[key] is None or stat_b.get(key) is None else stat_b[key] - stat_a[key]
                      for key in stat_a})
    samples, keys = _collect(diffs)
    return _percentiles(samples, keys, confidence)
