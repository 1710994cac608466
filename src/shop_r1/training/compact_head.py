"""Project only the labelled positions through the LM head, on every device (TRL does so only on Triton ones).

TRL 1.16's fused LM head (`trl.trainer.utils.add_fused_lm_head`, used by both `SFTTrainer` and
`GRPOTrainer`) turns hidden states into per-token log-probabilities in vocabulary tiles. On CUDA/XPU it
first keeps only the positions whose label is not -100; elsewhere it projects *every* position, because on
compiled backends a changing number of positions would change the tile shapes and recompile. Eager CPU
execution has no such cost, and our sequences are mostly prompt: an SFT step row or a GRPO rollout is
~1,000 tokens of page and history against ~60 of answer (the loss falls on the answer only, paper section
3.1 and Eq. 1). Projecting the prompt positions too spends the LM head's forward and backward (49k-way on
SmolLM2, a fifth of the model's FLOPs per position) and its entropy and top-1 metrics on values that are
then zeroed. `benchmarks/train_step.py` times both paths on the same rows.

The result is the same tensor: TRL scatters the kept positions back into a zero-filled (batch, length)
tensor in the compact path and masks the full one in the other (`tests/unit/test_compact_head.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# The name TRL's fused forward looks up at call time to decide between the two paths (checked by
# `tests/unit/test_compact_head.py` against the pinned TRL source).
_DECIDER = "_use_triton"


def _compact_everywhere(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def decide(device: Any) -> bool:
        return device.type == "cpu" or original(device)

    return decide


@contextmanager
def labelled_positions_only() -> Iterator[None]:
    """Inside the block, TRL's fused LM head projects only labelled positions on the CPU too.

    The vocabulary kernel itself (Triton or its torch tiles) is chosen separately by TRL and is unchanged.
    Not re-entrant across threads: it swaps a module attribute for the duration of a training run.
    """
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, _DECIDER)
    setattr(trl_utils, _DECIDER, _compact_everywhere(original))
    try:
        yield
    finally:
        setattr(trl_utils, _DECIDER, original)
