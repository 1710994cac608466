"""Scoring runs: a predictions file -> every metric with a bootstrap interval, paired comparisons of runs,
and the dictionaries `metrics.json` is written from (arXiv 2507.17842, section 5; the metrics themselves
are `evaluation.metrics`).

Confidence intervals: percentile bootstrap, resampling **sessions** (all steps of a drawn session come
along) by default: steps of one session share a shopper and a context, so resampling steps alone would
treat them as independent and give intervals that are too narrow. `unit="step"` is available.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from shop_r1.evaluation.bootstrap import Interval, bootstrap_intervals, paired_difference_intervals
from shop_r1.evaluation.metrics import (
    COUNT_INDEX,
    GOLD_LABELS,
    HEADLINE_METRICS,
    PER_TYPE_METRICS,
    PRED_LABELS,
    confusion_from_counts,
    metrics_from_counts,
    sample_counts,
    score_sample,
)
from shop_r1.evaluation.records import PredictionRecord, StepKey, parse_failure_reason
from shop_r1.parsing import parse_completion
from shop_r1.rewards.rouge import TOKENIZERS, RougeTokenizer

__all__ = [
    "Estimate",
    "Evaluation",
    "MetricsConfig",
    "RunMetrics",
    "Unit",
    "compare_runs",
    "evaluate_records",
    "evaluate_runs",
]

Unit = Literal["session", "step"]


@dataclass(frozen=True)
class MetricsConfig:
    """How a predictions file is scored and how its intervals are drawn.

    `rouge_tokenizer` gives the tokens of the text match and the rationale ROUGE-L (`rewards.rouge`):
    `"rouge_score"` reproduces numbers computed with the rouge-score package (English only).
    """

    text_threshold: float = 0.75
    n_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    unit: Unit = "session"
    rouge_tokenizer: RougeTokenizer = "unicode"

    def __post_init__(self) -> None:
        if self.unit not in ("session", "step"):
            raise ValueError(f"unit must be 'session' or 'step', got {self.unit!r}")
        if not 0 <= self.text_threshold <= 1:
            raise ValueError(f"text_threshold must be in [0, 1], got {self.text_threshold}")
        if self.n_resamples < 0:
            raise ValueError(f"n_resamples must be >= 0, got {self.n_resamples}")
        if self.rouge_tokenizer not in TOKENIZERS:
            raise ValueError(f"rouge_tokenizer must be one of {', '.join(TOKENIZERS)}, got {self.rouge_tokenizer!r}")


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate and its bootstrap interval (`None`s when undefined or not bootstrapped)."""

    value: float | None
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "ci_low": self.low, "ci_high": self.high}


@dataclass
class RunMetrics:
    """Everything computed for one predictions file."""

    n_steps: int
    n_sessions: int
    metrics: dict[str, Estimate]
    confusion: list[list[int]]
    gold_counts: dict[str, int]
    parse_errors: dict[str, int]
    config: MetricsConfig
    counts_by_unit: dict[Any, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        headline = {spec.key: self.metrics[spec.key].to_dict() for spec in HEADLINE_METRICS}
        headline["cut_at_length_rate"] = self.metrics["cut_at_length_rate"].to_dict()
        per_type = {
            g: {"n": self.gold_counts[g], **{s.key: self.metrics[f"{s.key}:{g}"].to_dict() for s in PER_TYPE_METRICS}}
            for g in GOLD_LABELS
        }
        return {
            "n_steps": self.n_steps,
            "n_sessions": self.n_sessions,
            "metrics": headline,
            "per_type": per_type,
            "confusion": {"rows_gold": list(GOLD_LABELS), "cols_predicted": list(PRED_LABELS),
                          "matrix": self.confusion},
            "parse_errors": self.parse_errors,
        }


def _unit_of(record: PredictionRecord, unit: Unit) -> Any:
    return record.session_id if unit == "session" else record.key


def _unit_counts(records: Sequence[PredictionRecord], config: MetricsConfig) -> tuple[dict[Any, np.ndarray], Counter]:
    by_unit: dict[Any, np.ndarray] = defaultdict(lambda: np.zeros(len(COUNT_INDEX)))
    errors: Counter[str] = Counter()
    for record in records:
        parsed = parse_completion(record.completion)
        if parsed is None:
            errors[parse_failure_reason(record.completion).split(":")[0]] += 1
        score = score_sample(parsed, record.gold_action, gold_rationale=record.gold_rationale,
                             gold_reason=record.gold_reason, text_threshold=config.text_threshold,
                             rouge_tokenizer=config.rouge_tokenizer,
                             cut_at_length=record.finish_reason == "length")
        by_unit[_unit_of(record, config.unit)] += sample_counts(score)
    return dict(by_unit), errors


def evaluate_records(records: Sequence[PredictionRecord], config: MetricsConfig = MetricsConfig()) -> RunMetrics:
    """Score every step of one run and bootstrap an interval for every metric."""
    by_unit, errors = _unit_counts(records, config)
    matrix = np.stack(list(by_unit.values())) if by_unit else np.zeros((0, len(COUNT_INDEX)))
    totals = matrix.sum(axis=0)
    point = metrics_from_counts(totals)
    intervals: dict[str, Interval] = {}
    if config.n_resamples > 0 and len(matrix) > 0:
        intervals = bootstrap_intervals(matrix, metrics_from_counts, n_resamples=config.n_resamples,
                                        confidence=config.confidence, seed=config.seed)
    metrics = {}
    for key, value in point.items():
        interval = intervals.get(key)
        defined = value is not None and interval is not None
        metrics[key] = Estimate(value, interval.low if defined else None, interval.high if defined else None)
    confusion = confusion_from_counts(totals)
    return RunMetrics(
        n_steps=len(records),
        n_sessions=len({r.session_id for r in records}),
        metrics=metrics,
        confusion=[[int(round(v)) for v in row] for row in confusion],
        gold_counts={g: int(round(confusion[i].sum())) for i, g in enumerate(GOLD_LABELS)},
        parse_errors=dict(errors.most_common()),
        config=config,
        counts_by_unit=by_unit,
    )


def compare_runs(
    baseline: Sequence[PredictionRecord],
    other: Sequence[PredictionRecord],
    config: MetricsConfig = MetricsConfig(),
) -> tuple[int, dict[str, Estimate]]:
    """Paired difference `other - baseline` of every metric on the steps both files contain.

    Returns the number of shared steps and, per metric, the difference with its paired-bootstrap interval
    (both runs resampled with the same units). No shared step: `(0, {})`.
    """
    shared: set[StepKey] = {r.key for r in baseline} & {r.key for r in other}
    if not shared:
        return 0, {}
    a, _ = _unit_counts([r for r in baseline if r.key in shared], config)
    b, _ = _unit_counts([r for r in other if r.key in shared], config)
    units = sorted(a, key=repr)  # both runs cover the same units once restricted to shared steps
    counts_a, counts_b = np.stack([a[u] for u in units]), np.stack([b[u] for u in units])
    point_a, point_b = metrics_from_counts(counts_a.sum(0)), metrics_from_counts(counts_b.sum(0))
    intervals = {}
    if config.n_resamples > 0:
        intervals = paired_difference_intervals(counts_a, counts_b, metrics_from_counts,
                                                n_resamples=config.n_resamples, confidence=config.confidence,
                                                seed=config.seed)
    out = {}
    for key, value_a in point_a.items():
        value_b = point_b[key]
        diff = None if value_a is None or value_b is None else value_b - value_a
        interval = intervals.get(key)
        defined = diff is not None and interval is not None
        out[key] = Estimate(diff, interval.low if defined else None, interval.high if defined else None)
    return len(shared), out


@dataclass
class Evaluation:
    """One or more runs scored the same way; `comparisons[name]` is `name - first run` on shared steps."""

    runs: dict[str, RunMetrics]
    sources: dict[str, str]
    comparisons: dict[str, tuple[int, dict[str, Estimate]]]
    config: MetricsConfig

    @property
    def baseline(self) -> str:
        return next(iter(self.runs))

    def to_dict(self) -> dict[str, Any]:
        config = self.config
        return {
            "config": {
                "text_threshold": config.text_threshold,
                "rouge_tokenizer": config.rouge_tokenizer,
                "bootstrap": {"unit": config.unit, "n_resamples": config.n_resamples,
                              "confidence": config.confidence, "seed": config.seed, "method": "percentile"},
            },
            "runs": {name: {"source": self.sources.get(name), **run.to_dict()} for name, run in self.runs.items()},
            "comparisons": {
                name: {"baseline": self.baseline, "shared_steps": shared,
                       "difference": {key: est.to_dict() for key, est in diffs.items()}}
                for name, (shared, diffs) in self.comparisons.items()
            },
        }


def evaluate_runs(
    runs: Mapping[str, Sequence[PredictionRecord]],
    config: MetricsConfig = MetricsConfig(),
    sources: Mapping[str, str] | None = None,
) -> Evaluation:
    """Score every run; with several, also the paired difference of each later run to the first."""
    if not runs:
        raise ValueError("evaluate_runs needs at least one run")
    scored = {name: evaluate_records(records, config) for name, records in runs.items()}
    names = list(runs)
    comparisons = {name: compare_runs(runs[names[0]], runs[name], config) for name in names[1:]}
    return Evaluation(runs=scored, sources=dict(sources or {}), comparisons=comparisons, config=config)
