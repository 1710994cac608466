"""Score one completion against its gold action: the whole Shop-R1 reward except self-certainty.

R = 0 when the format is invalid ("nothing else is paid"), else R = format + v(a) + alpha * s(r)
(arXiv 2507.17842, section 3). `score_completion` returns every part but s(r), which needs the
policy's logits; `self_certainty_reward` turns the per-sequence s(r) that the trainer computes into
the `alpha * s` term under the same rule (0 for an invalid completion).

>>> score_completion(
...     '{"rationale": "Reviews first.", "action": {"type": "click", "name": "refinements.customer_reviews"}}',
...     {"type": "click", "name": "add_to_cart.buy_now"},
... ).total
1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from shop_r1.data.jsonl import decode_json
from shop_r1.parsing import ParsedOutput, parse_completion
from shop_r1.rewards.action import action_reward, exact_match
from shop_r1.rewards.config import RewardConfig
from shop_r1.rewards.format import format_reward
from shop_r1.schema import Action, SchemaError

__all__ = ["GoldAction", "RewardBreakdown", "coerce_gold", "score_completion", "score_parsed", "self_certainty_reward"]

# An `Action`, its dict (a `None` value = absent, as Arrow struct columns fill missing keys), or its JSON text.
GoldAction = Action | Mapping[str, Any] | str

_DEFAULT = RewardConfig()


@dataclass(frozen=True, slots=True)
class RewardBreakdown:
    """Every part of one completion's reward, self-certainty excepted.

    `action` = `type` + `attribute` + `value` (v(a)) and `total` = `format` + `action`. Under the binary
    action reward (`RewardConfig.binary_action`) `action` is the exact-match payoff and the three
    hierarchical parts are reported as 0. `exact_match` is the evaluation's test, whatever the mode.
    """

    valid: bool
    format: float = 0.0
    type: float = 0.0
    attribute: float = 0.0
    value: float = 0.0
    action: float = 0.0
    total: float = 0.0
    exact_match: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


INVALID = RewardBreakdown(valid=False)


def coerce_gold(gold: GoldAction) -> Action:
    """The gold action as an `Action`; raises `SchemaError` when it is missing or malformed."""
    if isinstance(gold, Action):
        return gold
    if isinstance(gold, str):
        try:
            gold = decode_json(gold)  # the shared rules: a 100,000-deep gold is an error, not a RecursionError
        except ValueError as err:
            raise SchemaError("gold_action", str(err)) from None
    try:
        return Action.from_dict(gold)
    except SchemaError as err:
        raise err.nested("gold_action") from None


def score_parsed(parsed: ParsedOutput | None, gold: Action, config: RewardConfig = _DEFAULT) -> RewardBreakdown:
    """Score an already parsed completion (`None` = invalid format)."""
    if parsed is None:
        return INVALID
    fmt = format_reward(parsed, config)
    action, parts = action_reward(parsed.action, gold, config=config)
    return RewardBreakdown(
        valid=True,
        format=fmt,
        type=parts.type,
        attribute=parts.attribute,
        value=parts.value,
        action=action,
        total=fmt + action,
        exact_match=exact_match(parsed.action, gold, config.exact_match_threshold, tokenizer=config.rouge_tokenizer),
    )


def score_completion(completion: str, gold: GoldAction, config: RewardConfig = _DEFAULT) -> RewardBreakdown:
    """Parse and score one completion. Never raises on the completion; raises `SchemaError` on a bad gold.

    Args:
        completion (`str`): the model's raw output.
        gold (`Action`, `dict` or `str`): the gold action, see `GoldAction`.
        config (`RewardConfig`, *optional*): defaults to the paper's constants.
    """
    gold_action = coerce_gold(gold)
    return score_parsed(parse_completion(completion, config.parse_config), gold_action, config)


def self_certainty_reward(
    self_certainty: float | None, *, valid: bool, config: RewardConfig = _DEFAULT
) -> float | None:
    """The rationale reward `alpha * s(r)` from a sequence's self-certainty (see `self_certainty_math.self_certainty`).

    0.0 for an invalid completion (nothing is paid without the format) or with self-certainty switched
    off; `None` ("cannot score", TRL leaves the term out) when `s` is missing or not finite.

    >>> self_certainty_reward(2.0, valid=True)
    0.01
    >>> self_certainty_reward(2.0, valid=False)
    0.0
    """
    if not valid or not config.use_self_certainty:
        return 0.0
    if self_certainty is None or not math.isfinite(self_certainty):
        return None
    return config.alpha * float(self_certainty)
