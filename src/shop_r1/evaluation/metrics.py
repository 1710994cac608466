"""Shop-R1's evaluation metrics (arXiv 2507.17842, section 5) from a predictions file, with bootstrap CIs.

Per step, `score_sample` compares the parsed prediction (`None` when unparseable) with the gold:
- **exact action**: `rewards.exact_match` (the binary reward's test): click needs the full name,
  type_and_submit the name and a text with ROUGE-L >= `text_threshold` (0.75) or, for the strict
  variant, the identical string; terminate the type alone.
- **action type**: predicted type = gold type. An unparseable output is wrong on both and is its own
  predicted class, `invalid`, in the confusion matrix.
- **rationale** (only where the gold has one): ROUGE-L of the predicted to the gold rationale, and, where
  the embedded world's gold reason code is known, whether `evaluation.reasons` reads that code out of the
  predicted rationale; the same classifier applied to the gold rationale measures its own accuracy.
  An unparseable output scores 0 / a miss.

Corpus level, `metrics_from_counts` turns summed per-step counts into rates:
- accuracies are hits / steps; per-type values divide by the gold steps of that type (Table 3);
- **macro-F1** averages the per-type F1 = 2TP / (2TP + FP + FN) over the three action types, where an
  invalid prediction is a false negative of its gold type (and a false positive of none). A type that
  occurs neither in the gold nor in the predictions has no defined F1 and is left out of the average
  (so a test set without terminate steps is not penalised for a class it cannot contain); a type that
  is predicted but never gold, or gold but never predicted, counts with F1 = 0. With no type present at
  all (an empty file) the macro-F1 is undefined (`None`).

Confidence intervals: percentile bootstrap, resampling **sessions** (all steps of a drawn session come
along) by default: steps of one session share a shopper and a context, so resampling steps alone would
treat them as independent and give intervals that are too narrow. `unit="step"` is available.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from shop_r1.evaluation.bootstrap import Interval, bootstrap_intervals, paired_difference_intervals
from shop_r1.evaluation.reasons import classify_reason
from shop_r1.evaluation.records import PredictionRecord, StepKey, parse_failure_reason
from shop_r1.parsing import ParsedOutput, parse_completion
from shop_r1.rewards import exact_match, rouge_l
from shop_r1.schema import ACTION_TYPES, Action

__all__ = [
    "GOLD_LABELS",
    "HEADLINE_METRICS",
    "INVALID",
    "PRED_LABELS",
    "Estimate",
    "Evaluation",
    "MetricSpec",
    "MetricsConfig",
    "RunMetrics",
    "SampleScore",
    "compare_runs",
    "evaluate_records",
    "evaluate_runs",
    "macro_f1",
    "metrics_from_counts",
    "per_type_f1",
    "sample_counts",
    "score_sample",
]

INVALID = "invalid"
GOLD_LABELS: tuple[str, ...] = ACTION_TYPES
PRED_LABELS: tuple[str, ...] = (*ACTION_TYPES, INVALID)
Unit = Literal["session", "step"]


@dataclass(frozen=True)
class MetricSpec:
    """A reported number: its key in metrics.json, a label for people, and which direction is better."""

    key: str
    label: str
    higher_is_better: bool = True


HEADLINE_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("exact_action_acc", "exact action accuracy"),
    MetricSpec("exact_action_acc_strict", "exact action accuracy (strict text)"),
    MetricSpec("action_type_acc", "action type accuracy"),
    MetricSpec("action_type_macro_f1", "action type macro-F1"),
    MetricSpec("parse_failure_rate", "parse failure rate", higher_is_better=False),
    MetricSpec("rationale_rouge_l", "rationale ROUGE-L to gold"),
    MetricSpec("reason_acc", "rationale names the true reason"),
    MetricSpec("reason_classifier_acc", "reason classifier on gold rationales"),
)
PER_TYPE_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("exact", "exact"),
    MetricSpec("exact_strict", "exact (strict text)"),
    MetricSpec("type_acc", "type accuracy"),
    MetricSpec("f1", "type F1"),
)


@dataclass(frozen=True, slots=True)
class SampleScore:
    """One step's scores. `None` rationale fields: no gold to compare with."""

    gold_type: str
    pred_type: str
    exact: bool
    exact_strict: bool
    rationale_rouge: float | None = None
    reason_hit: bool | None = None
    gold_reason_hit: bool | None = None
    cut_at_length: bool = False


def score_sample(
    pred: ParsedOutput | None,
    gold: Action,
    *,
    gold_rationale: str | None = None,
    gold_reason: str | None = None,
    text_threshold: float = 0.75,
    classify: Callable[[str | None], str | None] = classify_reason,
    cut_at_length: bool = False,
) -> SampleScore:
    """Score one prediction (`None` = unparseable) against its gold action, rationale and reason code."""
    rationale = pred.rationale if pred is not None else None
    return SampleScore(
        gold_type=gold.type.value,
        pred_type=pred.action.type.value if pred is not None else INVALID,
        exact=pred is not None and exact_match(pred.action, gold, text_threshold),
        exact_strict=pred is not None and exact_match(pred.action, gold, None),
        rationale_rouge=None if not gold_rationale else (rouge_l(rationale, gold_rationale) if rationale else 0.0),
        reason_hit=None if not gold_reason else classify(rationale) == gold_reason,
        gold_reason_hit=None if not (gold_reason and gold_rationale) else classify(gold_rationale) == gold_reason,
        cut_at_length=cut_at_length,
    )


def _layout() -> dict[str, int]:
    names = ["n", "parse_ok", "exact", "exact_strict", "cut_at_length"]
    names += [f"{kind}:{g}" for kind in ("exact", "exact_strict") for g in GOLD_LABELS]
    names += [f"cm:{g}:{p}" for g in GOLD_LABELS for p in PRED_LABELS]
    names += ["rationale_n", "rationale_rouge", "reason_n", "reason_hit", "reason_cls_n", "reason_cls_hit"]
    return {name: index for index, name in enumerate(names)}


# Every metric is a ratio of these additive counts, which is what makes the bootstrap a matrix product.
COUNT_INDEX: dict[str, int] = _layout()


def sample_counts(score: SampleScore) -> np.ndarray:
    """The step's contribution to every count of `COUNT_INDEX`."""
    c = np.zeros(len(COUNT_INDEX))
    gold = score.gold_type
    add = {"n": 1.0, "parse_ok": float(score.pred_type != INVALID), "exact": float(score.exact),
           "exact_strict": float(score.exact_strict), "cut_at_length": float(score.cut_at_length),
           f"exact:{gold}": float(score.exact), f"exact_strict:{gold}": float(score.exact_strict),
           f"cm:{gold}:{score.pred_type}": 1.0}
    if score.rationale_rouge is not None:
        add.update(rationale_n=1.0, rationale_rouge=score.rationale_rouge)
    if score.reason_hit is not None:
        add.update(reason_n=1.0, reason_hit=float(score.reason_hit))
    if score.gold_reason_hit is not None:
        add.update(reason_cls_n=1.0, reason_cls_hit=float(score.gold_reason_hit))
    for name, value in add.items():
        c[COUNT_INDEX[name]] = value
    return c


def confusion_from_counts(counts: np.ndarray) -> np.ndarray:
    """`(3, 4)` matrix: rows gold types, columns predicted types plus `invalid`."""
    return np.array([[counts[COUNT_INDEX[f"cm:{g}:{p}"]] for p in PRED_LABELS] for g in GOLD_LABELS])


def per_type_f1(confusion: np.ndarray) -> dict[str, float | None]:
    """F1 of each action type from a (gold x predicted+invalid) confusion matrix; `None` when the type
    occurs neither in the gold nor in the predictions."""
    out: dict[str, float | None] = {}
    for i, label in enumerate(GOLD_LABELS):
        tp = confusion[i, i]
        fn = confusion[i].sum() - tp  # includes the gold steps answered with invalid output
        fp = confusion[:, i].sum() - tp
        denominator = 2 * tp + fp + fn
        out[label] = float(2 * tp / denominator) if denominator > 0 else None
    return out


def macro_f1(confusion: np.ndarray) -> float | None:
    """Mean F1 over the action types that occur in the gold or the predictions (see the module docstring)."""
    defined = [f for f in per_type_f1(confusion).values() if f is not None]
    return sum(defined) / len(defined) if defined else None


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


def metrics_from_counts(counts: np.ndarray) -> dict[str, float | None]:
    """Every metric from summed counts; per-type keys are `<metric>:<type>`. `None` = undefined (no steps)."""
    get = {name: counts[index] for name, index in COUNT_INDEX.items()}
    n = get["n"]
    confusion = confusion_from_counts(counts)
    out: dict[str, float | None] = {
        "exact_action_acc": _ratio(get["exact"], n),
        "exact_action_acc_strict": _ratio(get["exact_strict"], n),
        "action_type_acc": _ratio(float(np.trace(confusion)), n),
        "action_type_macro_f1": macro_f1(confusion),
        "parse_failure_rate": _ratio(n - get["parse_ok"], n),
        "cut_at_length_rate": _ratio(get["cut_at_length"], n),
        "rationale_rouge_l": _ratio(get["rationale_rouge"], get["rationale_n"]),
        "reason_acc": _ratio(get["reason_hit"], get["reason_n"]),
        "reason_classifier_acc": _ratio(get["reason_cls_hit"], get["reason_cls_n"]),
    }
    f1 = per_type_f1(confusion)
    for i, g in enumerate(GOLD_LABELS):
        n_g = confusion[i].sum()
        out[f"exact:{g}"] = _ratio(get[f"exact:{g}"], n_g)
        out[f"exact_strict:{g}"] = _ratio(get[f"exact_strict:{g}"], n_g)
        out[f"type_acc:{g}"] = _ratio(confusion[i, i], n_g)
        out[f"f1:{g}"] = f1[g]
    return out


@dataclass(frozen=True)
class MetricsConfig:
    """How a predictions file is scored and how its intervals are drawn."""

    text_threshold: float = 0.75
    n_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    unit: Unit = "session"

    def __post_init__(self) -> None:
        if self.unit not in ("session", "step"):
            raise ValueError(f"unit must be 'session' or 'step', got {self.unit!r}")
        if not 0 <= self.text_threshold <= 1:
            raise ValueError(f"text_threshold must be in [0, 1], got {self.text_threshold}")
        if self.n_resamples < 0:
            raise ValueError(f"n_resamples must be >= 0, got {self.n_resamples}")


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
