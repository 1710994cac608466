"""Subsample RL steps toward the paper's near-uniform action-type mix (Shop-R1, section 2).

Real and synthetic logs are click-heavy; the paper's RL data had click and type_and_submit each
about 10% more frequent than terminate. `rebalance_steps` keeps every item of the scarcest type
(relative to its target ratio) and a seeded random subset of the others, in their original order.

    >>> items = [("s1", 0, "click"), ("s1", 1, "click"), ("s1", 2, "click"), ("s1", 3, "type_and_submit"),
    ...          ("s1", 4, "terminate")]
    >>> [i[1] for i in rebalance_steps(items, key=lambda i: i[2], seed=0)]
    [1, 3, 4]
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

__all__ = ["PAPER_RATIOS", "rebalance_steps"]

T = TypeVar("T")
PAPER_RATIOS: Mapping[str, float] = {"click": 1.1, "type_and_submit": 1.1, "terminate": 1.0}


def rebalance_steps(
    items: Sequence[T],
    key: Callable[[T], str],
    seed: int,
    *,
    ratios: Mapping[str, float] = PAPER_RATIOS,
) -> list[T]:
    """Items subsampled so that the counts per `key(item)` follow `ratios` as closely as possible.

    Types absent from `ratios` are dropped; a type with no items at all is ignored (the others are
    still balanced among themselves). The result keeps the input order.
    """
    if any(r <= 0 for r in ratios.values()):
        raise ValueError(f"ratios must be positive, got {dict(ratios)}")
    by_type: dict[str, list[int]] = {name: [] for name in ratios}
    for index, item in enumerate(items):
        name = key(item)
        if name in by_type:
            by_type[name].append(index)
    present = {name: indices for name, indices in by_type.items() if indices}
    if not present:
        return []
    unit = min(len(indices) / ratios[name] for name, indices in present.items())
    rng = random.Random(seed)
    kept: list[int] = []
    for name in ratios:  # a fixed order, so the random draws do not depend on dict history
        indices = present.get(name, [])
        target = min(len(indices), round(unit * ratios[name]))
        kept.extend(rng.sample(indices, target))
    return [items[i] for i in sorted(kept)]
