"""Evaluation metrics on hand-computed fixtures: accuracies, per type, confusion, macro-F1, CIs, rationale."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shop_r1.evaluation.bootstrap import bootstrap_intervals, paired_difference_intervals
from shop_r1.evaluation.metrics import (
    COUNT_INDEX,
    HEADLINE_METRICS,
    INVALID,
    macro_f1,
    metrics_from_counts,
    per_type_f1,
    score_sample,
)
from shop_r1.evaluation.records import PredictionRecord
from shop_r1.evaluation.runs import MetricsConfig, compare_runs, evaluate_records, evaluate_runs
from shop_r1.parsing import parse_completion
from shop_r1.schema import Action

NO_BOOTSTRAP = MetricsConfig(n_resamples=0)


def completion(action: dict, rationale: str = "r") -> str:
    return json.dumps({"rationale": rationale, "action": action})


def rec(session: str, step: int, text: str, gold: Action, rationale: str | None = None,
        reason: str | None = None, finish: str | None = "stop") -> PredictionRecord:
    return PredictionRecord(session, step, text, gold, rationale, reason, finish)


TAS = "type_and_submit"
# Six steps in three sessions; expected values are worked out by hand in the tests below.
FIXTURE = [
    # exact by ROUGE-L (1.0 after lower-casing and dropping "!"), not strictly
    rec("A", 0, completion({"type": TAS, "name": "search_input", "text": "Red running shoes!"}),
        Action(TAS, name="search_input", text="red running shoes")),
    # right type, sibling element: not exact
    rec("A", 1, completion({"type": "click", "name": "search_results.item_3"}),
        Action("click", name="search_results.item_2")),
    # unparseable: wrong, and predicted class "invalid"
    rec("A", 2, "Sure! I will leave now.", Action("terminate"), finish="length"),
    # right type, text ROUGE-L 2/3 < 0.75: not exact
    rec("B", 0, completion({"type": TAS, "name": "search_input", "text": "wool socks"}),
        Action(TAS, name="search_input", text="wool socks for winter")),
    # exactly right
    rec("B", 1, completion({"type": "click", "name": "add_to_cart.buy_now"}),
        Action("click", name="add_to_cart.buy_now")),
    # wrong type
    rec("C", 0, completion({"type": "click", "name": "search_input"}), Action("terminate")),
]


@pytest.fixture(scope="module")
def fixture_metrics():
    return evaluate_records(FIXTURE, NO_BOOTSTRAP)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("exact_action_acc", 2 / 6),
        ("exact_action_acc_strict", 1 / 6),
        ("action_type_acc", 4 / 6),
        # F1: click 2*2/(4+1+0) = 0.8, type_and_submit 1.0, terminate 0 (two gold, never predicted right)
        ("action_type_macro_f1", (0.8 + 1.0 + 0.0) / 3),
        ("parse_failure_rate", 1 / 6),
        ("cut_at_length_rate", 1 / 6),
        ("exact:click", 1 / 2),
        ("exact:type_and_submit", 1 / 2),
        ("exact:terminate", 0.0),
        ("exact_strict:type_and_submit", 0.0),
        ("type_acc:click", 1.0),
        ("type_acc:type_and_submit", 1.0),
        ("type_acc:terminate", 0.0),
        ("f1:click", 0.8),
        ("f1:type_and_submit", 1.0),
        ("f1:terminate", 0.0),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_fixture_metric(fixture_metrics, key, expected):
    assert fixture_metrics.metrics[key].value == pytest.approx(expected)


def test_fixture_confusion_matrix(fixture_metrics):
    # rows: click, type_and_submit, terminate; columns: click, type_and_submit, terminate, invalid
    assert fixture_metrics.confusion == [[2, 0, 0, 0], [0, 2, 0, 0], [1, 0, 0, 1]]
    assert fixture_metrics.gold_counts == {"click": 2, "type_and_submit": 2, "terminate": 2}


def test_fixture_counts_steps_sessions_and_parse_errors(fixture_metrics):
    assert (fixture_metrics.n_steps, fixture_metrics.n_sessions) == (6, 3)
    assert fixture_metrics.parse_errors == {"no JSON object at the start": 1}


def test_rationale_metrics_undefined_without_gold_rationales(fixture_metrics):
    for key in ("rationale_rouge_l", "reason_acc", "reason_classifier_acc"):
        assert fixture_metrics.metrics[key].value is None


def test_macro_f1_with_a_missing_class():
    # No terminate in the gold nor in the predictions: its F1 is undefined and left out of the average.
    # click: TP 1, FP 0, FN 1 -> 2/3; type_and_submit: TP 1, FP 1, FN 0 -> 2/3; macro = 2/3 (not 4/9).
    confusion = np.array([[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    assert per_type_f1(confusion) == {"click": pytest.approx(2 / 3), "type_and_submit": pytest.approx(2 / 3),
                                      "terminate": None}
    assert macro_f1(confusion) == pytest.approx(2 / 3)


def test_macro_f1_class_predicted_but_never_gold_counts_as_zero():
    # terminate is predicted once but never gold: F1 0, and it stays in the average.
    # click: TP 1, FP 0, FN 1 -> 2/3; type_and_submit: TP 1 -> 1.0; terminate 0 -> macro (2/3 + 1 + 0) / 3.
    confusion = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    assert macro_f1(confusion) == pytest.approx((2 / 3 + 1.0) / 3)


def test_macro_f1_invalid_prediction_is_a_miss_for_its_gold_class():
    # One click answered validly, one unparseable: click TP 1, FN 1 -> 2/3; no other class present.
    confusion = np.array([[1, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert macro_f1(confusion) == pytest.approx(2 / 3)


def test_macro_f1_of_nothing_is_undefined():
    assert macro_f1(np.zeros((3, 4))) is None


@pytest.mark.parametrize(
    ("text", "gold", "threshold", "expected"),
    [
        (completion({"type": "terminate"}), Action("terminate"), 0.75, (True, True, "terminate")),
        (completion({"type": "click", "name": ""}), Action("click", name="buy_now"), 0.75, (False, False, "click")),
        (completion({"type": TAS, "name": "search_input", "text": "wool socks"}),
         Action(TAS, name="search_input", text="wool socks for winter"), 0.6, (True, False, TAS)),
        (completion({"type": TAS, "name": "search", "text": "wool socks"}),
         Action(TAS, name="search_input", text="wool socks"), 0.75, (False, False, TAS)),
        ("{not json", Action("terminate"), 0.75, (False, False, INVALID)),
    ],
    ids=["terminate", "click-empty-name", "text-rouge-above-lower-threshold", "tas-wrong-name", "invalid"],
)
def test_score_sample(text, gold, threshold, expected):
    score = score_sample(parse_completion(text), gold, text_threshold=threshold)
    assert (score.exact, score.exact_strict, score.pred_type) == expected


RATIONALE_FIXTURE = [
    rec("R", 0, completion({"type": "click", "name": "refinements.price_1"}, "Let me limit the price to $25 to $50."),
        Action("click", name="refinements.price_1"), "Let me limit the price to $25 to $50.", "filter_price"),
    rec("R", 1, completion({"type": "click", "name": "sort.rating"},
                           "I'll sort by rating to see the best-reviewed ones first."),
        Action("click", name="sort.price"), "I'll sort by price so the cheapest options come first.", "sort_price"),
    rec("R", 2, "{", Action("terminate"), "I've spent enough time on this for today.", "terminate_out_of_patience"),
    rec("S", 0, completion({"type": "terminate"}, "Bye."), Action("terminate")),
]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        # ROUGE-L: 1 (identical), 12/23 (LCS "i ll sort by the first" = 6 of 12 and 11 tokens), 0 (unparseable)
        ("rationale_rouge_l", (1 + 12 / 23 + 0) / 3),
        # the classifier reads filter_price, sort_rating (wrong), nothing (invalid)
        ("reason_acc", 1 / 3),
        ("reason_classifier_acc", 1.0),
    ],
    ids=["rouge", "reason", "classifier-on-gold"],
)
def test_rationale_metrics(key, expected):
    assert evaluate_records(RATIONALE_FIXTURE, NO_BOOTSTRAP).metrics[key].value == pytest.approx(expected)


def _synthetic_run(n_sessions: int = 40, seed: int = 1) -> list[PredictionRecord]:
    """Sessions of 2-6 steps with a mix of right, wrong-type, wrong-name and unparseable outputs."""
    rng = np.random.default_rng(seed)
    golds = [Action("click", name="search_results.item_1"), Action(TAS, name="search_input", text="red shoes"),
             Action("terminate")]
    records = []
    for s in range(n_sessions):
        for t in range(int(rng.integers(2, 7))):
            gold = golds[int(rng.integers(0, 3))]
            draw = rng.random()
            if draw < 0.4:
                text = completion(gold.to_dict())
            elif draw < 0.7:
                text = completion({"type": "terminate"})
            elif draw < 0.9:
                text = completion({"type": "click", "name": "search_results.item_2"})
            else:
                text = "not json"
            records.append(rec(f"s{s}", t, text, gold, "I'll keep looking on the next page.", "next_page"))
    return records


@pytest.mark.parametrize("unit", ["session", "step"])
def test_confidence_intervals_contain_the_point_estimate(unit):
    result = evaluate_records(_synthetic_run(), MetricsConfig(n_resamples=500, unit=unit))
    for spec in HEADLINE_METRICS:
        estimate = result.metrics[spec.key]
        assert estimate.low is not None and estimate.high is not None, spec.key
        assert estimate.low <= estimate.value <= estimate.high, spec.key


def test_confidence_intervals_on_the_small_fixture_contain_the_point_estimate():
    result = evaluate_records(FIXTURE, MetricsConfig(n_resamples=300))
    for key in ("exact_action_acc", "action_type_acc", "action_type_macro_f1", "parse_failure_rate"):
        estimate = result.metrics[key]
        assert estimate.low <= estimate.value <= estimate.high, key


def test_session_bootstrap_is_wider_than_step_bootstrap_for_correlated_sessions():
    # 20 sessions of 5 steps, all right or all wrong: the steps of a session are not independent evidence.
    records = [rec(f"s{s}", t, completion({"type": "terminate"} if s % 2 else {"type": "click", "name": "x"}),
                   Action("terminate")) for s in range(20) for t in range(5)]
    by_session = evaluate_records(records, MetricsConfig(n_resamples=1000, unit="session")).metrics["exact_action_acc"]
    by_step = evaluate_records(records, MetricsConfig(n_resamples=1000, unit="step")).metrics["exact_action_acc"]
    assert by_session.value == by_step.value == 0.5
    assert (by_session.high - by_session.low) > 1.5 * (by_step.high - by_step.low)


def test_bootstrap_is_reproducible_with_its_seed():
    counts = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

    def stat(c):
        return {"rate": c[1] / c[0]}

    first = bootstrap_intervals(counts, stat, n_resamples=200, seed=7)
    assert first == bootstrap_intervals(counts, stat, n_resamples=200, seed=7)
    assert first["rate"].valid == 200


def test_bootstrap_skips_resamples_where_a_statistic_is_undefined():
    # One unit out of two has no steps of the type: resamples drawing only it leave the statistic undefined.
    counts = np.array([[1.0, 1.0], [0.0, 0.0]])

    def stat(c):
        return {"rate": c[1] / c[0] if c[0] else None}

    interval = bootstrap_intervals(counts, stat, n_resamples=400, seed=0)["rate"]
    assert (interval.low, interval.high) == (1.0, 1.0)
    assert 0 < interval.valid < 400


def test_paired_difference_of_a_run_with_itself_is_exactly_zero():
    run = _synthetic_run(10)
    shared, diffs = compare_runs(run, run, MetricsConfig(n_resamples=200))
    assert shared == len(run)
    for key in ("exact_action_acc", "action_type_macro_f1"):
        assert (diffs[key].value, diffs[key].low, diffs[key].high) == (0.0, 0.0, 0.0)


def test_paired_difference_of_a_uniformly_better_run_is_positive():
    baseline = _synthetic_run(20)
    better = [rec(r.session_id, r.step_index, completion(r.gold_action.to_dict()), r.gold_action) for r in baseline]
    _, diffs = compare_runs(baseline, better, MetricsConfig(n_resamples=300))
    exact = diffs["exact_action_acc"]
    assert exact.value == pytest.approx(1 - evaluate_records(baseline, NO_BOOTSTRAP).metrics["exact_action_acc"].value)
    assert exact.low > 0


def test_paired_difference_uses_only_shared_steps():
    shared, diffs = compare_runs(FIXTURE, FIXTURE[:2], MetricsConfig(n_resamples=0))
    assert shared == 2
    assert diffs["exact_action_acc"].value == 0.0


def test_paired_difference_intervals_need_aligned_units():
    with pytest.raises(ValueError, match="same units"):
        paired_difference_intervals(np.ones((2, 2)), np.ones((3, 2)), lambda c: {"x": 1.0})


def test_metrics_from_counts_of_nothing_are_undefined():
    out = metrics_from_counts(np.zeros(len(COUNT_INDEX)))
    assert out["exact_action_acc"] is None and out["action_type_macro_f1"] is None


def test_evaluate_runs_serialises_to_json():
    evaluation = evaluate_runs({"a": FIXTURE, "b": FIXTURE[:3]}, MetricsConfig(n_resamples=50))
    data = json.loads(json.dumps(evaluation.to_dict()))
    assert set(data["runs"]) == {"a", "b"}
    assert data["runs"]["a"]["metrics"]["exact_action_acc"]["value"] == pytest.approx(1 / 3)
    assert data["comparisons"]["b"]["shared_steps"] == 3
    assert data["config"]["bootstrap"]["unit"] == "session"
