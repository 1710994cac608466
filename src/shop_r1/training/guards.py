"""Skip optimizer steps whose gradients are not finite, instead of writing NaN into the weights.

One NaN gradient element, after clipping (whose norm is then NaN too), turns every weight it touches into
NaN; the next GRPO rollout then dies inside sampling with a CUDA assert ("probability tensor contains
either inf, nan or element < 0"), far from the cause. This happened on an H100 in 2 of 3 seeds of the
medium demo with bf16 weights. The guard drops such a step's gradients (`grad = None`, so AdamW leaves the
parameter and its moments alone), logs `nonfinite_grad_steps`, and stops the run with a clear error
after `max_consecutive` skipped steps in a row, when training has clearly diverged.

Under DeepSpeed the engine owns the gradients (`p.grad` is None here) and the guard does nothing. Under
fp16 mixed precision the gradient scaler owns overflow handling: infinite gradients there are how it
finds its scale, and it skips those steps itself, so the guard stands aside.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from transformers import TrainerCallback

from shop_r1.errors import ShopR1Error

logger = logging.getLogger(__name__)

SKIPPED_KEY = "nonfinite_grad_steps"


def gradients_finite(parameters: Iterable[Any]) -> bool:
    """Whether every gradient present is finite (one device sync for the whole model)."""
    import torch

    flags = [torch.isfinite(p.grad).all() for p in parameters if p.grad is not None]
    return bool(torch.stack(flags).all()) if flags else True


def drop_gradients(parameters: Iterable[Any]) -> None:
    for parameter in parameters:
        parameter.grad = None


class NonFiniteGradientGuard(TrainerCallback):
    """A `TrainerCallback` that skips optimizer steps with NaN/inf gradients (see the module docstring)."""

    def __init__(self, max_consecutive: int = 3) -> None:
        if max_consecutive < 1:
            raise ValueError(f"max_consecutive must be at least 1, got {max_consecutive}")
        self.max_consecutive = max_consecutive
        self.skipped = 0
        self.consecutive = 0

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if model is None or getattr(args, "fp16", False):
            return
        if gradients_finite(model.parameters()):
            self.consecutive = 0
            return
        drop_gradients(model.parameters())
        self.skipped += 1
        self.consecutive += 1
        logger.warning("step %d: non-finite gradients; skipped this update (%d skipped so far)",
                       state.global_step + 1, self.skipped)
        if self.consecutive >= self.max_consecutive:
            raise ShopR1Error(
                f"training diverged: {self.consecutive} optimizer steps in a row had non-finite gradients "
                f"(up to step {state.global_step + 1}); lower the learning rate, or train with float32 weights "
                "(--dtype auto) if you set bfloat16")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        # Trainer.log has just appended this entry; annotate it so the count lands in trainer_state.json.
        if logs is not None and state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1][SKIPPED_KEY] = self.skipped
