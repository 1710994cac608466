"""Shop-R1's evaluation metrics (arXiv 2507.17842, section 5): per-step scores and the rates of summed counts.

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

Pure functions of scores and counts; scoring whole predictions files with intervals is `evaluation.runs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shop_r1.evaluation.reasons import classify_reason
from shop_r1.parsing import ParsedOutput
from shop_r1.rewards import exact_match, rouge_l
from shop_r1.rewards.rouge import RougeTokenizer
from shop_r1.schema import ACTION_TYPES, Action

__all__ = [
    "COUNT_INDEX",
    "GOLD_LABELS",
    "HEADLINE_METRICS",
    "INVALID",
    "PER_TYPE_METRICS",
    "PRED_LABELS",
    "MetricSpec",
    "SampleScore",
    "confusion_from_counts",
    "macro_f1",
    "metrics_from_counts",
    "per_type_f1",
    "sample_counts",
    "score_sample",
]

INVALID = "invalid"
GOLD_LABELS: tuple[str, ...] = ACTION_TYPES
PRED_LABELS: tuple[str, ...] = (*ACTION_TYPES, INVALID)


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
    rouge_tokenizer: RougeTokenizer = "unicode",
) -> SampleScore:
    """Score one prediction (`None` = unparseable) against its gold action, rationale and reason code;
    `rouge_tokenizer` gives the tokens of the text match and the rationale ROUGE-L."""
    rationale = pred.rationale if pred is not None else None
    rouge = rouge_l(rationale, gold_rationale, rouge_tokenizer) if rationale and gold_rationale else 0.0
    return SampleScore(
        gold_type=gold.type.value,
        pred_type=pred.action.type.value if pred is not None else INVALID,
        exact=pred is not None and exact_match(pred.action, gold, text_threshold, tokenizer=rouge_tokenizer),
        exact_strict=pred is not None and exact_match(pred.action, gold, None),
        rationale_rouge=None if not gold_rationale else rouge,
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
