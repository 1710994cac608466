"""TRL adapters: TRL's reward-function contract around the pure scorers (style.md section 3)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest

from shop_r1.rewards import (
    REWARD_REGISTRY,
    ActionReward,
    BinaryActionReward,
    FormatReward,
    RationaleReward,
    RewardConfig,
    build_reward_funcs,
    score_completion,
)

BUY_NOW = {"type": "click", "name": "add_to_cart.buy_now"}
SEARCH = {"type": "type_and_submit", "name": "search_input", "text": "red running shoes"}


def out(action: dict[str, Any]) -> str:
    return json.dumps({"rationale": "I compare prices first.", "action": action})


# One batch as TRL passes it: completions and the gold_action column, in every form a gold may take.
COMPLETIONS = [
    out(BUY_NOW),  # exact click
    out({"type": "click", "name": "refinements.customer_reviews"}),  # Figure 1: right type, wrong target
    out({"type": "terminate"}),  # wrong type
    "I think I'd click buy now.",  # invalid
    out({"type": "type_and_submit", "name": "search_input", "text": "Red running shoes!"}),  # exact submit
    out({"type": "terminate"}),  # gold missing
    out(BUY_NOW),  # gold malformed
]
GOLDS: list[Any] = [
    BUY_NOW,
    json.dumps(BUY_NOW),
    {"type": "click", "name": "add_to_cart.buy_now", "text": None},
    BUY_NOW,
    SEARCH,
    None,
    {"type": "click"},
]


def conversational(texts: list[str]) -> list[list[dict[str, str]]]:
    return [[{"role": "assistant", "content": text}] for text in texts]


@pytest.mark.parametrize(
    ("reward", "expected"),
    [
        (FormatReward(), [0.5, 0.5, 0.5, 0.0, 0.5, None, None]),
        (ActionReward(), [1000.5, 0.5, 0.0, 0.0, 1000.6, None, None]),
        (BinaryActionReward(), [1.0, 0.0, 0.0, 0.0, 1.0, None, None]),
        (ActionReward(replace(RewardConfig(), binary_action=True)), [1.0, 0.0, 0.0, 0.0, 1.0, None, None]),
        (FormatReward(replace(RewardConfig(), use_format_reward=False)), [0.0, 0.0, 0.0, 0.0, 0.0, None, None]),
    ],
    ids=["format", "action", "action_binary", "action_in_binary_mode", "format_ablated"],
)
@pytest.mark.parametrize("style", ["text", "conversational"])
def test_rewards_per_completion(reward: Any, expected: list[float | None], style: str) -> None:
    completions = COMPLETIONS if style == "text" else conversational(COMPLETIONS)
    result = reward(prompts=["p"] * len(GOLDS), completions=completions, gold_action=GOLDS, completion_ids=None)
    assert result == [None if e is None else pytest.approx(e) for e in expected]


@pytest.mark.parametrize("index", range(5), ids=["exact_click", "figure1", "wrong_type", "invalid", "exact_submit"])
def test_format_plus_action_equals_total(index: int) -> None:
    kwargs = {"completions": [COMPLETIONS[index]], "gold_action": [GOLDS[index]]}
    summed = FormatReward()(**kwargs)[0] + ActionReward()(**kwargs)[0]
    assert summed == pytest.approx(score_completion(COMPLETIONS[index], GOLDS[index]).total)


def test_rationale_reward_pays_alpha_times_self_certainty_for_valid_completions() -> None:
    result = RationaleReward()(
        completions=COMPLETIONS, gold_action=GOLDS, self_certainty=[2.0, 4.0, 1.0, 9.0, 0.0, 1.0, 1.0]
    )
    assert result == [pytest.approx(0.01), pytest.approx(0.02), pytest.approx(0.005), 0.0, 0.0, None, None]


@pytest.mark.parametrize(
    ("reward", "kwargs"),
    [
        (FormatReward(), {"completions": ["x"]}),
        (ActionReward(), {"completions": ["x"]}),
        (RationaleReward(), {"completions": ["x"], "gold_action": [BUY_NOW]}),
    ],
    ids=["format_without_gold", "action_without_gold", "rationale_without_self_certainty"],
)
def test_missing_columns_fail_fast(reward: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="needs"):
        reward(**kwargs)


def test_logs_parse_failure_rate_and_type_shares() -> None:
    logged: dict[str, float] = {}
    ActionReward()(completions=COMPLETIONS, gold_action=GOLDS, log_metric=logged.__setitem__)
    assert logged == {
        "parse_failure_rate": pytest.approx(1 / 7),
        "rollout_type_share/click": pytest.approx(3 / 7),
        "rollout_type_share/type_and_submit": pytest.approx(1 / 7),
        "rollout_type_share/terminate": pytest.approx(2 / 7),
    }


@pytest.mark.parametrize(
    ("name", "cls", "dashboard_name"),
    [
        ("format", FormatReward, "format_reward"),
        ("action", ActionReward, "action_reward"),
        ("action_binary", BinaryActionReward, "action_binary_reward"),
        ("rationale", RationaleReward, "rationale_reward"),
    ],
    ids=["format", "action", "action_binary", "rationale"],
)
def test_registry_builds_picklable_rewards_with_stable_names(name: str, cls: type, dashboard_name: str) -> None:
    reward = REWARD_REGISTRY[name](RewardConfig(dars_factor=10.0))
    assert isinstance(reward, cls)
    assert reward.__name__ == dashboard_name
    clone = pickle.loads(pickle.dumps(reward))
    assert clone.__name__ == dashboard_name
    assert clone.config == reward.config


def test_build_reward_funcs_logs_stats_from_the_first_function_only() -> None:
    funcs = build_reward_funcs(["format", "action", "rationale"])
    assert [f.__name__ for f in funcs] == ["format_reward", "action_reward", "rationale_reward"]
    assert [f.log_stats for f in funcs] == [True, False, False]


def test_build_reward_funcs_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="known: \\['action', 'action_binary', 'format', 'rationale'\\]"):
        build_reward_funcs(["format", "accuracy"])


def test_importing_rewards_does_not_import_torch() -> None:
    code = "import sys, shop_r1.rewards; print('torch' in sys.modules, 'transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
