"""One prefill per distinct prompt when `generate` samples several completions of the same prompt.

GRPO samples G completions per prompt (paper section 3.3: the group whose rewards are normalised into
advantages), and TRL 1.16 passes `transformers.generate` the prompt repeated G times, so the prompt, by far
the longest part of a rollout here (~1,000 tokens of page against at most 64 generated), is processed G
times. Inside `shared_prompt_prefill(model)`, `model.generate` runs the backbone once over each distinct
prompt (all but its last token), copies the key/value cache to every row that repeats it, and lets
`generate` continue from there: the same positions, masks and sampling, with 1/G of the prompt FLOPs.
`shop-r1 grpo` and `shop-r1 simulate` use it; `benchmarks/rollout_prefill.py` times it against the
stock path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch


def distinct_rows(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(index of each distinct (ids, mask) row in first-seen order, map from every row to its distinct one).

    >>> ids = torch.tensor([[0, 5, 6], [7, 8, 9], [0, 5, 6]]); mask = torch.tensor([[0, 1, 1], [1, 1, 1], [0, 1, 1]])
    >>> [t.tolist() for t in distinct_rows(ids, mask)]
    [[0, 1], [0, 1, 0]]
    """
    position: dict[tuple[int, ...], int] = {}
    firsts: list[int] = []
    inverse: list[int] = []
    for row, key in enumerate(map(tuple, torch.cat([input_ids, attention_mask], dim=1).tolist())):
        if key not in position:
            position[key] = len(firsts)
            firsts.append(row)
        inverse.append(position[key])
    return torch.tensor(firsts, dtype=torch.long), torch.tensor(inverse, dtype=torch.long)


def _prefilled_cache(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any | None:
    """The key/value cache of every row's prompt but its last token, computed once per distinct row; None when
    no row repeats (or the model has no separate backbone to run)."""
    from transformers import DynamicCache, PreTrainedModel

    if not isinstance(model, PreTrainedModel):  # e.g. a PEFT wrapper, whose `base_model` is not the backbone
        return None
    unique, inverse = distinct_rows(input_ids, attention_mask)
    backbone = model.base_model
    if len(unique) == len(input_ids) or backbone is model:
        return None
    ids, mask = input_ids[unique][:, :-1], attention_mask[unique][:, :-1]
    # Positions as `generate` derives them from a left-padded mask, so the cached keys are the ones it would make.
    position_ids = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        backbone(input_ids=ids, attention_mask=mask, position_ids=position_ids, cache=cache, use_cache=True)
    cache.batch_select_indices(inverse.to(ids.device))
    return cache


@contextmanager
def shared_prompt_prefill(model: Any) -> Iterator[None]:
    """Inside the block, `model.generate(input_ids=..., attention_mask=...)` prefills each distinct prompt once.

    Calls that bring their own cache, inputs embeddings or single-token prompts go to `generate` unchanged.
    """
    original = model.generate
    had_instance_attribute = "generate" in vars(model)

    def generate(*args: Any, **kwargs: Any) -> Any:
        input_ids, attention_mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
        brings_cache = kwargs.get("cache") is not None or kwargs.get("past_key_values") is not None
        if args or input_ids is None or attention_mask is None or brings_cache or input_ids.size(1) < 2:
            return original(*args, **kwargs)
        cache = _prefilled_cache(model, input_ids, attention_mask)
        if cache is None:
            return original(*args, **kwargs)
        return original(*args, **kwargs, cache=cache)

    model.generate = generate
    try:
        yield
    finally:
        if had_instance_attribute:
            model.generate = original
        else:
            del model.generate
