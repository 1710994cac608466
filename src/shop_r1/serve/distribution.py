"""Sampled next actions -> their distribution: what an A/B test of a page variant compares.

Shares are over all `n` samples, unparseable ones included, so the type shares and the parse-failure
share add up to 1. Whole actions are keyed by (type, name, text): two clicks on different elements are
different actions, while a type_and_submit's text must match exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shop_r1.parsing import ParsedOutput
from shop_r1.schema import ACTION_TYPES, ActionType, action_dict

__all__ = ["ActionDistribution", "action_distribution"]


@dataclass(frozen=True)
class ActionDistribution:
    """Counts over `n` samples. `actions` is ordered by count, ties in order of first appearance."""

    n: int
    parse_failures: int
    action_types: dict[str, int]
    actions: list[tuple[dict[str, str], int]]

    def to_dict(self) -> dict[str, Any]:
        def share(count: int) -> float:
            return count / self.n if self.n else 0.0

        return {
            "n": self.n,
            "parse_failures": self.parse_failures,
            "action_types": {kind: {"count": c, "share": share(c)} for kind, c in self.action_types.items()},
            "actions": [{"action": action, "count": c, "share": share(c)} for action, c in self.actions],
        }


def action_distribution(samples: Sequence[ParsedOutput | None]) -> ActionDistribution:
    """Aggregate parsed samples (`None` = unparseable).

    >>> from shop_r1.parsing import parse_completion
    >>> texts = ['{"rationale": "a", "action": {"type": "terminate"}}', 'oops',
    ...          '{"rationale": "b", "action": {"type": "terminate"}}']
    >>> d = action_distribution([parse_completion(t) for t in texts])
    >>> d.parse_failures, d.action_types, d.actions
    (1, {'click': 0, 'type_and_submit': 0, 'terminate': 2}, [({'type': 'terminate'}, 2)])
    """
    parsed = [sample for sample in samples if sample is not None]
    types = Counter(sample.action.type.value for sample in parsed)
    keys: Counter[tuple[ActionType, str | None, str | None]] = Counter(
        (sample.action.type, sample.action.name, sample.action.text) for sample in parsed
    )
    return ActionDistribution(
        n=len(samples),
        parse_failures=len(samples) - len(parsed),
        action_types={kind: types[kind] for kind in ACTION_TYPES},
        actions=[(action_dict(*key), count) for key, count in keys.most_common()],
    )
