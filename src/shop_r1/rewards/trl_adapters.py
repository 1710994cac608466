"""Thin TRL adapters: the pure Shop-R1 scorers behind `GRPOTrainer`'s reward-function contract.

TRL 1.16 calls every reward function as `f(prompts=..., completions=..., completion_ids=...,
**dataset_columns, trainer_state=..., log_extra=..., log_metric=...)` and logs each one's mean under
`rewards/<__name__>/mean`; the rewards are then summed with `reward_weights`. So each component of
the Shop-R1 reward is its own function: with weights 1, `format_reward + action_reward` equals
`score_completion(...).total`, and the trainer's `rationale_reward` adds `alpha * s(r)`.

- The gold action arrives in the `gold_action` column as an `Action`, a dict (Arrow struct columns
  fill missing keys with `None`, read as absent) or a JSON string.
- Return `None` for a sample that cannot be scored (gold missing or malformed: TRL leaves the term
  out) and `0.0` when the model is wrong (malformed completion).
- Completions are strings or conversational message lists (`[{"role": "assistant", "content": ...}]`).
- Callable classes rather than closures, so the rewards stay picklable; `__name__`s are public API
  (dashboard keys): keep them stable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shop_r1.parsing import ParsedOutput, parse_completion
from shop_r1.rewards.action import action_reward, binary_action_score
from shop_r1.rewards.config import RewardConfig
from shop_r1.rewards.format import format_reward
from shop_r1.rewards.score import coerce_gold, self_certainty_reward
from shop_r1.schema import Action, ActionType, SchemaError

__all__ = [
    "ActionReward",
    "BinaryActionReward",
    "FormatReward",
    "RationaleReward",
    "completion_text",
    "rollout_stats",
]

LogMetric = Callable[[str, float], None]


def completion_text(completion: Any) -> str | None:
    """The text of a TRL completion (a string, or the last message of a conversation); `None` if there is none."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        content = completion[-1].get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, Sequence):  # content parts: [{"type": "text", "text": ...}, ...]
            parts = [p.get("text") for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
            if all(isinstance(p, str) for p in parts):
                return "".join(parts)
    return None


def rollout_stats(parsed: Sequence[ParsedOutput | None]) -> dict[str, float]:
    """Share of unparseable completions and of each predicted action type, over all completions of a batch."""
    total = max(len(parsed), 1)
    stats = {"parse_failure_rate": sum(p is None for p in parsed) / total}
    for kind in ActionType:
        share = sum(p is not None and p.action.type is kind for p in parsed) / total
        stats[f"rollout_type_share/{kind.value}"] = share
    return stats


def _gold_or_none(gold: Any) -> Action | None:
    if gold is None:
        return None
    try:
        return coerce_gold(gold)
    except SchemaError:
        return None


class _ShopR1Reward:
    """Shared plumbing: parse every completion, resolve every gold action, log the batch's rollout stats once."""

    __name__ = "shop_r1_reward"

    def __init__(self, config: RewardConfig | None = None, *, log_stats: bool = True) -> None:
        self.config = config if config is not None else RewardConfig()
        self.log_stats = log_stats

    def _prepare(
        self, completions: Sequence[Any], gold_action: Sequence[Any] | None, log_metric: LogMetric | None
    ) -> list[tuple[ParsedOutput | None, Action | None]]:
        if gold_action is None:
            # A programmer error, not a model error: fail before any reward is computed.
            raise ValueError(
                f"reward {self.__name__!r} needs a `gold_action` dataset column (one gold action per prompt)"
            )
        parse_config = self.config.parse_config
        parsed = [parse_completion(completion_text(c), parse_config) for c in completions]
        if log_metric is not None and self.log_stats and parsed:
            for key, value in rollout_stats(parsed).items():
                log_metric(key, value)
        return list(zip(parsed, (_gold_or_none(g) for g in gold_action), strict=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


class FormatReward(_ShopR1Reward):
    """`format_reward`: `RewardConfig.format_reward` (0.5) for a well-formed completion, else 0."""

    __name__ = "format_reward"

    def __call__(
        self,
        completions: Sequence[Any],
        gold_action: Sequence[Any] | None = None,
        log_metric: LogMetric | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        return [
            None if gold is None else format_reward(parsed, self.config)
            for parsed, gold in self._prepare(completions, gold_action, log_metric)
        ]


class ActionReward(_ShopR1Reward):
    """`action_reward`: hierarchical v(a) (binary under `binary_action`); 0 for an invalid completion."""

    __name__ = "action_reward"

    def __call__(
        self,
        completions: Sequence[Any],
        gold_action: Sequence[Any] | None = None,
        log_metric: LogMetric | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        out: list[float | None] = []
        for parsed, gold in self._prepare(completions, gold_action, log_metric):
            if gold is None:
                out.append(None)
            else:
                out.append(0.0 if parsed is None else action_reward(parsed.action, gold, config=self.config)[0])
        return out


class BinaryActionReward(_ShopR1Reward):
    """`action_binary_reward`: `binary_reward` (1) for an exact match, else 0 (the RL (Binary) baselines)."""

    __name__ = "action_binary_reward"

    def __call__(
        self,
        completions: Sequence[Any],
        gold_action: Sequence[Any] | None = None,
        log_metric: LogMetric | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        out: list[float | None] = []
        for parsed, gold in self._prepare(completions, gold_action, log_metric):
            if gold is None:
                out.append(None)
            else:
                out.append(0.0 if parsed is None else binary_action_score(parsed.action, gold, config=self.config))
        return out


class RationaleReward(_ShopR1Reward):
    """`rationale_reward`: `alpha * s(r)` from the `self_certainty` column the trainer adds; 0 if invalid."""

    __name__ = "rationale_reward"

    def __init__(self, config: RewardConfig | None = None, *, log_stats: bool = False) -> None:
        super().__init__(config, log_stats=log_stats)

    def __call__(
        self,
        completions: Sequence[Any],
        gold_action: Sequence[Any] | None = None,
        self_certainty: Sequence[float | None] | None = None,
        log_metric: LogMetric | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        if self_certainty is None:
            raise ValueError(
                "reward 'rationale_reward' needs a `self_certainty` value per completion; the Shop-R1 GRPO trainer "
                "adds it to every row before the rewards are computed"
            )
        return [
            None if gold is None else self_certainty_reward(score, valid=parsed is not None, config=self.config)
            for (parsed, gold), score in zip(
                self._prepare(completions, gold_action, log_metric), self_certainty, strict=True
            )
        ]
