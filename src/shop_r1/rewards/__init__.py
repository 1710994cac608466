"""Shop-R1's rewards (arXiv 2507.17842, section 3): format, hierarchical action with DARS, self-certainty.

Layers: `shop_r1.parsing` turns text into a `ParsedOutput`; pure scorers here (`rouge`, `format`,
`action`, `score`) turn it into numbers; `token_mask` finds the rationale's tokens and `self_certainty_math`
computes their self-certainty (torch, imported on first use so that `import shop_r1.rewards` stays light);
`trl_adapters` wraps the scorers in TRL's reward-function contract, and `REWARD_REGISTRY` names
them for configs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from shop_r1.parsing import ParseConfig, ParsedOutput, PredictedAction, parse_completion
from shop_r1.rewards.action import ActionScore, action_reward, action_score, binary_action_score, exact_match
from shop_r1.rewards.config import RewardConfig, SelfCertaintyForm, ThresholdScope
from shop_r1.rewards.format import format_reward
from shop_r1.rewards.rouge import rouge_l, rouge_tokens
from shop_r1.rewards.score import (
    GoldAction,
    RewardBreakdown,
    coerce_gold,
    score_completion,
    score_parsed,
    self_certainty_reward,
)
from shop_r1.rewards.token_mask import locate_rationale, rationale_token_mask
from shop_r1.rewards.trl_adapters import ActionReward, BinaryActionReward, FormatReward, RationaleReward

if TYPE_CHECKING:
    from shop_r1.rewards.self_certainty_math import per_token_self_certainty, self_certainty

__all__ = [
    "REWARD_REGISTRY",
    "ActionReward",
    "ActionScore",
    "BinaryActionReward",
    "FormatReward",
    "GoldAction",
    "ParseConfig",
    "ParsedOutput",
    "PredictedAction",
    "RationaleReward",
    "RewardBreakdown",
    "RewardConfig",
    "SelfCertaintyForm",
    "ThresholdScope",
    "action_reward",
    "action_score",
    "binary_action_score",
    "build_reward_funcs",
    "coerce_gold",
    "exact_match",
    "format_reward",
    "locate_rationale",
    "parse_completion",
    "per_token_self_certainty",
    "rationale_token_mask",
    "rouge_l",
    "rouge_tokens",
    "score_completion",
    "score_parsed",
    "self_certainty",
    "self_certainty_reward",
]

# Name -> factory of a TRL reward function. Names are what configs list in `reward_funcs`.
# "action" follows `RewardConfig.binary_action`; "action_binary" is always the exact-match reward
# (the RL (Binary) baselines use it alone).
REWARD_REGISTRY: dict[str, Callable[[RewardConfig], Any]] = {
    "format": FormatReward,
    "action": ActionReward,
    "action_binary": BinaryActionReward,
    "rationale": RationaleReward,
}

# Attributes whose module imports torch: loaded on first access (PEP 562).
_TORCH_ATTRIBUTES = frozenset({"self_certainty", "per_token_self_certainty"})


def __getattr__(name: str) -> Any:
    if name in _TORCH_ATTRIBUTES:
        # The module is not called `self_certainty`: importing a submodule of that name would
        # replace this package's `self_certainty` function with the module.
        from shop_r1.rewards import self_certainty_math

        return getattr(self_certainty_math, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_reward_funcs(names: Iterable[str], config: RewardConfig | None = None) -> list[Any]:
    """Build the named reward functions in order; raises `ValueError` on an unknown name.

    Only the first one logs the batch's rollout statistics (parse failure rate, type shares), so they
    are not repeated once per reward function.
    """
    names = list(names)
    unknown = [name for name in names if name not in REWARD_REGISTRY]
    if unknown:
        raise ValueError(f"unknown reward function(s) {unknown}; known: {sorted(REWARD_REGISTRY)}")
    config = config if config is not None else RewardConfig()
    funcs = [REWARD_REGISTRY[name](config) for name in names]
    for index, func in enumerate(funcs):
        func.log_stats = index == 0
    return funcs
