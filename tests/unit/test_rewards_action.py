"""The Shop-R1 reward table (paper section 3, Table 1), row by row, its threshold edges, ablations and hierarchy."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from shop_r1.parsing import parse_completion
from shop_r1.rewards import (
    RewardBreakdown,
    RewardConfig,
    action_reward,
    coerce_gold,
    exact_match,
    format_reward,
    score_completion,
    self_certainty_reward,
)
from shop_r1.schema import Action, SchemaError

DEFAULT = RewardConfig()
BUY_NOW = Action("click", name="add_to_cart.buy_now")
ITEM_2 = Action("click", name="search_results.item_2")
SEARCH = Action("type_and_submit", name="search_input", text="red running shoes for women")
TERMINATE = Action("terminate")


def completion(action: dict[str, Any], rationale: str = "I want to compare prices first.") -> str:
    return json.dumps({"rationale": rationale, "action": action})


def click(name: str | None = None) -> str:
    return completion({"type": "click"} if name is None else {"type": "click", "name": name})


def submit(name: str | None = "search_input", text: str | None = None) -> str:
    action: dict[str, Any] = {"type": "type_and_submit"}
    if name is not None:
        action["name"] = name
    if text is not None:
        action["text"] = text
    return completion(action)


TERMINATE_OUT = completion({"type": "terminate"})

# (completion, gold, expected (format, type, attribute, value)); total = sum.
TABLE = {
    # The paper's Figure 1: right type, wrong target: 0.5 + 0.3 + 0.2 + 0.
    "figure1_click_wrong_target": (click("refinements.customer_reviews"), BUY_NOW, (0.5, 0.3, 0.2, 0.0)),
    "click_correct": (click("add_to_cart.buy_now"), BUY_NOW, (0.5, 0.3, 0.2, 1000.0)),
    "click_same_tokens_other_spelling": (click("Add_To_Cart.Buy_Now"), BUY_NOW, (0.5, 0.3, 0.2, 1000.0)),
    "click_missing_name": (click(), BUY_NOW, (0.5, 0.3, 0.0, 0.0)),
    "click_empty_name": (click(""), BUY_NOW, (0.5, 0.3, 0.0, 0.0)),
    "click_blank_name": (click("   "), BUY_NOW, (0.5, 0.3, 0.0, 0.0)),
    # ROUGE-L exactly 0.75: "exceeds" is strict, so the sibling product earns no value reward.
    "click_sibling_item_at_threshold": (click("search_results.item_3"), ITEM_2, (0.5, 0.3, 0.2, 0.0)),
    "click_sibling_control_below_threshold": (click("add_to_cart.quantity"), BUY_NOW, (0.5, 0.3, 0.2, 0.0)),
    "click_wrong_type_terminate": (TERMINATE_OUT, BUY_NOW, (0.5, 0.0, 0.0, 0.0)),
    "click_wrong_type_submit_same_name": (submit("add_to_cart.buy_now", "x"), BUY_NOW, (0.5, 0.0, 0.0, 0.0)),
    "terminate_correct_is_max_0_8": (TERMINATE_OUT, TERMINATE, (0.5, 0.3, 0.0, 0.0)),
    "terminate_wrong_type_click": (click("add_to_cart.buy_now"), TERMINATE, (0.5, 0.0, 0.0, 0.0)),
    "submit_correct": (submit(text="red running shoes for women"), SEARCH, (0.5, 0.3, 0.2, 1000.1)),
    "submit_text_paraphrase_same_tokens": (
        submit(text="Red, running shoes FOR women!"),
        SEARCH,
        (0.5, 0.3, 0.2, 1000.1),
    ),
    # 5 gold tokens: 4 of 5 shared -> ROUGE-L 0.8 (just above), 4 of 6 -> 8/11 = 0.727 (just below),
    # 3 of 3 -> 0.75 (at: 0.7499999999999999 in floats, still "at").
    "submit_text_just_above_threshold": (submit(text="red running shoes for men"), SEARCH, (0.5, 0.3, 0.2, 800.1)),
    "submit_text_at_threshold": (submit(text="red running shoes"), SEARCH, (0.5, 0.3, 0.2, 0.1)),
    "submit_text_just_below_threshold": (submit(text="red running shoes for men sale"), SEARCH, (0.5, 0.3, 0.2, 0.1)),
    "submit_missing_text": (submit(), SEARCH, (0.5, 0.3, 0.1, 0.1)),
    "submit_empty_text": (submit(text=""), SEARCH, (0.5, 0.3, 0.1, 0.1)),
    "submit_missing_name": (submit(name=None, text="red running shoes for women"), SEARCH, (0.5, 0.3, 0.1, 1000.0)),
    "submit_empty_name_and_text": (submit(name="", text=""), SEARCH, (0.5, 0.3, 0.0, 0.0)),
    # The small name term is ungated: ROUGE-L(search_box, search_input) = 0.5 still pays 0.05.
    "submit_near_miss_name": (
        submit(name="search_box", text="red running shoes for women"),
        SEARCH,
        (0.5, 0.3, 0.2, 1000.05),
    ),
    "submit_wrong_type_click": (click("search_input"), SEARCH, (0.5, 0.0, 0.0, 0.0)),
}


@pytest.mark.parametrize(("text", "gold", "expected"), list(TABLE.values()), ids=list(TABLE))
def test_reward_table(text: str, gold: Action, expected: tuple[float, float, float, float]) -> None:
    result = score_completion(text, gold)
    assert result.valid
    assert (result.format, result.type, result.attribute, result.value) == pytest.approx(expected, abs=1e-9)
    assert result.action == pytest.approx(sum(expected[1:]), abs=1e-9)
    assert result.total == pytest.approx(sum(expected), abs=1e-9)


def test_figure1_example_totals_one() -> None:
    assert score_completion(click("refinements.customer_reviews"), BUY_NOW).total == pytest.approx(1.0)


def test_correct_click_is_about_1001() -> None:
    assert score_completion(click("add_to_cart.buy_now"), BUY_NOW).total == pytest.approx(1001.0)


@pytest.mark.parametrize(
    "text",
    ["", "not json", click("add_to_cart.buy_now")[:-1], "```json\n" + click("add_to_cart.buy_now") + "\n```"],
    ids=["empty", "prose", "truncated", "fenced_in_strict_mode"],
)
def test_invalid_format_pays_nothing(text: str) -> None:
    assert score_completion(text, BUY_NOW) == RewardBreakdown(valid=False)


@pytest.mark.parametrize(
    ("gold", "gold_value"),
    [
        (BUY_NOW, BUY_NOW),
        ({"type": "click", "name": "add_to_cart.buy_now"}, BUY_NOW),
        ({"type": "click", "name": "add_to_cart.buy_now", "text": None}, BUY_NOW),
        ('{"type": "click", "name": "add_to_cart.buy_now"}', BUY_NOW),
        ({"type": "terminate", "name": None, "text": None}, TERMINATE),
    ],
    ids=["action", "dict", "arrow_struct_with_none", "json_string", "terminate_struct"],
)
def test_gold_forms(gold: Any, gold_value: Action) -> None:
    assert coerce_gold(gold) == gold_value


@pytest.mark.parametrize(
    "gold",
    [None, "{", '"click"', {"type": "click"}, {"type": "jump", "name": "x"}, 7],
    ids=["none", "bad_json", "json_string_not_object", "click_without_name", "unknown_type", "number"],
)
def test_bad_gold_raises_schema_error(gold: Any) -> None:
    with pytest.raises(SchemaError):
        score_completion(TERMINATE_OUT, gold)


# Each ablation switch, on the same completions (the paper's Table 4 rows).
ABLATIONS = {
    "no_format_correct_click": (
        replace(DEFAULT, use_format_reward=False),
        click("add_to_cart.buy_now"),
        BUY_NOW,
        1000.5,
    ),
    "no_format_invalid": (replace(DEFAULT, use_format_reward=False), "oops", BUY_NOW, 0.0),
    "no_format_wrong_type": (replace(DEFAULT, use_format_reward=False), TERMINATE_OUT, BUY_NOW, 0.0),
    "no_dars_correct_click": (replace(DEFAULT, use_dars=False), click("add_to_cart.buy_now"), BUY_NOW, 2.0),
    "no_dars_correct_submit": (
        replace(DEFAULT, use_dars=False),
        submit(text="red running shoes for women"),
        SEARCH,
        2.1,
    ),
    "no_dars_above_threshold": (
        replace(DEFAULT, use_dars=False),
        submit(text="red running shoes for men"),
        SEARCH,
        1.9,
    ),
    "no_dars_terminate": (replace(DEFAULT, use_dars=False), TERMINATE_OUT, TERMINATE, 0.8),
    "binary_correct_click": (replace(DEFAULT, binary_action=True), click("add_to_cart.buy_now"), BUY_NOW, 1.5),
    "binary_wrong_target": (replace(DEFAULT, binary_action=True), click("refinements.customer_reviews"), BUY_NOW, 0.5),
    "binary_other_spelling_is_not_exact": (
        replace(DEFAULT, binary_action=True),
        click("Add_To_Cart.Buy_Now"),
        BUY_NOW,
        0.5,
    ),
    "binary_terminate": (replace(DEFAULT, binary_action=True), TERMINATE_OUT, TERMINATE, 1.5),
    "binary_text_at_eval_threshold": (
        replace(DEFAULT, binary_action=True),
        submit(text="red running shoes"),
        SEARCH,
        1.5,
    ),
    "binary_text_below_eval_threshold": (
        replace(DEFAULT, binary_action=True),
        submit(text="red running shoes for men sale"),
        SEARCH,
        0.5,
    ),
    "binary_invalid": (replace(DEFAULT, binary_action=True), "oops", BUY_NOW, 0.0),
    "threshold_scope_none_pays_sibling": (
        replace(DEFAULT, threshold_scope="none"),
        click("search_results.item_3"),
        ITEM_2,
        751.0,
    ),
    "threshold_scope_all_gates_name_term": (
        replace(DEFAULT, threshold_scope="all"),
        submit(name="search_box", text="red running shoes for women"),
        SEARCH,
        1001.0,
    ),
    "lower_threshold_pays_at_0_75_boundary_above": (
        replace(DEFAULT, similarity_threshold=0.7),
        submit(text="red running shoes for men sale"),
        SEARCH,
        1.1 + 1000 * 8 / 11,
    ),
    "fence_allowed": (replace(DEFAULT, allow_code_fence=True), "```json\n" + TERMINATE_OUT + "\n```", TERMINATE, 0.8),
}


@pytest.mark.parametrize(("config", "text", "gold", "total"), list(ABLATIONS.values()), ids=list(ABLATIONS))
def test_ablation_switches(config: RewardConfig, text: str, gold: Action, total: float) -> None:
    result = score_completion(text, gold, config)
    assert result.total == pytest.approx(total, abs=1e-9)
    assert result.total == pytest.approx(result.format + result.action, abs=1e-12)


def test_binary_mode_reports_action_as_exact_match_payoff() -> None:
    result = score_completion(click("add_to_cart.buy_now"), BUY_NOW, replace(DEFAULT, binary_action=True))
    assert (result.type, result.attribute, result.value, result.action, result.exact_match) == (
        0.0,
        0.0,
        0.0,
        1.0,
        True,
    )



@pytest.mark.parametrize("binary", [False, True], ids=["hierarchical", "binary"])
def test_action_reward_decides_the_mode_for_score_and_trl_alike(binary: bool) -> None:
    config = replace(DEFAULT, binary_action=binary)
    parsed = parse_completion(click("add_to_cart.buy_now"))
    value, parts = action_reward(parsed.action, BUY_NOW, config=config)
    assert value == score_completion(click("add_to_cart.buy_now"), BUY_NOW, config).action
    assert (parts.total == 0.0) is binary and (value == 1.0) is binary


def test_format_reward_is_paid_for_parsing_only() -> None:
    parsed = parse_completion(click("anything"))
    assert format_reward(parsed) == 0.5 and format_reward(None) == 0.0
    assert format_reward(parsed, replace(DEFAULT, use_format_reward=False)) == 0.0


@pytest.mark.parametrize(
    ("config", "score", "valid", "expected"),
    [
        (DEFAULT, 2.0, True, 0.01),
        (DEFAULT, 2.0, False, 0.0),
        (replace(DEFAULT, use_self_certainty=False), 2.0, True, 0.0),
        (replace(DEFAULT, alpha=0.1), 2.0, True, 0.2),
        (DEFAULT, float("nan"), True, None),
        (DEFAULT, float("inf"), True, None),
        (DEFAULT, None, True, None),
        (DEFAULT, float("nan"), False, 0.0),
    ],
    ids=[
        "default_alpha",
        "invalid_pays_nothing",
        "ablation_off",
        "custom_alpha",
        "nan",
        "inf",
        "missing",
        "nan_invalid",
    ],
)
def test_self_certainty_reward(config: RewardConfig, score: float | None, valid: bool, expected: float | None) -> None:
    result = self_certainty_reward(score, valid=valid, config=config)
    assert result == (None if expected is None else pytest.approx(expected))


# Monotone hierarchy: invalid <= wrong type <= right type with a missing / wrong target <= right target.
HIERARCHY = {
    "click": (
        BUY_NOW,
        [TERMINATE_OUT, click(""), click("refinements.customer_reviews"), click("add_to_cart.buy_now")],
    ),
    "click_near_miss": (
        ITEM_2,
        [submit(), click("search_results.item_3"), click("search_results.item_2_b"), click("search_results.item_2")],
    ),
    "type_and_submit": (
        SEARCH,
        [
            click("search_input"),
            submit(name=None),
            submit(text="blue sandals"),
            submit(text="red running shoes for women"),
        ],
    ),
    "terminate": (TERMINATE, [click("a"), TERMINATE_OUT]),
}


@pytest.mark.parametrize(("gold", "worst_to_best"), list(HIERARCHY.values()), ids=list(HIERARCHY))
@pytest.mark.parametrize("config", [DEFAULT, replace(DEFAULT, use_dars=False)], ids=["dars", "no_dars"])
def test_hierarchy_is_monotone(config: RewardConfig, gold: Action, worst_to_best: list[str]) -> None:
    totals = [score_completion(text, gold, config).total for text in ["{", *worst_to_best]]
    assert totals[0] == 0.0
    assert totals == sorted(totals)
    assert totals[1] < totals[-1]


@pytest.mark.parametrize(
    ("pred", "gold", "threshold", "expected"),
    [
        (Action("click", name="add_to_cart.buy_now"), BUY_NOW, 0.75, True),
        (Action("click", name="Add_To_Cart.Buy_Now"), BUY_NOW, 0.75, False),
        (Action("terminate"), TERMINATE, 0.75, True),
        (Action("terminate"), BUY_NOW, 0.75, False),
        (Action("type_and_submit", name="search_input", text="red running shoes for women"), SEARCH, 0.75, True),
        (Action("type_and_submit", name="search_input", text="red running shoes"), SEARCH, 0.75, True),
        (Action("type_and_submit", name="search_input", text="red running shoes for men sale"), SEARCH, 0.75, False),
        (Action("type_and_submit", name="search_box", text="red running shoes for women"), SEARCH, 0.75, False),
        (Action("type_and_submit", name="search_input", text="Red running shoes for women"), SEARCH, None, False),
        (Action("type_and_submit", name="search_input", text="red running shoes for women"), SEARCH, None, True),
        (Action("click", name="search_input"), SEARCH, 0.75, False),
    ],
    ids=[
        "click_same_name",
        "click_other_spelling",
        "terminate",
        "terminate_vs_click",
        "submit_same_text",
        "submit_text_at_threshold_counts",
        "submit_text_below_threshold",
        "submit_other_name",
        "strict_text_case_differs",
        "strict_text_equal",
        "click_vs_submit",
    ],
)
def test_exact_match(pred: Action, gold: Action, threshold: float | None, expected: bool) -> None:
    assert exact_match(pred, gold, text_threshold=threshold) is expected


@pytest.mark.parametrize(
    "overrides",
    [
        {"dars_factor": -1.0},
        {"similarity_threshold": 1.5},
        {"alpha": float("nan")},
        {"threshold_scope": "some"},
        {"self_certainty_form": "entropy"},
    ],
    ids=["negative_weight", "threshold_above_one", "nan_alpha", "unknown_scope", "unknown_form"],
)
def test_config_rejects_bad_values(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RewardConfig(**overrides)
