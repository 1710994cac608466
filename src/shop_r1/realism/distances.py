"""Distances between two distributions given as count vectors (pure numpy, no scipy).

Every function takes counts, not samples, and works on the last axis, so one call scores all bootstrap
resamples at once (`(B, K)` arrays in, `(B,)` out). Where a side has no mass the value is NaN
(undefined), never a made-up 0.

    >>> import numpy as np
    >>> float(js_divergence(np.array([1, 0]), np.array([0, 1])))
    1.0
    >>> float(wasserstein_1(np.array([1, 0, 0]), np.array([0, 0, 1]), np.array([1.0, 2.0, 5.0])))
    4.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["histogram_mean", "js_divergence", "ks_statistic", "shares", "wasserstein_1"]


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts divided by their total along the last axis (NaN where the total is 0)."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts / np.where(total > 0, total, 1.0), np.nan)


def js_divergence(p_counts: np.ndarray, q_counts: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence in bits: 0 for identical mixes, 1 for mixes with no category in common.

    Symmetric and bounded, unlike KL, and defined when a category appears on one side only (the usual
    case here: a real shopper clicks a coupon the simulation has never heard of).
    """
    p, q = shares(p_counts), shares(q_counts)
    m = (p + q) / 2.0

    def kl_to_m(x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            terms = np.where(x > 0, x * np.log2(np.where(x > 0, x, 1.0) / np.where(m > 0, m, 1.0)), 0.0)
        return terms.sum(axis=-1)

    value = 0.5 * kl_to_m(p) + 0.5 * kl_to_m(q)
    # Rounding can leave -1e-17 for identical mixes; a divergence is never negative.
    return np.where(np.isnan(p).any(axis=-1) | np.isnan(q).any(axis=-1), np.nan, np.clip(value, 0.0, 1.0))


def _cdfs(hist_a: np.ndarray, hist_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.cumsum(shares(hist_a), axis=-1), np.cumsum(shares(hist_b), axis=-1)


def wasserstein_1(hist_a: np.ndarray, hist_b: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Earth mover's distance between two histograms on the same sorted `grid` of values.

    In the units of the values (steps, searches, words): how far, on average, mass must move to turn
    one distribution into the other. It is the area between the two CDFs.
    """
    cdf_a, cdf_b = _cdfs(hist_a, hist_b)
    gaps = np.diff(np.asarray(grid, dtype=float))
    area = (np.abs(cdf_a - cdf_b)[..., :-1] * gaps).sum(axis=-1)
    # On a one-value grid the sum above is empty (0) even when a side has no mass: say undefined.
    return np.where(np.isnan(cdf_a[..., -1]) | np.isnan(cdf_b[..., -1]), np.nan, area)


def ks_statistic(hist_a: np.ndarray, hist_b: np.ndarray) -> np.ndarray:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two CDFs (0 to 1)."""
    cdf_a, cdf_b = _cdfs(hist_a, hist_b)
    return np.abs(cdf_a - cdf_b).max(axis=-1)


def histogram_mean(hist: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The mean value of a histogram over `grid`."""
    return (shares(hist) * np.asarray(grid, dtype=float)).sum(axis=-1)
