"""Sampling whose random draws belong to the row, not to the batch it happens to sit in.

`model.generate(do_sample=True)` draws every row's next token from torch's one global RNG, so what a
row samples depends on which other rows share its batch, and in which order. A rerun of the same batch
repeats itself, but the same step scored alone, or the same visit simulated beside different visits
(the two arms of an A/B test meet different batches once one arm's visits end earlier), samples
differently for no reason of its own.

Here every row owns a `torch.Generator` seeded from its key, and decoding runs as greedy over
perturbed scores: with `G` standard Gumbel noise, `argmax(logits / T + G)` is distributed exactly as a
draw from `softmax(logits / T)` (the Gumbel-max trick), and top-p filtering first sets the tokens outside
the nucleus to `-inf`. So each row's tokens are a function of its prompt, its seed and the model alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, TopPLogitsWarper

__all__ = ["RowSeededSampler"]


class RowSeededSampler(LogitsProcessor):
    """Turn greedy decoding into temperature / top-p sampling with one seeded generator per batch row.

    Args:
        seeds (`Sequence[int]`): one seed per row, in batch order.
        temperature (`float`): softmax temperature (> 0).
        top_p (`float`, *optional*, defaults to 1.0): nucleus mass; 1.0 keeps every token.

    Each call draws one uniform per vocabulary entry from each row's generator, so a row's t-th token
    always uses its generator's t-th draw, whatever the other rows do (rows that have stopped still draw).
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float = 1.0) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        self.seeds = list(seeds)
        self.temperature = temperature
        self.top_p = top_p
        self._generators: list[torch.Generator] | None = None

    def _rows(self, device: torch.device) -> list[torch.Generator]:
        # Created at the first step so they live on the scores' device (a CUDA draw needs a CUDA generator).
        if self._generators is None:
            self._generators = [torch.Generator(device=device).manual_seed(seed) for seed in self.seeds]
        return self._generators

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        if scores.shape[0] != len(self.seeds):
            raise ValueError(f"the batch has {scores.shape[0]} rows but {len(self.seeds)} seeds were given")
        scores = scores.float() / self.temperature  # (B, V)
        if self.top_p < 1.0:
            scores = TopPLogitsWarper(self.top_p)(input_ids, scores)
        vocab, device = scores.shape[-1], scores.device
        uniform = torch.stack([torch.rand(vocab, generator=g, device=device) for g in self._rows(device)])  # (B, V)
        # rand is in [0, 1): the floor keeps log finite, and the largest uniform below 1 gives noise ~16.6.
        gumbel = -torch.log(-torch.log(uniform.clamp_min(torch.finfo(torch.float32).tiny)))  # (B, V)
        return scores + gumbel
