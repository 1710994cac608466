"""One prefill per distinct prompt when `generate` samples several completions of the same prompt.

GRPO samples G completions per prompt (paper section 3.3: the group whose rewards are normalised into
advantages), and TRL 1.16 passes `transformers.generate` the prompt repeated G times, so the prompt, by far
the longest part of a rollout here (~1,000 tokens of page against at most 64 generated), is processed G
times. Inside `shared_prompt_prefill(model)`, `model.generate` runs the backbone once over each distinct
prompt (all but its last token), copies the key/value cache to every row that repeats it, and lets
`generate` continue from there: the same positions, masks and sampling, with 1/G of the prompt FLOPs.
`shop-r1 grpo` and `shop-r1 simulate` use it; `benchmarks/rollout_prefill.py` times it against the
stock path.

`PromptPrefixCache` shares the other redundancy: different prompts that begin alike. Every prompt of this
task opens with the same system prompt (about 255 of an evaluation prompt's ~950 tokens with the SmolLM2
template), so `HFGenerator` prefills that prefix once, keeps its key/value cache, and lays each batch out
as prefix, then padding, then each row's own tokens (`prefix_layout`); `generate` continues from the
cached prefix with positions taken from the mask, so every real token sits where it would without the
cache. `benchmarks/predict.py --prefix` times it against the stock path.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
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


def has_backbone(model: Any) -> bool:
    """Whether `model` is a `transformers` model whose backbone can be run on its own (to fill a cache).

    A PEFT wrapper's `base_model` is not the backbone, and a stand-in model has none: both take the stock path.
    """
    from transformers import PreTrainedModel

    return isinstance(model, PreTrainedModel) and model.base_model is not model


def distinct_prompt_cache(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, *,
                          positions_from_mask: bool) -> Any | None:
    """The key/value cache of every row's prompt but its last token, computed once per distinct row and copied
    to the rows that repeat it; None when no row repeats or the model has no separate backbone.

    Runs with the caller's grad mode, so a training pass keeps the graph through the copies.
    `positions_from_mask`: positions as `generate` derives them from a left-padded mask; otherwise the
    model's own (every column counts, as in a training forward without `position_ids`).
    """
    from transformers import DynamicCache

    if not has_backbone(model):
        return None
    unique, inverse = distinct_rows(input_ids, attention_mask)
    if len(unique) == len(input_ids):
        return None
    unique, inverse = unique.to(input_ids.device), inverse.to(input_ids.device)
    ids, mask = input_ids[unique][:, :-1], attention_mask[unique][:, :-1]
    extra = {}
    if positions_from_mask:
        extra["position_ids"] = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    cache = DynamicCache(config=model.config)
    model.base_model(input_ids=ids, attention_mask=mask, cache=cache, use_cache=True, **extra)
    cache.batch_select_indices(inverse)  # indexing, so gradients flow back to the one computation
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
        with torch.no_grad():
            # The cached keys are the ones `generate` would make itself: positions from the mask.
            cache = distinct_prompt_cache(model, input_ids, attention_mask, positions_from_mask=True)
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


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Tokens that every row starts with, leaving each row at least its last token to run through the model.

    >>> common_prefix_length([[1, 2, 3, 4], [1, 2, 3, 9, 9], [1, 2, 7]])
    2
    >>> common_prefix_length([[1, 2, 3], [1, 2, 3]])  # identical rows keep their last token
    2
    """
    if not rows:
        return 0
    limit = min(len(row) for row in rows) - 1
    first = rows[0]
    length = 0
    while length < limit and all(row[length] == first[length] for row in rows):
        length += 1
    return max(length, 0)


def prefix_layout(rows: Sequence[Sequence[int]], prefix: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`input_ids`, `attention_mask` (B, T): the shared `prefix` tokens, then left padding, then each row's rest.

    The padding sits between the prefix and each row's own tokens, so that the cached prefix is the same
    for every row; positions follow the mask (`generate` counts only unmasked tokens), as with plain left
    padding, which is `prefix=0`.

    >>> ids, mask = prefix_layout([[1, 2, 3, 4], [1, 2, 5]], prefix=2, pad_id=0)
    >>> ids.tolist(), mask.tolist()
    ([[1, 2, 3, 4], [1, 2, 0, 5]], [[1, 1, 1, 1], [1, 1, 0, 1]])
    >>> prefix_layout([[1, 2, 3, 4], [1, 2, 5]], prefix=0, pad_id=0)[0].tolist()
    [[1, 2, 3, 4], [0, 1, 2, 5]]
    """
    width = prefix + max(len(row) - prefix for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)  # (B, T)
    for index, row in enumerate(rows):
        rest = len(row) - prefix
        input_ids[index, :prefix] = torch.tensor(row[:prefix], dtype=torch.long)
        input_ids[index, width - rest:] = torch.tensor(row[prefix:], dtype=torch.long)
        attention_mask[index, :prefix] = 1
        attention_mask[index, width - rest:] = 1
    return input_ids, attention_mask


class PromptPrefixCache:
    """The key/value cache of the latest shared prompt prefix, reused while batches keep starting with it.

    `cache_for(rows)` returns (prefix length, a fresh cache of that prefix for `len(rows)` rows), or
    (0, None) when sharing would not pay: a non-`transformers` model, a prefix shorter than `min_tokens`,
    or a single row that does not start with the kept prefix (its own prefill is no cheaper split in two).
    `prefills` counts how often the prefix itself was run.
    """

    def __init__(self, model: Any, min_tokens: int = 32) -> None:
        self.model = model
        self.min_tokens = min_tokens
        self.tokens: tuple[int, ...] = ()
        self._cache: Any = None
        self.prefills = 0
        self._supported = has_backbone(model)

    def cache_for(self, rows: Sequence[Sequence[int]]) -> tuple[int, Any]:
        if not rows or not self._supported:
            return 0, None
        shared = common_prefix_length(rows)
        kept = len(self.tokens)
        serves = self._cache is not None and kept <= shared and tuple(rows[0][:kept]) == self.tokens
        # A batch that shares clearly more than the kept prefix gets its own: one prefill of the longer
        # prefix saves it on every other row of the batch.
        if len(rows) > 1 and shared >= self.min_tokens and (not serves or shared >= kept + self.min_tokens):
            self._build(rows[0][:shared])
            length = shared
        elif serves and kept >= self.min_tokens:
            length = kept
        else:
            return 0, None
        cache = copy.deepcopy(self._cache)
        cache.batch_select_indices(torch.zeros(len(rows), dtype=torch.long, device=self.model.device))
        return length, cache

    def _build(self, prefix: Sequence[int]) -> None:
        from transformers import DynamicCache

        ids = torch.tensor([list(prefix)], dtype=torch.long, device=self.model.device)
        cache = DynamicCache(config=self.model.config)
        with torch.no_grad():
            self.model.base_model(input_ids=ids, attention_mask=torch.ones_like(ids), cache=cache, use_cache=True)
        self.tokens, self._cache = tuple(prefix), cache
        self.prefills += 1
